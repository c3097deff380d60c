package gateway

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"unigate/upstreams"
)

const nginxBinary = "/usr/sbin/nginx"

// readmeNginx is the nginx server block of the README's Deployment section:
// the test runs exactly what operators are told to write.
func readmeNginx(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- nginx forward-auth: tested by gateway/nginx_test.go -->\n```nginx\n"
	_, rest, ok := strings.Cut(string(b), marker)
	if !ok {
		t.Fatal("README.md has no nginx forward-auth block")
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("README.md: the nginx block does not end")
	}
	return block
}

func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startNginx runs the README's server block on a loopback port, in front of
// the harness's Dedibox upstream, asking forwardAuth and sending /.auth/ to
// the gateway. It returns nginx's address.
func startNginx(t *testing.T, h *harness, forwardAuth string) string {
	t.Helper()
	if _, err := os.Stat(nginxBinary); err != nil {
		if os.Getenv("UNIGATE_REQUIRE_SERVICES") == "1" {
			t.Fatalf("nginx is required (UNIGATE_REQUIRE_SERVICES=1) but %s is missing: apt-get install -y nginx", nginxBinary)
		}
		t.Skipf("%s not installed", nginxBinary)
	}
	dir := t.TempDir()
	listen := freeLoopbackPort(t)
	block := readmeNginx(t)
	for old, repl := range map[string]string{
		"listen 80;":                        "listen " + listen + ";",
		"server_name console.online.net;":   "server_name console.online.test;",
		"proxy_pass http://127.0.0.1:8080;": "proxy_pass " + h.srv.URL + ";",
		"http://127.0.0.1:9091/":            "http://" + forwardAuth + "/",
		"proxy_pass http://10.0.0.10:8000":  "proxy_pass " + h.dedibox.srv.URL,
	} {
		if !strings.Contains(block, old) {
			t.Fatalf("the README's nginx block no longer holds %q", old)
		}
		block = strings.ReplaceAll(block, old, repl)
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[2]s
}
`, dir, block)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginxBinary, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	out, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			for _, f := range []string{"stderr.log", "error.log"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("nginx %s:\n%s", f, b)
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", listen)
		if err == nil {
			c.Close()
			return listen
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
			t.Fatalf("nginx does not listen on %s: %v\n%s", listen, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// viaNginx is browser.do for the console host behind nginx: the request
// goes to nginx, with the browser's cookies for the console host.
func viaNginx(t *testing.T, b *browser, nginx, method, rawURL string, hdr ...string) *response {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, "http://"+nginx+u.RequestURI(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = u.Host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	host := u.Hostname()
	b.mu.Lock()
	for _, c := range b.cookies[host] {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	b.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.mu.Lock()
	for _, c := range resp.Cookies() {
		if b.cookies[host] == nil {
			b.cookies[host] = map[string]*http.Cookie{}
		}
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies[host], c.Name)
		} else {
			b.cookies[host][c.Name] = c
		}
	}
	b.mu.Unlock()
	return &response{Response: resp, body: data}
}

// spoofed are identity headers a client invents, in every spelling nginx
// could pass on.
var spoofed = []string{
	"X-Auth-User-Id", "admin", "X-Auth-Email", "root@example.com", "X-Auth-Console", "dedibox",
	"X-Auth-Console-Account-Id", "1", "X-Auth-Organization-Id", "org-x", "X-Auth-Organization-Role", "owner",
	"X-Auth-MFA", "totp", "X-Auth-Auth-Time", "1", "X-Auth-Prelinked", "true", "X-Auth-Session-Id", "s",
	"X-Auth-Assertion", "forged", "X_Auth_User_Id", "admin", "x-auth-user-id", "admin2",
}

// identityNames are the headers of CONTRACT §6.
var identityNames = []string{
	upstreams.HeaderUserID, upstreams.HeaderEmail, upstreams.HeaderConsole, upstreams.HeaderConsoleAccountID,
	upstreams.HeaderOrganizationID, upstreams.HeaderOrganizationRole, upstreams.HeaderMFA, "X-Auth-Auth-Time",
	upstreams.HeaderPrelinked, upstreams.HeaderSessionID, upstreams.HeaderAssertion,
}

func TestNginxForwardAuth(t *testing.T) {
	h := newHarness(t, trustLoopback)
	fa := httptest.NewServer(h.gw.ForwardAuth())
	t.Cleanup(fa.Close)
	nginx := startNginx(t, h, strings.TrimPrefix(fa.URL, "http://"))
	const html = "text/html,application/xhtml+xml"

	t.Run("no session: the login redirect, nothing upstream", func(t *testing.T) {
		before := h.dedibox.count()
		r := viaNginx(t, h.browser(), nginx, "GET", dediboxURL+"/servers?page=2", append([]string{"Accept", html}, spoofed...)...)
		want := accountURL + "/login?return_to=" + url.QueryEscape(dediboxURL+"/servers?page=2")
		if r.StatusCode != http.StatusFound || r.Header.Get("Location") != want {
			t.Fatalf("got %d Location %q, want 302 %q", r.StatusCode, r.Header.Get("Location"), want)
		}
		if got := h.dedibox.count(); got != before {
			t.Errorf("got %d requests upstream, want none", got-before)
		}
	})

	t.Run("public path: no identity, spoofed headers removed", func(t *testing.T) {
		r := viaNginx(t, h.browser(), nginx, "GET", dediboxURL+"/api/v1/ping", spoofed...)
		if r.StatusCode != 200 {
			t.Fatalf("got %d %s, want 200", r.StatusCode, r.body)
		}
		up := h.dedibox.last(t)
		for _, name := range append(identityNames, "X_Auth_User_Id") {
			if v := up.Header.Values(name); len(v) > 0 {
				t.Errorf("upstream got %s %q on a public path, want none", name, v)
			}
		}
	})

	t.Run("a public prefix with a dot segment: refused, nothing upstream", func(t *testing.T) {
		before := h.dedibox.count()
		for _, path := range []string{"/api/../servers", "/api/%2e%2e/servers", "/.auth/../servers"} {
			r := viaNginx(t, h.browser(), nginx, "GET", dediboxURL+path)
			if r.StatusCode < 400 {
				t.Errorf("%s: got %d, want a refusal", path, r.StatusCode)
			}
		}
		if got := h.dedibox.count(); got != before {
			t.Errorf("got %d requests upstream, want none", got-before)
		}
	})

	h.createAccount("nginx@example.com", "correct horse battery staple")
	b := h.browser()
	b.login("nginx@example.com", "correct horse battery staple")

	t.Run("login through the gateway, the handoff through nginx", func(t *testing.T) {
		r := b.do("POST", accountURL+"/api/v1/consoles/dedibox/enter", map[string]string{})
		if r.StatusCode != 200 {
			t.Fatalf("enter: %d %s", r.StatusCode, r.body)
		}
		link := r.json(t)["redirect"].(string)
		// Step 1 and 3 on the console host reach the gateway through nginx's
		// /.auth/ location; step 2 is on the account host.
		r = viaNginx(t, b, nginx, "GET", link)
		if r.StatusCode != http.StatusFound {
			t.Fatalf("handoff start: %d %s", r.StatusCode, r.body)
		}
		r = b.do("GET", r.Header.Get("Location"), nil)
		if r.StatusCode != http.StatusFound {
			t.Fatalf("bind: %d %s", r.StatusCode, r.body)
		}
		r = viaNginx(t, b, nginx, "GET", r.Header.Get("Location"))
		if r.StatusCode != http.StatusFound || b.cookie("console.online.test") == nil {
			t.Fatalf("handoff finish: %d %s, cookie %v", r.StatusCode, r.body, b.cookie("console.online.test"))
		}
	})

	t.Run("session: the upstream sees the identity, never the client's", func(t *testing.T) {
		r := viaNginx(t, b, nginx, "GET", dediboxURL+"/servers", append([]string{"Accept", html}, spoofed...)...)
		if r.StatusCode != 200 {
			t.Fatalf("got %d %s, want 200", r.StatusCode, r.body)
		}
		up := h.dedibox.last(t)
		hdr := http.Header{}
		for _, name := range identityNames {
			if v := up.Header.Values(name); len(v) > 1 {
				t.Errorf("upstream got %s %q: several values", name, v)
			}
			if v := up.Header.Get(name); v != "" {
				hdr.Set(name, v)
			}
		}
		if v := up.Header.Values("X_Auth_User_Id"); len(v) > 0 {
			t.Errorf("upstream got X_Auth_User_Id %q", v)
		}
		for _, name := range []string{upstreams.HeaderOrganizationID, upstreams.HeaderOrganizationRole} {
			if hdr.Get(name) != "" {
				t.Errorf("upstream got %s %q with no organization selected", name, hdr.Get(name))
			}
		}
		checkNginxIdentity(t, h, hdr, "nginx@example.com")
	})

	t.Run("a revoked session: back to the login redirect", func(t *testing.T) {
		r := b.do("POST", accountURL+"/api/v1/logout", map[string]string{})
		if r.StatusCode >= 300 {
			t.Fatalf("logout: %d %s", r.StatusCode, r.body)
		}
		before := h.dedibox.count()
		r = viaNginx(t, b, nginx, "GET", dediboxURL+"/servers", "Accept", html)
		if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), accountURL+"/login?return_to=") {
			t.Fatalf("got %d Location %q, want the login redirect", r.StatusCode, r.Header.Get("Location"))
		}
		if h.dedibox.count() != before {
			t.Error("a request without a session reached the upstream")
		}
	})
}

// checkNginxIdentity checks what the upstream received behind nginx.
func checkNginxIdentity(t *testing.T, h *harness, hdr http.Header, email string) {
	t.Helper()
	if got := hdr.Get(upstreams.HeaderEmail); got != email {
		t.Errorf("got X-Auth-Email %q, want %q", got, email)
	}
	if got := hdr.Get(upstreams.HeaderUserID); got == "" || got == "admin" || got == "admin2" {
		t.Errorf("got X-Auth-User-Id %q, want the account's id", got)
	}
	if got := hdr.Get(upstreams.HeaderConsoleAccountID); got != "ded-"+email {
		t.Errorf("got X-Auth-Console-Account-Id %q, want %q", got, "ded-"+email)
	}
	if got := hdr.Get(upstreams.HeaderMFA); got != "none" {
		t.Errorf("got X-Auth-Mfa %q, want none", got)
	}
	checkForwardAuthAssertion(t, h, hdr)
}
