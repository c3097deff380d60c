package config

import (
	"crypto/ecdsa"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// The accessors below return the typed forms Validate computed. They are
// meaningful once Validate (or Load) returned nil; before that they return
// zero values.

// Public is public_url parsed, host lower-cased, without a trailing "/".
// The result is a copy: callers may modify it.
func (c *Config) Public() *url.URL {
	if c.typed.public == nil {
		return nil
	}
	u := *c.typed.public
	return &u
}

// SecureCookies reports whether public_url is https: cookies are then
// Secure and "__Host-" prefixed, and HSTS is sent (ASVS V3.3.1, V3.4.1).
func (c *Config) SecureCookies() bool {
	return c.typed.public != nil && c.typed.public.Scheme == "https"
}

// TrustedPrefixes is trusted_proxies parsed; a single address is a
// one-address prefix.
func (c *Config) TrustedPrefixes() []netip.Prefix {
	return slices.Clone(c.typed.prefixes)
}

// LegacyCutoff is login.legacy_login_cutoff at 00:00 UTC (CONTRACT §8:
// linked before the cutoff means linked_at earlier than this instant), or
// the zero time when unset: then no account counts as linked before it.
func (c *Config) LegacyCutoff() time.Time {
	return c.typed.cutoff
}

// SessionKey is the content of secrets.session_key_file (at least 32 bytes).
func (c *Config) SessionKey() []byte {
	return slices.Clone(c.typed.sessionKey)
}

// SigningKey is the EC P-256 key of secrets.signing_key_file, which signs
// the assertions sent upstream (ES256).
func (c *Config) SigningKey() *ecdsa.PrivateKey {
	return c.typed.signingKey
}

// PreviousSessionKeys are the keys of secrets.previous_session_key_files.
func (c *Config) PreviousSessionKeys() [][]byte {
	keys := make([][]byte, len(c.typed.previousSessionKeys))
	for i, k := range c.typed.previousSessionKeys {
		keys[i] = slices.Clone(k)
	}
	return keys
}

// PreviousSigningKeys are the keys of secrets.previous_signing_key_files:
// published in the JWKS, never used to sign.
func (c *Config) PreviousSigningKeys() []*ecdsa.PrivateKey {
	return slices.Clone(c.typed.previousSigningKeys)
}

// ReadSecret reads a secret file (*_file keys) and drops one trailing
// newline ("\n" or "\r\n"), the one editors and `echo` add, which is never
// part of the secret.
func ReadSecret(path string) (string, error) {
	b, err := readSmallFile(path)
	if err != nil {
		return "", err
	}
	s := string(b)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	return s, nil
}

// readFileLimit reads path up to limit+1 bytes: one more than limit tells
// the caller the file is too large, whatever size it claims (a device or a
// pipe says 0).
func readFileLimit(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// maxSecretFile bounds what is read from a key or secret file: a path
// mistakenly naming /dev/zero or a log file must not exhaust memory.
const maxSecretFile = 64 << 10

// readSmallFile reads a key or secret file of at most maxSecretFile bytes.
func readSmallFile(path string) ([]byte, error) {
	b, err := readFileLimit(path, maxSecretFile)
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%s: larger than %d KiB, not a key or secret", path, maxSecretFile>>10)
	}
	return b, nil
}
