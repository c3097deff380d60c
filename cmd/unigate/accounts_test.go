package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"unigate/accounts"
)

func TestAccountsCreate(t *testing.T) {
	dir := t.TempDir()
	path := mustConfig(t, dir, "")
	r := runUnigate(t, nil, "correct horse battery\n", "accounts", "create", "--email", "  Alice@Example.COM ", "--password-stdin", "--config", path)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("accounts create:\n%v\nwant exit 0", r)
	}
	id := strings.TrimSpace(r.stdout)
	if _, err := uuid.Parse(id); err != nil {
		t.Errorf("stdout = %q, want the new account's id", r.stdout)
	}

	ctx := context.Background()
	store, err := accounts.Open(ctx, "sqlite", filepath.Join(dir, "accounts.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	a, err := store.AccountByEmail(ctx, "alice@example.com")
	if err != nil {
		t.Fatalf("AccountByEmail(normalised) = %v", err)
	}
	if a.ID != id || !a.EmailVerified {
		t.Errorf("account = %+v, want id %s and email verified", a, id)
	}
	assertPassword(t, a.PasswordHash, "correct horse battery")
	cas, err := store.ConsoleAccounts(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var consoles []string
	for _, ca := range cas {
		consoles = append(consoles, ca.Console)
		if _, err := uuid.Parse(ca.ExternalID); err != nil {
			t.Errorf("console account %s has external id %q, want a uuid", ca.Console, ca.ExternalID)
		}
	}
	if want := []string{"dedibox", "scaleway"}; !slices.Equal(consoles, want) {
		t.Errorf("console accounts %q, want %q", consoles, want)
	}

	// The same email again, in any spelling: refused, exit 1.
	r = runUnigate(t, nil, "another good password\n", "accounts", "create", "--email", "alice@example.com", "--password-stdin", "--config", path)
	if want := "unigate: accounts create: email already in use\n"; r.code != 1 || r.stderr != want {
		t.Errorf("accounts create twice:\n%v\nwant exit 1 and stderr %q", r, want)
	}
}

func TestAccountsCreatePasswordFromStdin(t *testing.T) {
	tests := []struct {
		name, stdin, want string
	}{
		{"newline dropped", "twelve chars!\n", "twelve chars!"},
		{"crlf dropped", "twelve chars!\r\n", "twelve chars!"},
		{"no newline", "twelve chars!", "twelve chars!"},
		{"only one newline dropped", "twelve chars!\n\n", "twelve chars!\n"},
		{"lone cr kept", "twelve chars!\r", "twelve chars!\r"},
		{"spaces kept", "  twelve chars  \n", "  twelve chars  "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := mustConfig(t, dir, "")
			r := runUnigate(t, nil, tt.stdin, "accounts", "create", "--email", "bob@example.com", "--password-stdin", "--config", path)
			if r.code != 0 {
				t.Fatalf("accounts create:\n%v", r)
			}
			ctx := context.Background()
			store, err := accounts.Open(ctx, "sqlite", filepath.Join(dir, "accounts.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			a, err := store.AccountByEmail(ctx, "bob@example.com")
			if err != nil {
				t.Fatal(err)
			}
			assertPassword(t, a.PasswordHash, tt.want)
		})
	}
}

func TestAccountsCreateRefuses(t *testing.T) {
	dir := t.TempDir()
	path := mustConfig(t, dir, "")
	tests := []struct {
		name       string
		stdin      string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no email", "a good long password\n", []string{"--password-stdin", "--config", path}, 2,
			"unigate: accounts create: --email is required\n"},
		{"no --password-stdin", "", []string{"--email", "a@example.com", "--config", path}, 2,
			"unigate: accounts create: --password-stdin is required: the password is read from standard input, never from the command line\n"},
		{"invalid email", "a good long password\n", []string{"--email", "a@@example.com", "--password-stdin", "--config", path}, 2,
			"unigate: accounts create: --email: accounts: invalid email: "},
		{"short password", "short\n", []string{"--email", "a@example.com", "--password-stdin", "--config", path}, 2,
			"unigate: accounts create: the password is shorter than 12 characters (login.password_min_length)\n"},
		{"empty password", "\n", []string{"--email", "a@example.com", "--password-stdin", "--config", path}, 2,
			"unigate: accounts create: the password is shorter than 12 characters (login.password_min_length)\n"},
		{"long password", strings.Repeat("p", 257) + "\n", []string{"--email", "a@example.com", "--password-stdin", "--config", path}, 2,
			"unigate: accounts create: the password is longer than 256 bytes\n"},
		{"huge stdin", strings.Repeat("p", 10000), []string{"--email", "a@example.com", "--password-stdin", "--config", path}, 2,
			"unigate: accounts create: the password is longer than 256 bytes\n"},
		{"invalid utf-8", "twelve chars \xff\n", []string{"--email", "a@example.com", "--password-stdin", "--config", path}, 2,
			"unigate: accounts create: the password is not valid UTF-8\n"},
		{"bad config", "a good long password\n", []string{"--email", "a@example.com", "--password-stdin", "--config", filepath.Join(dir, "nope.yaml")}, 2,
			"config: open " + filepath.Join(dir, "nope.yaml") + ": no such file or directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runUnigate(t, nil, tt.stdin, append([]string{"accounts", "create"}, tt.args...)...)
			if r.code != tt.wantCode || !strings.HasPrefix(r.stderr, tt.wantStderr) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("accounts create:\n%v\nwant exit %d and one stderr line starting %q", r, tt.wantCode, tt.wantStderr)
			}
		})
	}
	// Nothing was created by any refused attempt.
	ctx := context.Background()
	store, err := accounts.Open(ctx, "sqlite", filepath.Join(dir, "accounts.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.AccountByEmail(ctx, "a@example.com"); err == nil {
		t.Error("a refused attempt created an account")
	}
}

func TestAccountsCreateMinLengthFromConfig(t *testing.T) {
	path := mustConfig(t, t.TempDir(), "login:\n  password_min_length: 20\n")
	r := runUnigate(t, nil, "nineteen characters\n", "accounts", "create", "--email", "c@example.com", "--password-stdin", "--config", path)
	if want := "unigate: accounts create: the password is shorter than 20 characters (login.password_min_length)\n"; r.code != 2 || r.stderr != want {
		t.Errorf("accounts create:\n%v\nwant exit 2 and %q", r, want)
	}
}

func assertPassword(tb testing.TB, hash, password string) {
	tb.Helper()
	ok, _, err := accounts.NewHasher(1).Verify(context.Background(), hash, password)
	if err != nil || !ok {
		tb.Errorf("stored hash does not verify %q (ok=%v, err=%v)", password, ok, err)
	}
}
