package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeysGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets", "unigate")
	r := runUnigate(t, nil, "", "keys", "generate", "--dir", dir)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("keys generate:\n%v\nwant exit 0", r)
	}
	sk, sig := filepath.Join(dir, "session.key"), filepath.Join(dir, "signing.pem")
	if want := "wrote " + sk + "\nwrote " + sig + "\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}

	assertMode(t, dir, fs.ModeDir|0o700)
	assertMode(t, sk, 0o600)
	assertMode(t, sig, 0o600)

	key, err := os.ReadFile(sk)
	if err != nil || len(key) != 64 {
		t.Errorf("session.key: %d bytes, %v; want 64", len(key), err)
	}
	pemBytes, err := os.ReadFile(sig)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(pemBytes)
	if block == nil || block.Type != "PRIVATE KEY" || len(rest) != 0 {
		t.Fatalf("signing.pem: want one PEM \"PRIVATE KEY\" block, got %q", pemBytes)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if ec, ok := k.(*ecdsa.PrivateKey); err != nil || !ok || ec.Curve != elliptic.P256() {
		t.Errorf("signing.pem: %T, %v; want an EC P-256 key", k, err)
	}
}

func TestKeysGenerateTwiceDiffers(t *testing.T) {
	a, err := generateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := generateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		x, _ := os.ReadFile(a[i])
		y, _ := os.ReadFile(b[i])
		if string(x) == string(y) {
			t.Errorf("%s is the same in two runs", filepath.Base(a[i]))
		}
	}
}

func TestKeysGenerateRefusesOverwrite(t *testing.T) {
	for _, existing := range []string{"session.key", "signing.pem"} {
		t.Run(existing, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, existing)
			if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runUnigate(t, nil, "", "keys", "generate", "--dir", dir)
			want := "unigate: keys generate: " + p + " already exists; refusing to overwrite a key\n"
			if r.code != 1 || r.stderr != want {
				t.Errorf("keys generate:\n%v\nwant exit 1 and stderr %q", r, want)
			}
			if b, _ := os.ReadFile(p); string(b) != "old" {
				t.Errorf("%s was changed to %q", existing, b)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("dir holds %d files, want only the existing one: nothing written", len(entries))
			}
		})
	}
}

func TestKeysGenerateRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Symlink(target, filepath.Join(dir, "signing.pem")); err != nil {
		t.Skip(err)
	}
	r := runUnigate(t, nil, "", "keys", "generate", "--dir", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("keys generate over a dangling link:\n%v\nwant exit 1", r)
	}
	if _, err := os.Stat(target); err == nil {
		t.Error("a key was written through the link")
	}
}

func TestKeysGenerateAcceptedByConfig(t *testing.T) {
	// mustConfig uses generateKeys; check-config must accept what it wrote.
	path := mustConfig(t, t.TempDir(), "")
	if r := runUnigate(t, nil, "", "check-config", "--config", path); r.code != 0 {
		t.Errorf("check-config with generated keys:\n%v", r)
	}
}

func assertMode(tb testing.TB, path string, want fs.FileMode) {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	if got := fi.Mode(); got != want {
		tb.Errorf("%s: mode %v, want %v", filepath.Base(path), got, want)
	}
}
