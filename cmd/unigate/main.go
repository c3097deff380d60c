// Command unigate is the authentication gateway in front of the consoles
// (DESIGN.md). It is wiring only: each subcommand parses its flags, loads
// the configuration and hands over to the packages that do the work.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// SIGTERM ends serve gracefully (CONTRACT §7): the context is cancelled,
	// the server stops accepting and drains within shutdown_grace.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program with its surroundings passed in, so that tests
// call it as main does. It returns the exit status: 0 success, 1 runtime
// failure, 2 usage or configuration error (CONTRACT §1).
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	return c.exit(c.dispatch(ctx, args))
}

// cli is what every subcommand may use from its surroundings.
type cli struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// dispatch runs the subcommand named by args[0].
func (c *cli) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return errUsageShown
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return c.serve(ctx, rest)
	case "check-config":
		return c.checkConfig(rest)
	case "demo":
		return c.demo(ctx, rest)
	case "keys":
		return c.keys(rest)
	case "accounts":
		return c.accounts(ctx, rest)
	case "sessions":
		return c.sessions(ctx, rest)
	case "unify":
		return c.unify(ctx, rest)
	case "version":
		return c.version(rest)
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" {
			// "unigate help keys" is "unigate keys -h".
			return c.dispatch(ctx, append(rest[:1:1], "-h"))
		}
		fmt.Fprint(c.stdout, usage)
		return nil
	}
	return usageErrorf("unknown command %q (run \"unigate help\")", cmd)
}

const usage = `usage: unigate <command> [flags]

commands:
  serve [--config FILE]                  run the gateway (default ./config.yaml)
  check-config [--config FILE]           validate the configuration; print every problem
  demo [--listen ADDR]                   run a self-contained demo (memory sessions, SQLite,
                                         two demo consoles, portal on account.localhost)
  keys generate --dir DIR                write session.key and signing.pem (mode 0600)
  accounts create --email E --password-stdin [--config FILE]
                                         create one unified account with an account in
                                         each console; the password is read from stdin
  accounts show|disable|enable --email E [--json] [--config FILE]
                                         look an account up; disable it (its sessions end
                                         everywhere) or enable it again
  sessions revoke --email E [--json] [--config FILE]
                                         end every session of an account
  unify --dedibox FILE --scaleway FILE [--dry-run] [--report FILE] [--config FILE]
                                         unify the Dedibox and Scaleway exports into the
                                         account store (exit 1 if lines were rejected)
  unify resend-notice --email E [--json] [--config FILE]
                                         queue an account's unification notice again
  unify verify --dedibox FILE --scaleway FILE [--config FILE]
                                         prove every source record is accounted for
  unify announce --dedibox FILE --scaleway FILE [--date YYYY-MM-DD] [--dry-run]
                 [--report FILE] [--config FILE]
                                         before the unification: queue the "upcoming
                                         change" email of every future unified account
  version                                print version and build information
  help [COMMAND]                         print this help, or a command's flags

Every configuration key can be overridden by an environment variable:
UNIGATE_ + its path in upper case (UNIGATE_SESSION_REDIS_URL); see config.yaml.

Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.
`
