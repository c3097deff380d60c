package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// usageError is a wrong command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errUsageShown: the usage text is already on stderr; exit 2 and say no more.
var errUsageShown = errors.New("usage shown")

// configError is a configuration that cannot be loaded or is invalid: exit
// status 2. Its message is already "config: <key>: <problem>" lines.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// exit prints err the way CONTRACT §1 asks (one line per error on stderr, no
// stack trace) and returns the exit status for it.
func (c *cli) exit(err error) int {
	var uerr *usageError
	var cerr *configError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsageShown):
		return 2
	case errors.As(err, &uerr):
		fmt.Fprintf(c.stderr, "unigate: %s\n", oneLine(uerr.msg))
		return 2
	case errors.As(err, &cerr):
		fmt.Fprintln(c.stderr, cerr.err)
		return 2
	default:
		fmt.Fprintf(c.stderr, "unigate: %s\n", oneLine(err.Error()))
		return 1
	}
}

// oneLine keeps a message on one line whatever a wrapped error holds.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}
