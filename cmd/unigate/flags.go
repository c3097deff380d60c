package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// defaultConfig is where serve, check-config and accounts look without
// --config (CONTRACT §1).
const defaultConfig = "config.yaml"

// flagSet returns a FlagSet for one subcommand. synopsis follows
// "usage: unigate <name> ".
func (c *cli) flagSet(name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package prints the full usage on every error; a usage error
	// must be one line, so parse prints nothing and we say what we want.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(c.stdout, "usage: unigate %s %s\n\n%s\n", name, synopsis, about)
		fs.SetOutput(c.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args into fs. -h prints the command's usage to stdout and
// returns flag.ErrHelp (exit 0); any other mistake is a one-line usage
// error. No subcommand takes positional arguments.
func (c *cli) parse(fs *flag.FlagSet, args []string) error {
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage()
		return err
	case err != nil:
		return usageErrorf("%s: %v (run \"unigate %s -h\")", fs.Name(), err, fs.Name())
	case fs.NArg() > 0:
		return usageErrorf("%s: unexpected argument %q (run \"unigate %s -h\")", fs.Name(), fs.Arg(0), fs.Name())
	}
	return nil
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}
