package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Key files written by "keys generate", named as config.yaml expects them.
const (
	sessionKeyName = "session.key"
	signingKeyName = "signing.pem"
	// sessionKeySize: 512 bits, twice what the HMAC needs, so that the key
	// can be split into signing and encryption halves if ever wanted.
	sessionKeySize = 64
)

// keys runs "keys generate".
func (c *cli) keys(args []string) error {
	const synopsis = "generate --dir DIR"
	if len(args) == 0 || isHelp(args[0]) {
		if len(args) > 0 {
			fmt.Fprintf(c.stdout, "usage: unigate keys %s\n", synopsis)
			return nil
		}
		return usageErrorf("keys: want a subcommand: unigate keys %s", synopsis)
	}
	if args[0] != "generate" {
		return usageErrorf("keys: unknown subcommand %q: want unigate keys %s", args[0], synopsis)
	}
	fs := c.flagSet("keys generate", "--dir DIR",
		"Write "+sessionKeyName+" (64 random bytes) and "+signingKeyName+" (EC P-256 private key, PKCS#8 PEM)\n"+
			"into DIR, both mode 0600. DIR is created (mode 0700) if missing; existing keys are never overwritten.")
	dir := fs.String("dir", "", "`DIR` to write the keys into")
	if err := c.parse(fs, args[1:]); err != nil {
		return err
	}
	if *dir == "" {
		return usageErrorf("keys generate: --dir is required")
	}
	paths, err := generateKeys(*dir)
	if err != nil {
		return fmt.Errorf("keys generate: %w", err)
	}
	for _, p := range paths {
		fmt.Fprintf(c.stdout, "wrote %s\n", p)
	}
	return nil
}

// generateKeys writes a new session key and signing key into dir and
// returns their paths. It refuses to replace either: a replaced session key
// logs everyone out, a replaced signing key breaks every console's trust.
func generateKeys(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	paths := []string{filepath.Join(dir, sessionKeyName), filepath.Join(dir, signingKeyName)}
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("%s already exists; refusing to overwrite a key", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}

	sessionKey := make([]byte, sessionKeySize)
	rand.Read(sessionKey) // never fails (crypto/rand, Go 1.24+)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		return nil, err
	}
	signingKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	if err := writeNewFile(paths[0], sessionKey); err != nil {
		return nil, err
	}
	if err := writeNewFile(paths[1], signingKey); err != nil {
		os.Remove(paths[0]) // both or neither
		return nil, err
	}
	return paths, nil
}

// writeNewFile creates path with mode 0600 and writes data durably. O_EXCL
// makes creation fail if anything, a symbolic link included, appeared there
// since the check: a key is never written through a planted link.
func writeNewFile(path string, data []byte) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; refusing to overwrite a key", path)
		}
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	// The umask may only take bits away; make the mode exactly 0600.
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Sync()
}
