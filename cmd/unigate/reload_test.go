package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"unigate/accounts"
	"unigate/config"
	"unigate/session"
)

// reloadRig is one gateway served by serveGateway with reloads driven by
// the test: the configuration file, the reload trigger and its outcomes.
type reloadRig struct {
	t        *testing.T
	dir      string
	path     string
	keys     []string // session key, signing key
	previous []string // previous session key, previous signing key ("" none)
	upstream string
	addr     string // public listener
	metrics  string // metrics listener
	logs     *syncWriter
	acc      accounts.Store
	hup      chan os.Signal
	outcome  chan error
}

// write writes config.yaml with the Dedibox console's public paths (a YAML
// list) and anything extra.
func (r *reloadRig) write(publicPaths, extra string) {
	r.t.Helper()
	y := fmt.Sprintf(`public_url: "http://account.localhost:8080"
metrics:
  listen: %q
secrets:
  session_key_file: %q
  signing_key_file: %q
  previous_session_key_files: %s
  previous_signing_key_files: %s
session:
  store: memory
accounts:
  driver: sqlite
  dsn: %q
consoles:
  - id: dedibox
    hosts: [dedibox.localhost]
    upstream: %q
    public_paths: %s
%s`, r.metrics, r.keys[0], r.keys[1], yamlList(r.previous, 0), yamlList(r.previous, 1), filepath.Join(r.dir, "accounts.db"), r.upstream, publicPaths, extra)
	if err := os.WriteFile(r.path, []byte(y), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// yamlList is a flow list holding previous[i], or [] when there is none.
func yamlList(previous []string, i int) string {
	if len(previous) <= i || previous[i] == "" {
		return "[]"
	}
	return fmt.Sprintf("[%q]", previous[i])
}

// reload sends the signal and waits for its outcome.
func (r *reloadRig) reload() error {
	r.t.Helper()
	r.hup <- nil
	select {
	case err := <-r.outcome:
		return err
	case <-time.After(10 * time.Second):
		r.t.Fatal("no reload outcome after 10s")
		return nil
	}
}

func (r *reloadRig) get(host, path string) (int, string) {
	r.t.Helper()
	req, err := http.NewRequest("GET", "http://"+r.addr+path, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *reloadRig) metric(line string) bool {
	r.t.Helper()
	resp, err := http.Get("http://" + r.metrics + "/metrics")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(b), line)
}

// startReloadRig serves the rig's file written with publicPaths and extra.
func startReloadRig(t *testing.T, upstream string, publicPaths string, extra ...string) *reloadRig {
	t.Helper()
	dir := t.TempDir()
	keys, err := generateKeys(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	r := &reloadRig{t: t, dir: dir, path: filepath.Join(dir, "config.yaml"), keys: keys, upstream: upstream,
		metrics: "127.0.0.1:" + freePort(t), logs: &syncWriter{}, hup: make(chan os.Signal, 1), outcome: make(chan error, 1)}
	r.write(publicPaths, strings.Join(extra, ""))
	load := func() (*config.Config, error) { return config.Load(r.path, func(string) string { return "" }) }
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	acc, err := accounts.Open(t.Context(), cfg.Accounts.Driver, cfg.Accounts.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	r.acc = acc
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveGateway(ctx, serveSetup{cfg: cfg, store: session.NewMemoryStore(nil), acc: acc,
			logger: newLogger(r.logs, "info"), ln: ln, load: load, reloads: r.hup,
			reloaded: func(err error) { r.outcome <- err }})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	// The metrics listener is up once it answers.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if resp, err := http.Get("http://" + r.metrics + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateway does not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

// TestReload: SIGHUP applies a new configuration without harming a request
// in flight; an invalid file changes nothing and says why (CONTRACT §12).
func TestReload(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/slow" {
			arrived <- struct{}{}
			<-release
		}
		io.WriteString(w, "upstream "+r.URL.Path)
	}))
	defer up.Close()
	rig := startReloadRig(t, up.URL, `["/api/"]`)

	if code, _ := rig.get("dedibox.localhost", "/open/x"); code != http.StatusUnauthorized {
		t.Fatalf("before the reload: got %d for /open/x, want 401 (not public)", code)
	}

	// A slow request in flight across the reload.
	slow := make(chan string, 1)
	go func() {
		code, body := rig.get("dedibox.localhost", "/api/slow")
		slow <- fmt.Sprintf("%d %s", code, body)
	}()
	<-arrived

	rig.write(`["/api/", "/open/"]`, "log:\n  level: debug\n")
	if err := rig.reload(); err != nil {
		t.Fatalf("reload: %v\nlogs:\n%s", err, rig.logs)
	}
	if code, body := rig.get("dedibox.localhost", "/open/x"); code != http.StatusOK || body != "upstream /open/x" {
		t.Errorf("after the reload: got %d %q for /open/x, want 200 from the upstream (a new public path)", code, body)
	}
	close(release)
	select {
	case got := <-slow:
		if got != "200 upstream /api/slow" {
			t.Errorf("the request in flight across the reload: got %q, want 200", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request in flight never finished")
	}

	t.Run("an invalid file changes nothing", func(t *testing.T) {
		for _, broken := range []struct{ publicPaths, extra, want string }{
			{`["/api/", "/open/"]`, "unknown_key: 1\n", `"msg":"config: unknown_key: unknown key`},
			{`["no-slash"]`, "", `"msg":"config: consoles[0].public_paths[0]: `},
		} {
			rig.write(broken.publicPaths, broken.extra)
			if err := rig.reload(); err == nil {
				t.Fatal("got a successful reload of an invalid file")
			}
			if logs := rig.logs.String(); !strings.Contains(logs, broken.want) {
				t.Errorf("logs lack %s:\n%s", broken.want, logs)
			}
		}
		if code, _ := rig.get("dedibox.localhost", "/open/x"); code != http.StatusOK {
			t.Errorf("after a failed reload: got %d for /open/x, want 200 (the configuration in use)", code)
		}
	})

	t.Run("a store change needs a restart and says so", func(t *testing.T) {
		rig.write(`["/api/"]`, "listen: \"127.0.0.1:1\"\n")
		if err := rig.reload(); err != nil {
			t.Fatalf("reload: %v", err)
		}
		if logs := rig.logs.String(); !strings.Contains(logs, `"msg":"config: listen: changed, applied only after a restart`) {
			t.Errorf("logs do not say listen needs a restart:\n%s", logs)
		}
		if code, _ := rig.get("dedibox.localhost", "/open/x"); code != http.StatusUnauthorized {
			t.Errorf("got %d for /open/x once no longer public, want 401", code)
		}
	})

	for _, want := range []string{`unigate_config_reloads_total{result="success"} 2`, `unigate_config_reloads_total{result="failure"} 2`,
		"unigate_config_last_reload_success_timestamp_seconds"} {
		if !rig.metric(want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestReloadTLSCertificate: a reload that names other certificate files
// serves the new certificate from the next handshake (CONTRACT §12).
func TestReloadTLSCertificate(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	dir := t.TempDir()
	tlsConf := func(name string) (string, *x509.Certificate) {
		certFile, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		cert := writeCert(t, certFile, keyFile)
		return fmt.Sprintf("tls: {cert_file: %q, key_file: %q}\n", certFile, keyFile), cert
	}
	firstConf, first := tlsConf("first")
	rig := startReloadRig(t, up.URL, `[]`, firstConf)
	served := func() *x509.Certificate {
		t.Helper()
		conn, err := tls.Dial("tcp", rig.addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	if !served().Equal(first) {
		t.Fatal("the first certificate is not served")
	}
	secondConf, second := tlsConf("second")
	rig.write(`[]`, secondConf)
	if err := rig.reload(); err != nil {
		t.Fatalf("reload: %v\n%s", err, rig.logs)
	}
	if !served().Equal(second) {
		t.Error("after the reload: the new certificate is not served")
	}
	rig.write(`[]`, "") // TLS off: needs a restart, the listener keeps its certificate
	if err := rig.reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if !served().Equal(second) {
		t.Error("TLS turned off by a reload: the listener must keep serving the last certificate")
	}
	if !strings.Contains(rig.logs.String(), `"msg":"config: tls: changed, applied only after a restart`) {
		t.Errorf("the log does not say that TLS on or off needs a restart:\n%s", rig.logs)
	}
}
