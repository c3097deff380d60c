package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with the configuration. Key is the path of the
// key in the file ("consoles[1].upstream", "session.handoff_ttl"), the name
// of an environment variable, or "" for the file as a whole.
type Problem struct {
	Key string
	Msg string
}

// String renders the problem as check-config prints it (CONTRACT §1).
func (p Problem) String() string {
	if p.Key == "" {
		return "config: " + p.Msg
	}
	return "config: " + p.Key + ": " + p.Msg
}

// Problems is every problem found, in file order. Load and Validate return it
// as their error so that an operator fixes the whole file in one pass instead
// of one restart per mistake.
type Problems []Problem

// Error renders one line per problem, without a trailing newline.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// add records a problem; format and args as fmt.Sprintf.
func (ps *Problems) add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// err returns ps as an error, or a nil error (not a typed nil) when empty.
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}
