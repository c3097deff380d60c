package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// result is what one run of the program left behind.
type result struct {
	code           int
	stdout, stderr string
}

// runUnigate calls run as main would, with env as the whole environment and
// stdin as standard input.
func runUnigate(tb testing.TB, env map[string]string, stdin string, args ...string) result {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(name string) string { return env[name] }
	code := run(context.Background(), args, getenv, strings.NewReader(stdin), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// mustConfig writes a valid configuration (SQLite account store in dir,
// memory sessions, keys from generateKeys) plus extra top-level YAML, and
// returns its path.
func mustConfig(tb testing.TB, dir, extra string) string {
	tb.Helper()
	keys, err := generateKeys(filepath.Join(dir, "keys"))
	if err != nil {
		tb.Fatal(err)
	}
	y := fmt.Sprintf(`public_url: "http://account.localhost:8080"
secrets:
  session_key_file: %q
  signing_key_file: %q
session:
  store: memory
accounts:
  driver: sqlite
  dsn: %q
consoles:
  - id: dedibox
    hosts: [dedibox.localhost]
    upstream: "http://127.0.0.1:9001"
  - id: scaleway
    hosts: [scaleway.localhost]
    upstream: "http://127.0.0.1:9002"
%s`, keys[0], keys[1], filepath.Join(dir, "accounts.db"), extra)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // exact
	}{
		{"no arguments", nil, 2, "", usage},
		{"help", []string{"help"}, 0, "usage: unigate <command>", ""},
		{"--help", []string{"--help"}, 0, "usage: unigate <command>", ""},
		{"help for a command", []string{"help", "check-config"}, 0, "usage: unigate check-config [--config FILE]", ""},
		{"help for keys", []string{"help", "keys"}, 0, "usage: unigate keys generate --dir DIR", ""},
		{"unknown command", []string{"frobnicate"}, 2, "",
			"unigate: unknown command \"frobnicate\" (run \"unigate help\")\n"},
		{"unify without files", []string{"unify", "--dedibox", "d.jsonl"}, 2, "",
			"unigate: unify: --dedibox and --scaleway are required (run \"unigate unify -h\")\n"},
		{"unify verify without files", []string{"unify", "verify"}, 2, "",
			"unigate: unify verify: --dedibox and --scaleway are required (run \"unigate unify verify -h\")\n"},
		{"unify missing file", []string{"unify", "--dedibox", "/nonexistent/d.jsonl", "--scaleway", "s.jsonl"}, 2, "",
			"unigate: unify: open /nonexistent/d.jsonl: no such file or directory\n"},
		{"unknown flag", []string{"check-config", "--confg", "x"}, 2, "",
			"unigate: check-config: flag provided but not defined: -confg (run \"unigate check-config -h\")\n"},
		{"flag without value", []string{"check-config", "--config"}, 2, "",
			"unigate: check-config: flag needs an argument: -config (run \"unigate check-config -h\")\n"},
		{"positional argument", []string{"check-config", "config.yaml"}, 2, "",
			"unigate: check-config: unexpected argument \"config.yaml\" (run \"unigate check-config -h\")\n"},
		{"command -h", []string{"accounts", "create", "-h"}, 0, "-password-stdin", ""},
		{"keys without subcommand", []string{"keys"}, 2, "",
			"unigate: keys: want a subcommand: unigate keys generate --dir DIR\n"},
		{"keys unknown subcommand", []string{"keys", "rotate"}, 2, "",
			"unigate: keys: unknown subcommand \"rotate\": want unigate keys generate --dir DIR\n"},
		{"keys without dir", []string{"keys", "generate"}, 2, "",
			"unigate: keys generate: --dir is required\n"},
		{"accounts without subcommand", []string{"accounts"}, 2, "",
			"unigate: accounts: want a subcommand: unigate accounts create|show|disable|enable|unlock --email E [--password-stdin] [--json] [--config FILE]\n"},
		{"version with argument", []string{"version", "now"}, 2, "",
			"unigate: version: unexpected argument \"now\" (run \"unigate version -h\")\n"},
		{"demo bad listen", []string{"demo", "--listen", "8080"}, 2, "",
			"unigate: demo: --listen: want host:port such as 127.0.0.1:8080, got \"8080\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runUnigate(t, nil, "", tt.args...)
			if r.code != tt.wantCode || !strings.Contains(r.stdout, tt.wantStdout) || r.stderr != tt.wantStderr {
				t.Errorf("unigate %q:\n%v\nwant exit %d, stdout containing %q, stderr %q", tt.args, r, tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	r := runUnigate(t, nil, "", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "unigate dev\ngo: go1.") || r.stderr != "" {
		t.Errorf("unigate version:\n%v\nwant exit 0 and \"unigate dev\" then the Go version", r)
	}
}

// TestVersionBuilt builds the binary with a version stamped in and runs it.
func TestVersionBuilt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "unigate")
	build := execCommand(t, "go", "build", "-ldflags", "-X main.version=1.2.3-test", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := execCommand(t, bin, "version").Output()
	if err != nil {
		t.Fatalf("unigate version: %v", err)
	}
	if !strings.HasPrefix(string(out), "unigate 1.2.3-test\n") || !strings.Contains(string(out), "module: unigate") {
		t.Errorf("unigate version printed:\n%s\nwant \"unigate 1.2.3-test\" and the module", out)
	}
	// An unknown command through the real binary: exit 2, one line, no trace.
	cmd := execCommand(t, bin, "frobnicate")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 2 || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("unigate frobnicate: exit %d (%v), stderr %q; want exit 2 and one line", code, err, stderr.String())
	}
}
