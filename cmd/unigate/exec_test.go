package main

import (
	"os/exec"
	"testing"
)

func execCommand(tb testing.TB, name string, args ...string) *exec.Cmd {
	tb.Helper()
	return exec.CommandContext(tb.Context(), name, args...)
}
