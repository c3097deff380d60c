package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// via is the same browser (the same cookies) talking to another replica.
func (c *hostClient) via(addr string) *hostClient {
	return &hostClient{t: c.t, addr: addr, account: c.account, cookies: c.cookies}
}

// TestTwoReplicasDisabledAccount: two serve processes share one Redis (with
// a local session cache on each) and one account store; `unigate accounts
// disable` ends the account's sessions on both at their next request, and a
// login that proves the first factor then answers 403 account_disabled
// (CONTRACT §12 "Operator commands").
func TestTwoReplicasDisabledAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	redisURL := redisURLForTest(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "unigate")
	if out, err := execCommand(t, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := execCommand(t, bin, "keys", "generate", "--dir", filepath.Join(dir, "keys")).CombinedOutput(); err != nil {
		t.Fatalf("keys generate: %v\n%s", err, out)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.Header.Get("X-Auth-Email"))
	}))
	defer up.Close()
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`public_url: "http://account.two.test:8080"
secrets:
  session_key_file: %q
  signing_key_file: %q
session:
  store: redis
  redis: {url: %q, key_prefix: %q}
  local_cache: 5s
accounts: {driver: sqlite, dsn: %q}
mail: {transport: log}
consoles:
  - {id: dedibox, name: Dedibox, hosts: [console.two.test], upstream: %q}
  - {id: scaleway, name: Scaleway, hosts: [scaleway.two.test], upstream: %q}
`, filepath.Join(dir, "keys", "session.key"), filepath.Join(dir, "keys", "signing.pem"), redisURL,
		fmt.Sprintf("two-%d:", time.Now().UnixNano()), filepath.Join(dir, "accounts.db"), up.URL, up.URL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	const email, password = "two@example.com", "a long enough password"
	create := execCommand(t, bin, "accounts", "create", "--email", email, "--password-stdin", "--config", cfgPath)
	create.Stdin = strings.NewReader(password + "\n")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("accounts create: %v\n%s", err, out)
	}

	// Two replicas: the same file, their own listen addresses.
	procs := map[string]*exec.Cmd{}
	replica := func(name string) string {
		t.Helper()
		port, mport := freePort(t), freePort(t)
		serve := exec.Command(bin, "serve", "--config", cfgPath)
		serve.Env = append(os.Environ(), "UNIGATE_LISTEN=127.0.0.1:"+port, "UNIGATE_METRICS_LISTEN=127.0.0.1:"+mport)
		logs := &syncWriter{}
		serve.Stderr = logs
		if err := serve.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			serve.Process.Signal(syscall.SIGTERM)
			serve.Wait()
			if t.Failed() {
				t.Logf("replica %s logs:\n%s", name, logs)
			}
		})
		waitHealthy(t, "http://127.0.0.1:"+mport+"/healthz")
		procs[name] = serve
		return "127.0.0.1:" + port
	}
	a, b := replica("a"), replica("b")

	const accountHost = "http://account.two.test:8080"
	onA := newHostClient(t, a)
	onA.account = accountHost
	onA.step("/api/v1/login/identify", map[string]string{"email": email})
	if next := onA.step("/api/v1/login/password", map[string]string{"password": password}); next != "done" {
		t.Fatalf("login: next %q, want done", next)
	}
	onA.enter("dedibox")
	onB := onA.via(b)
	console := func(c *hostClient) (int, string) {
		t.Helper()
		resp, data := c.do("GET", "http://console.two.test:8080/servers", nil)
		return resp.StatusCode, string(data)
	}
	for name, c := range map[string]*hostClient{"a": onA, "b": onB} {
		if code, body := console(c); code != 200 || body != "hello "+email {
			t.Fatalf("replica %s before: got %d %q, want 200", name, code, body)
		}
	}

	out, err := execCommand(t, bin, "accounts", "disable", "--email", email, "--config", cfgPath).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "disabled "+email) {
		t.Fatalf("accounts disable: %v\n%s", err, out)
	}

	t.Run("the sessions are refused on both replicas at their next request", func(t *testing.T) {
		for name, c := range map[string]*hostClient{"a": onA, "b": onB} {
			if code, body := console(c); code != http.StatusUnauthorized {
				t.Errorf("replica %s console: got %d %q, want 401", name, code, body)
			}
			if resp, data := c.do("GET", "http://account.two.test:8080/api/v1/session", nil); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("replica %s account host: got %d %s, want 401", name, resp.StatusCode, data)
			}
		}
	})

	t.Run("a login that proves the password answers 403 account_disabled", func(t *testing.T) {
		for name, addr := range map[string]string{"a": a, "b": b} {
			c := newHostClient(t, addr)
			c.account = accountHost
			c.step("/api/v1/login/identify", map[string]string{"email": email})
			resp, data := c.do("POST", "http://account.two.test:8080/api/v1/login/password", map[string]string{"password": password})
			var body map[string]any
			json.Unmarshal(data, &body)
			if resp.StatusCode != http.StatusForbidden || body["error"] != "account_disabled" {
				t.Errorf("replica %s: got %d %s, want 403 account_disabled", name, resp.StatusCode, data)
			}
			resp, data = c.do("POST", "http://account.two.test:8080/api/v1/login/password", map[string]string{"password": "wrong password!"})
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("replica %s, a wrong password: got %d %s, want 401 (nothing disclosed)", name, resp.StatusCode, data)
			}
		}
	})

	t.Run("enabled again: the login works", func(t *testing.T) {
		if out, err := execCommand(t, bin, "accounts", "enable", "--email", email, "--config", cfgPath).CombinedOutput(); err != nil {
			t.Fatalf("accounts enable: %v\n%s", err, out)
		}
		c := newHostClient(t, b)
		c.account = accountHost
		c.step("/api/v1/login/identify", map[string]string{"email": email})
		if next := c.step("/api/v1/login/password", map[string]string{"password": password}); next != "done" {
			t.Fatalf("login after enable: next %q, want done", next)
		}
	})

	t.Run("SIGHUP reloads one replica, the other keeps its configuration", func(t *testing.T) {
		// A public path added to the file: replica a is told, b is not.
		reloaded := strings.Replace(cfg, "hosts: [console.two.test], upstream: "+fmt.Sprintf("%q", up.URL)+"}",
			"hosts: [console.two.test], upstream: "+fmt.Sprintf("%q", up.URL)+", public_paths: [\"/servers\"]}", 1)
		if reloaded == cfg {
			t.Fatal("the configuration did not change")
		}
		if err := os.WriteFile(cfgPath, []byte(reloaded), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := procs["a"].Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		anonymous := func(addr string) int {
			c := newHostClient(t, addr)
			resp, _ := c.do("GET", "http://console.two.test:8080/servers", nil)
			return resp.StatusCode
		}
		deadline := time.Now().Add(10 * time.Second)
		for anonymous(a) != http.StatusOK {
			if time.Now().After(deadline) {
				t.Fatal("replica a does not serve the new public path 10s after SIGHUP")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if code := anonymous(b); code != http.StatusUnauthorized {
			t.Errorf("replica b (no SIGHUP): got %d, want 401", code)
		}
	})
}
