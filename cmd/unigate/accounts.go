package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"

	"unigate/accounts"
)

// maxStdinPassword bounds what is read from stdin: far above any valid
// password, so that a longer one is reported as too long, not truncated.
const maxStdinPassword = 4 << 10

// accounts runs "accounts create".
func (c *cli) accounts(ctx context.Context, args []string) error {
	const synopsis = "create|show|disable|enable|unlock --email E [--password-stdin] [--json] [--config FILE]"
	if len(args) == 0 || isHelp(args[0]) {
		if len(args) > 0 {
			fmt.Fprintf(c.stdout, "usage: unigate accounts %s\n", synopsis)
			return nil
		}
		return usageErrorf("accounts: want a subcommand: unigate accounts %s", synopsis)
	}
	switch args[0] {
	case "create":
	case "show":
		return c.accountsShow(ctx, args[1:])
	case "disable", "enable":
		return c.accountsSetDisabled(ctx, args[1:], args[0] == "disable")
	case "unlock":
		return c.accountsUnlock(ctx, args[1:])
	default:
		return usageErrorf("accounts: unknown subcommand %q: want unigate accounts %s", args[0], synopsis)
	}
	fs := c.flagSet("accounts create", "--email E --password-stdin [--config FILE]",
		"Create one unified account, email verified, with a new account in each configured console.\n"+
			"The password is read from standard input; one trailing newline is dropped. Prints the account id.")
	email := fs.String("email", "", "the account's `email` address")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from standard input (required)")
	path := fs.String("config", defaultConfig, "configuration `FILE`")
	if err := c.parse(fs, args[1:]); err != nil {
		return err
	}
	switch {
	case *email == "":
		return usageErrorf("accounts create: --email is required")
	case !*passwordStdin:
		// A password in argv is visible to every user through ps and lands
		// in shell history.
		return usageErrorf("accounts create: --password-stdin is required: the password is read from standard input, never from the command line")
	}
	addr, err := accounts.NormalizeEmail(*email)
	if err != nil {
		return usageErrorf("accounts create: --email: %v", err)
	}
	cfg, err := c.loadConfig(*path)
	if err != nil {
		return err
	}
	password, err := readPassword(c.stdin)
	if err != nil {
		return fmt.Errorf("accounts create: reading the password from stdin: %w", err)
	}
	if err := checkPassword(password, cfg.Login.PasswordMinLength); err != nil {
		return usageErrorf("accounts create: %v", err)
	}

	store, err := accounts.Open(ctx, cfg.Accounts.Driver, cfg.Accounts.DSN)
	if err != nil {
		return fmt.Errorf("accounts create: %w", err)
	}
	defer store.Close()
	hash, err := accounts.NewHasher(1).Hash(ctx, password)
	if err != nil {
		return fmt.Errorf("accounts create: %w", err)
	}
	a := &accounts.Account{Email: addr, EmailVerified: true, PasswordHash: hash}
	// One account in each console, as sign-up makes (DESIGN.md); the
	// console learns of it through the identity headers.
	consoles := make([]accounts.ConsoleAccount, len(cfg.Consoles))
	for i, con := range cfg.Consoles {
		consoles[i] = accounts.ConsoleAccount{Console: con.ID, ExternalID: uuid.NewString()}
	}
	switch err := store.CreateAccount(ctx, a, consoles); {
	case errors.Is(err, accounts.ErrEmailTaken):
		return errors.New("accounts create: email already in use")
	case err != nil:
		return fmt.Errorf("accounts create: %w", err)
	}
	fmt.Fprintln(c.stdout, a.ID)
	return nil
}

// readPassword reads the password from r and drops exactly one trailing
// newline ("\n" or "\r\n"), the one echo and here-strings add: every other
// byte is part of the password.
func readPassword(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxStdinPassword+1))
	if err != nil {
		return "", err
	}
	s := string(b)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	return s, nil
}

// checkPassword applies the password policy (accounts.CheckPassword: NIST SP
// 800-63B §3.1.1.2) and says in words what is wrong.
func checkPassword(pw string, minLength int) error {
	switch err := accounts.CheckPassword(pw, minLength); {
	case err == nil:
		return nil
	case errors.Is(err, accounts.ErrPasswordInvalid):
		return errors.New("the password is not valid UTF-8")
	case errors.Is(err, accounts.ErrPasswordTooLong):
		return fmt.Errorf("the password is longer than %d bytes", accounts.MaxPasswordBytes)
	case errors.Is(err, accounts.ErrPasswordTooShort):
		return fmt.Errorf("the password is shorter than %d characters (login.password_min_length)", minLength)
	case errors.Is(err, accounts.ErrCommonPassword):
		return errors.New("the password is among the 100,000 most common ones")
	default:
		return err
	}
}
