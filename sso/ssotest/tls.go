package ssotest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"unigate/internal/testcert"
)

// serverTLS is a self-signed certificate for 127.0.0.1 and localhost, and a
// client that trusts it and nothing else.
type serverTLS struct {
	config  *tls.Config
	client  *http.Client
	certPEM []byte
}

func newServerTLS(tb testing.TB) *serverTLS {
	tb.Helper()
	cert, key, err := testcert.SelfSigned("ssotest")
	if err != nil {
		tb.Fatalf("ssotest: TLS certificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	transport := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}
	tb.Cleanup(transport.CloseIdleConnections)
	return &serverTLS{
		config: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}},
			MinVersion:   tls.VersionTLS12,
		},
		client:  &http.Client{Transport: transport, Timeout: 10 * time.Second},
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
	}
}

// newTLSListener serves TLS with s's certificate on ln.
func newTLSListener(ln net.Listener, s *serverTLS) net.Listener { return tls.NewListener(ln, s.config) }

// signingKeys are RSA keys made once per test binary: generating them is
// slow, and no test depends on one being fresh. providerKey signs the real
// tokens; otherKey signs forgeries.
var signingKeys = sync.OnceValues(func() (providerKey, otherKey *rsa.PrivateKey) {
	a, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	b, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return a, b
})

// Authorize plays the browser at a provider's authorization endpoint: it
// GETs authURL with client, follows no redirect, and returns the query of
// the redirect back to the relying party (code and state, or error and
// state). The test fails unless the answer is a redirect.
func Authorize(tb testing.TB, client *http.Client, authURL string) url.Values {
	tb.Helper()
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	if err != nil {
		tb.Fatalf("ssotest: GET %s: %v", authURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		tb.Fatalf("ssotest: authorization endpoint answered %s, want a redirect", resp.Status)
	}
	loc, err := resp.Location()
	if err != nil {
		tb.Fatalf("ssotest: redirect: %v", err)
	}
	return loc.Query()
}
