package sessiontest_test

import (
	"testing"

	"unigate/session"
	"unigate/session/sessiontest"
)

// TestRun is how a store written outside package session runs the suite:
// here the memory store on the real clock, through Run alone.
func TestRun(t *testing.T) {
	t.Parallel()
	sessiontest.Run(t, func(t *testing.T) session.Store { return session.NewMemoryStore(nil) })
}
