package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mustCert writes a self-signed certificate and its key into dir and
// returns their paths.
func mustCert(tb testing.TB, dir, name string) (certFile, keyFile string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "account.example.com"},
		DNSNames:  []string{"account.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	certFile = mustWriteFile(tb, dir, name+".crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = mustWriteFile(tb, dir, name+".key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
	return certFile, keyFile
}

func TestValidateTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := mustCert(t, dir, "a")
	otherCert, _ := mustCert(t, dir, "b")
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name      string
		cert, key string
		want      string // "" valid; else a substring of the one problem
	}{
		{"off", "", "", ""},
		{"pair", cert, key, ""},
		{"cert without key", cert, "", "config: tls.key_file: required with tls.cert_file"},
		{"key without cert", "", key, "config: tls.cert_file: required with tls.key_file"},
		{"cert missing", missing, key, "config: tls.cert_file: cannot read: "},
		{"key missing", cert, missing, "config: tls.key_file: cannot read: "},
		{"key of another certificate", otherCert, key, "config: tls: " + otherCert + " and " + key + " are not a PEM certificate chain and the private key of its leaf"},
		{"swapped", key, cert, "config: tls: "},
		{"not PEM", mustWriteFile(t, dir, "junk", "junk"), key, "config: tls: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig(t)
			c.TLS = TLS{CertFile: tc.cert, KeyFile: tc.key}
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			ps, _ := err.(Problems)
			if len(ps) != 1 || !strings.HasPrefix(ps[0].String(), tc.want) {
				t.Fatalf("got %v, want one problem starting %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("the problem shows the key file's content: %v", err)
			}
		})
	}
}
