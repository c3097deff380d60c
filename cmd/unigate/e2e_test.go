package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/redis/go-redis/v9"
)

// redisURLForTest returns the Redis the tests may use, skipping when it is
// absent on a newcomer's laptop and failing when CI says it must be there.
func redisURLForTest(t testing.TB) string {
	t.Helper()
	u := os.Getenv("UNIGATE_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(u)
	if err == nil {
		c := redis.NewClient(opt)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = c.Ping(ctx).Err()
		cancel()
		c.Close()
	}
	if err != nil {
		if os.Getenv("UNIGATE_REQUIRE_SERVICES") == "1" {
			t.Fatalf("Redis is required (UNIGATE_REQUIRE_SERVICES=1) but not reachable: %v", err)
		}
		t.Skipf("Redis not reachable (%v); set UNIGATE_TEST_REDIS_URL", err)
	}
	return u
}

// cutProxy is a TCP relay to Redis that the test can cut and restore, to
// play a Redis outage without touching the shared Redis.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newCutProxy(t testing.TB, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestEndToEnd runs the built binary with a config, real Redis and two
// upstreams, logs in over HTTP and checks what the upstream receives; then
// plays a Redis outage and a SIGTERM with a request in flight.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	redisURL := redisURLForTest(t)
	ru, _ := url.Parse(redisURL)
	relay := newCutProxy(t, ru.Host)
	ru.Host = relay.ln.Addr().String()

	dir := t.TempDir()
	bin := filepath.Join(dir, "unigate")
	if out, err := execCommand(t, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := execCommand(t, bin, "keys", "generate", "--dir", filepath.Join(dir, "keys")).CombinedOutput(); err != nil {
		t.Fatalf("keys generate: %v\n%s", err, out)
	}

	type seen struct{ header http.Header }
	var mu sync.Mutex
	received := map[string][]seen{}
	slow := make(chan struct{})
	upstream := func(name string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			received[name] = append(received[name], seen{r.Header.Clone()})
			mu.Unlock()
			if r.URL.Path == "/slow" {
				close(slow)
				time.Sleep(time.Second)
			}
			fmt.Fprintf(w, "%s says hello to %s", name, r.Header.Get("X-Auth-Email"))
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	ded, scw := upstream("dedibox"), upstream("scaleway")

	port, mport := freePort(t), freePort(t)
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`listen: "127.0.0.1:%[1]s"
public_url: "http://account.e2e.test:%[1]s"
shutdown_grace: 10s
metrics: {listen: "127.0.0.1:%[2]s"}
secrets:
  session_key_file: %[3]q
  signing_key_file: %[4]q
session:
  store: redis
  redis: {url: %[5]q, key_prefix: %[6]q}
accounts: {driver: sqlite, dsn: %[7]q}
mail: {transport: log}
login: {max_failures: 3, lockout: 1m, ip_max_failures: 50}
consoles:
  - {id: dedibox, name: Dedibox, hosts: [console.online.e2e.test], upstream: %[8]q, public_paths: ["/api/"]}
  - {id: scaleway, name: Scaleway, hosts: [console.scaleway.e2e.test], upstream: %[9]q}
`, port, mport, filepath.Join(dir, "keys", "session.key"), filepath.Join(dir, "keys", "signing.pem"),
		ru.String(), fmt.Sprintf("e2e-%d:", time.Now().UnixNano()), filepath.Join(dir, "accounts.db"), ded.URL, scw.URL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := execCommand(t, bin, "check-config", "--config", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("check-config: %v\n%s", err, out)
	}
	create := execCommand(t, bin, "accounts", "create", "--email", "E2E@Example.com", "--password-stdin", "--config", cfgPath)
	create.Stdin = strings.NewReader("a long enough password\n")
	out, err := create.CombinedOutput()
	if err != nil {
		t.Fatalf("accounts create: %v\n%s", err, out)
	}
	accountID := strings.TrimSpace(string(out))

	serve := exec.Command(bin, "serve", "--config", cfgPath)
	logs := &syncWriter{}
	serve.Stderr = logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	t.Cleanup(func() {
		serve.Process.Kill()
		if t.Failed() {
			t.Logf("gateway logs:\n%s", logs.String())
		}
	})
	waitHealthy(t, "http://127.0.0.1:"+mport+"/healthz")

	// A client that resolves our test hosts to the gateway, with a cookie jar per host.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{
		Jar: jar,
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, _, _ := net.SplitHostPort(addr); strings.HasSuffix(host, ".e2e.test") {
				addr = "127.0.0.1:" + port
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	account := "http://account.e2e.test:" + port
	dedibox := "http://console.online.e2e.test:" + port
	postJSON := func(u string, body any) (*http.Response, map[string]any) {
		t.Helper()
		data, _ := json.Marshal(body)
		resp, err := client.Post(u, "application/json", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		m := map[string]any{}
		json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	get := func(u string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	// Without a session the console sends a browser to the login page.
	if resp, _ := get(dedibox+"/servers", "Accept", "text/html"); resp.StatusCode != 302 ||
		!strings.HasPrefix(resp.Header.Get("Location"), account+"/login?return_to=") {
		t.Fatalf("no session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, m := postJSON(account+"/api/v1/login/identify", map[string]string{"email": "e2e@example.com", "return_to": dedibox + "/servers"}); resp.StatusCode != 200 {
		t.Fatalf("identify: %d %v", resp.StatusCode, m)
	}
	resp, m := postJSON(account+"/api/v1/login/password", map[string]string{"password": "a long enough password"})
	if resp.StatusCode != 200 || m["next"] != "done" {
		t.Fatalf("password: %d %v", resp.StatusCode, m)
	}
	next, _ := m["redirect"].(string)
	if !strings.HasPrefix(next, dedibox+"/.auth/handoff?code=") {
		t.Fatalf("redirect after login: %q", next)
	}
	// The handoff: console host, account host (binding the code to this browser), console host.
	resp, _ = get(next)
	for hop := 0; hop < 2 && strings.Contains(resp.Header.Get("Location"), "/.auth/"); hop++ {
		resp, _ = get(resp.Header.Get("Location"))
	}
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/servers" {
		t.Fatalf("handoff: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := get(dedibox+"/servers", "X-Auth-User-Id", "forged", "X_Auth_Email", "forged@evil.test")
	if resp.StatusCode != 200 || body != "dedibox says hello to e2e@example.com" {
		t.Fatalf("proxied: %d %q", resp.StatusCode, body)
	}
	mu.Lock()
	h := received["dedibox"][len(received["dedibox"])-1].header
	mu.Unlock()
	if h.Get("X-Auth-User-Id") != accountID || h.Get("X-Auth-Console") != "dedibox" || len(h.Values("X-Auth-Email")) != 1 {
		t.Errorf("identity headers: %v (account %s)", h, accountID)
	}
	for k := range h {
		if strings.Contains(k, "_") {
			t.Errorf("spoofed header forwarded: %s", k)
		}
	}
	// The assertion verifies against the published keys.
	_, jwksBody := get(account + "/.well-known/jwks.json")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(jwksBody), &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks: %v %s", err, jwksBody)
	}
	tok, err := jwt.ParseSigned(h.Get("X-Auth-Assertion"), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	if err := tok.Claims(set.Keys[0].Key, &claims); err != nil {
		t.Fatalf("assertion: %v", err)
	}
	if err := claims.Validate(jwt.Expected{Issuer: account, Subject: accountID, AnyAudience: jwt.Audience{"dedibox"}, Time: time.Now()}); err != nil {
		t.Errorf("assertion claims: %v", err)
	}

	// Redis down: refused with 503, nothing reaches the upstream; back by itself.
	mu.Lock()
	before := len(received["dedibox"])
	mu.Unlock()
	relay.setDown(true)
	if resp, _ := get(dedibox + "/servers"); resp.StatusCode != 503 {
		t.Errorf("Redis down: got %d, want 503", resp.StatusCode)
	}
	if resp, _ := get("http://127.0.0.1:" + mport + "/readyz"); resp.StatusCode != 503 {
		t.Errorf("readyz with Redis down: got %d", resp.StatusCode)
	}
	mu.Lock()
	if len(received["dedibox"]) != before {
		t.Error("a request went through while Redis was down")
	}
	mu.Unlock()
	relay.setDown(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ := get(dedibox + "/servers")
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after Redis came back: %d", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Metrics as the contract names them.
	_, metrics := get("http://127.0.0.1:" + mport + "/metrics")
	for _, want := range []string{`unigate_proxy_requests_total{code="200",console="dedibox"}`, `unigate_sessions_created_total 1`,
		`unigate_session_store_errors_total{op="get"}`, "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// SIGTERM with a request in flight: it finishes, then the process exits 0.
	inflight := make(chan int, 1)
	go func() {
		resp, err := client.Get(dedibox + "/slow")
		if err != nil {
			inflight <- -1
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		inflight <- resp.StatusCode
	}()
	<-slow
	serve.Process.Signal(syscall.SIGTERM)
	if code := <-inflight; code != 200 {
		t.Errorf("in-flight request during shutdown: got %d, want 200", code)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want status 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	// Logs are JSON lines with request ids, and carry no secret.
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	lines := 0
	for sc.Scan() {
		lines++
		var entry map[string]any
		if err := json.Unmarshal(sc.Bytes(), &entry); err != nil {
			t.Errorf("log line is not JSON: %q", sc.Text())
		}
		if strings.Contains(sc.Text(), "a long enough password") || strings.Contains(sc.Text(), "code=") {
			t.Errorf("secret in log: %q", sc.Text())
		}
	}
	if lines < 5 || !strings.Contains(logs.String(), `"request_id"`) || !strings.Contains(logs.String(), `"event":"login.success"`) {
		t.Errorf("logs (%d lines) lack request ids or audit lines", lines)
	}
}

func waitHealthy(t testing.TB, u string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became healthy", u)
}

// syncWriter collects a child process's output; safe to read while it writes.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func timeNow() time.Time { return time.Now() }
