package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

// mustWriteFile writes content to dir/name and returns the path.
func mustWriteFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// mustKeys writes a 64-byte session key and a PKCS#8 P-256 signing key,
// as "unigate keys generate" does, and returns their paths.
func mustKeys(tb testing.TB, dir string) (sessionKey, signingKey string) {
	tb.Helper()
	sk := make([]byte, 64)
	rand.Read(sk)
	sessionKey = mustWriteFile(tb, dir, "session.key", string(sk))
	signingKey = mustWriteFile(tb, dir, "signing.pem", string(mustPEM(tb, "PRIVATE KEY", elliptic.P256(), x509.MarshalPKCS8PrivateKey)))
	return sessionKey, signingKey
}

// mustPEM generates an EC key on curve and encodes it with marshal.
func mustPEM[K any](tb testing.TB, typ string, curve elliptic.Curve, marshal func(K) ([]byte, error)) []byte {
	tb.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := marshal(any(k).(K))
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// validConfig is a complete, valid configuration with its files in a
// temporary directory and the defaults filled; tests break one thing in it.
func validConfig(tb testing.TB) *Config {
	tb.Helper()
	dir := tb.TempDir()
	sk, sig := mustKeys(tb, dir)
	secret := mustWriteFile(tb, dir, "client-secret", "s3cret\n")
	c := &Config{
		Listen:         "127.0.0.1:8080",
		PublicURL:      "https://account.example.com",
		TrustedProxies: []string{"10.0.0.0/24", "192.0.2.7"},
		Metrics:        Metrics{Listen: "127.0.0.1:9464"},
		Secrets:        Secrets{SessionKeyFile: sk, SigningKeyFile: sig},
		Session:        Session{Store: "redis", Redis: Redis{URL: "redis://127.0.0.1:6379/0"}},
		Accounts:       Accounts{Driver: "postgres", DSN: "postgres://unigate@127.0.0.1/unigate"},
		Mail: Mail{
			Transport: "smtp",
			From:      "Accounts <no-reply@example.com>",
			SMTP:      SMTP{Host: "127.0.0.1", Port: 1025, TLS: "none"},
		},
		Login: Login{LegacyLoginCutoff: "2025-10-28"},
		Consoles: []Console{
			{
				ID: "dedibox", Hosts: []string{"console.online.net"}, Upstream: "http://10.0.0.10:8000",
				PublicPaths: []string{"/api/"}, LegacyLogin: true, LegacyLoginPaths: []string{"/login"},
			},
			{ID: "scaleway", Hosts: []string{"console.scaleway.com"}, Upstream: "http://10.0.0.20:8000"},
		},
		SSO: SSO{Google: OIDCProvider{ClientID: "google-client", ClientSecretFile: secret}},
	}
	c.SetDefaults()
	return c
}

// problemLines returns the lines of a Validate/Load error, or nil.
func problemLines(tb testing.TB, err error) []string {
	tb.Helper()
	if err == nil {
		return nil
	}
	ps, ok := err.(Problems)
	if !ok {
		tb.Fatalf("error %T %q, want Problems", err, err)
	}
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return lines
}
