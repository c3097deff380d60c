package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"unigate/accounts"
	"unigate/config"
	"unigate/internal/testcert"
	"unigate/session"
)

// writeCert writes a new self-signed certificate for 127.0.0.1 and its key
// (PKCS#8) to certFile and keyFile, and returns the certificate.
func writeCert(tb testing.TB, certFile, keyFile string) *x509.Certificate {
	tb.Helper()
	cert, key, err := testcert.SelfSigned("unigate tls test")
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		tb.Fatal(err)
	}
	return cert
}

// TestServeTLS: with tls.cert_file and tls.key_file, listen serves HTTPS,
// HTTP/2 by ALPN (and HTTP/1.1 to clients that only speak it), TLS 1.2 at
// least, and a renewed certificate without a restart (CONTRACT §12 "TLS").
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first := writeCert(t, certFile, keyFile)
	path := mustConfig(t, dir, fmt.Sprintf("tls: {cert_file: %q, key_file: %q}\n", certFile, keyFile))
	if r := runUnigate(t, nil, "", "check-config", "--config", path); r.code != 0 {
		t.Fatalf("check-config: %v", r)
	}
	cfg, err := config.Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	acc, err := accounts.Open(t.Context(), cfg.Accounts.Driver, cfg.Accounts.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncWriter{}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- serveGatewayOn(ctx, cfg, session.NewMemoryStore(nil), acc, newLogger(logs, "info"), ln, nil)
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	addr := ln.Addr().String()

	// get sends GET /healthz on the account host over a new connection and
	// returns the answer with the certificate the server showed.
	get := func(t *testing.T, trusted *x509.Certificate, h2 bool) (*http.Response, error) {
		t.Helper()
		pool := x509.NewCertPool()
		pool.AddCert(trusted)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}
		if h2 {
			tr.ForceAttemptHTTP2 = true
		} else {
			tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		defer tr.CloseIdleConnections()
		req, err := http.NewRequest("GET", "https://"+addr+"/healthz", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "account.localhost:8080"
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}

	t.Run("h2", func(t *testing.T) {
		resp, err := get(t, first, true)
		if err != nil {
			t.Fatalf("GET over HTTP/2: %v", err)
		}
		if resp.StatusCode != 200 || resp.ProtoMajor != 2 || resp.TLS.NegotiatedProtocol != "h2" {
			t.Fatalf("got %d over %s (ALPN %q), want 200 over HTTP/2 (h2)", resp.StatusCode, resp.Proto, resp.TLS.NegotiatedProtocol)
		}
		if resp.TLS.Version < tls.VersionTLS12 {
			t.Fatalf("TLS version %x, want at least 1.2", resp.TLS.Version)
		}
	})
	t.Run("http/1.1", func(t *testing.T) {
		resp, err := get(t, first, false)
		if err != nil || resp.StatusCode != 200 || resp.ProtoMajor != 1 {
			t.Fatalf("GET over HTTP/1.1: %v %v; want 200 over HTTP/1.1", err, resp)
		}
	})
	t.Run("TLS 1.1 refused", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AddCert(first)
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Fatal("a TLS 1.1 handshake succeeded, want it refused (TLS 1.2 at least)")
		}
	})
	t.Run("plain HTTP refused", func(t *testing.T) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Fatal("plain HTTP answered 200 on the HTTPS listener")
			}
		}
	})

	// A renewal: new files, same paths. New connections get the new
	// certificate within a couple of seconds, with no restart.
	renewed := writeCert(t, certFile, keyFile)
	var got *http.Response
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err = get(t, renewed, true)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate was not served within 5 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if peer := got.TLS.PeerCertificates[0]; !peer.Equal(renewed) {
		t.Fatalf("served serial %v, want the renewed certificate's %v", peer.SerialNumber, renewed.SerialNumber)
	}
	if !strings.Contains(logs.String(), "tls: certificate reloaded") {
		t.Errorf("no reload line in the log:\n%s", logs.String())
	}

	// A broken renewal (the key of another certificate) is logged once and
	// the last good certificate is kept.
	other := filepath.Join(dir, "other.crt")
	writeCert(t, other, filepath.Join(dir, "other.key"))
	data, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(certCheckInterval + 200*time.Millisecond)
	for range 3 {
		resp, err := get(t, renewed, true)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("after a broken renewal: %v %v; want the previous certificate still served", err, resp)
		}
	}
	if n := strings.Count(logs.String(), "tls: the new certificate files do not load"); n != 1 {
		t.Errorf("the broken renewal was logged %d times, want once", n)
	}
	if r := runUnigate(t, nil, "", "check-config", "--config", path); r.code != 2 || !strings.Contains(r.stderr, "config: tls: ") {
		t.Errorf("check-config with a mismatched pair: %v; want exit 2 and a config: tls: line", r)
	}
}
