package upstreams

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// seenRequest is what the upstream received.
type seenRequest struct {
	Method, RequestURI, Host string
	Header, Trailer          http.Header
	Body                     string
}

// recordingUpstream is an httptest upstream that records every request and
// answers 200 "ok".
type recordingUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

func newRecordingUpstream(tb testing.TB) *recordingUpstream {
	tb.Helper()
	u := &recordingUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, seenRequest{r.Method, r.RequestURI, r.Host, r.Header.Clone(), r.Trailer.Clone(), string(body)})
		u.mu.Unlock()
		w.Header().Set("X-Upstream", "yes")
		io.WriteString(w, "ok")
	}))
	tb.Cleanup(u.Close)
	return u
}

func (u *recordingUpstream) last(tb testing.TB) seenRequest {
	tb.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		tb.Fatal("upstream received nothing")
	}
	return u.seen[len(u.seen)-1]
}

func (u *recordingUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

func mustURL(tb testing.TB, s string) *url.URL {
	tb.Helper()
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// gatewayOpts is what the test gateway does around Forward.
type gatewayOpts struct {
	identity *Identity // nil: public path
	signer   *Signer
}

// newGateway starts a gateway-like server: canonicalise, then Forward. A
// non-canonical path is answered 400 here (the real gateway redirects).
func newGateway(tb testing.TB, p *Proxy, opts gatewayOpts) *httptest.Server {
	tb.Helper()
	if opts.signer != nil {
		p.signer = opts.signer // as ProxyConfig.Signer would
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		canon, err := CanonicalPath(RequestPath(r))
		if err != nil {
			http.Error(w, "bad path", http.StatusBadRequest)
			return
		}
		p.Forward(w, r, canon, opts.identity)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

func mustProxy(tb testing.TB, cfg ProxyConfig) *Proxy {
	tb.Helper()
	p, err := NewProxy(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// rawRequest writes req verbatim to addr and returns the parsed response
// and its body.
func rawRequest(tb testing.TB, addr, req string) (*http.Response, string) {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func TestProxyForwardsWithIdentity(t *testing.T) {
	up := newRecordingUpstream(t)
	p := mustProxy(t, ProxyConfig{
		Console:      "dedibox",
		Upstream:     mustURL(t, up.URL),
		CookieName:   "__Host-unigate_session",
		PublicScheme: "https",
	})
	s := mustSigner(t, nil)
	id := testIdentity()
	gw := newGateway(t, p, gatewayOpts{identity: id, signer: s})

	req, _ := http.NewRequest("POST", gw.URL+"/api/x/%C3%A9/a%20b?b=2&a=1;c=3&d=%2F..", strings.NewReader(`{"k":"v"}`))
	req.Host = "console.example.test"
	req.Header.Set("Content-Type", "application/json")
	req.Header["Cookie"] = []string{"a=1; __Host-unigate_session=SECRET1; b=2", "unigate_session=SECRET2; c=3"}
	req.Header["X-Auth-User-Id"] = []string{"admin"}
	req.Header["X_Auth_User_Id"] = []string{"admin"}
	req.Header["x-auth-email"] = []string{"root@example.test, admin@example.test"}
	req.Header["X-Auth-Organization-Role"] = []string{"owner", "owner"}
	req.Header["X-Auth-Extra"] = []string{"x"}
	req.Header["X-Forwarded-For"] = []string{"6.6.6.6"}
	req.Header["X-Forwarded-Host"] = []string{"evil.test"}
	req.Header["X-Forwarded-Proto"] = []string{"http"}
	req.Header["Forwarded"] = []string{"for=6.6.6.6;host=evil.test"}
	req.Header["X-Original-Url"] = []string{"/admin"}
	req.Header["X-Real-Ip"] = []string{"6.6.6.6"}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" || resp.Header.Get("X-Upstream") != "yes" {
		t.Fatalf("response %d %q %v", resp.StatusCode, body, resp.Header)
	}

	got := up.last(t)
	checks := []struct{ what, got, want string }{
		{"method", got.Method, "POST"},
		{"request URI (path canonical, query untouched)", got.RequestURI, "/api/x/%C3%A9/a%20b?b=2&a=1;c=3&d=%2F.."},
		{"Host", got.Host, "console.example.test"},
		{"body", got.Body, `{"k":"v"}`},
		{"Content-Type", got.Header.Get("Content-Type"), "application/json"},
		{"Cookie", strings.Join(got.Header["Cookie"], " | "), "a=1; b=2 | c=3"},
		{"X-Forwarded-For", strings.Join(got.Header["X-Forwarded-For"], ","), "127.0.0.1"},
		{"X-Forwarded-Host", got.Header.Get("X-Forwarded-Host"), "console.example.test"},
		{"X-Forwarded-Proto", got.Header.Get("X-Forwarded-Proto"), "https"},
		{"Forwarded", got.Header.Get("Forwarded"), ""},
		{"X-Original-Url", got.Header.Get("X-Original-Url"), ""},
		{"X-Real-Ip", got.Header.Get("X-Real-Ip"), ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	for _, secret := range []string{"SECRET1", "SECRET2"} {
		for name, vv := range got.Header {
			for _, v := range vv {
				if strings.Contains(v, secret) {
					t.Errorf("session cookie %s leaked in %s", secret, name)
				}
			}
		}
	}
	wantAuth := map[string]string{
		"X-Auth-User-Id":            id.UserID,
		"X-Auth-Email":              id.Email,
		"X-Auth-Console":            id.Console,
		"X-Auth-Console-Account-Id": id.ConsoleAccountID,
		"X-Auth-Organization-Id":    id.OrganizationID,
		"X-Auth-Organization-Role":  id.OrganizationRole,
		"X-Auth-Mfa":                "totp",
		"X-Auth-Prelinked":          "true",
		"X-Auth-Session-Id":         id.SessionID,
		"X-Auth-Auth-Time":          "1780000000",
	}
	for name, vv := range got.Header {
		if !isAuthHeaderName(name) {
			continue
		}
		if name == "X-Auth-Assertion" {
			continue
		}
		want, ok := wantAuth[name]
		if !ok {
			t.Errorf("unexpected %s: %q", name, vv)
			continue
		}
		if len(vv) != 1 || vv[0] != want {
			t.Errorf("%s = %q, want [%q]", name, vv, want)
		}
		delete(wantAuth, name)
	}
	for name := range wantAuth {
		t.Errorf("%s missing", name)
	}
	tok := got.Header["X-Auth-Assertion"]
	if len(tok) != 1 {
		t.Fatalf("X-Auth-Assertion = %q", tok)
	}
	claims, _ := verifyAssertion(t, s, tok[0])
	if claims["sub"] != id.UserID || claims["aud"] != "dedibox" {
		t.Errorf("assertion claims %v", claims)
	}
}

func TestProxyPublicPathGetsNoIdentity(t *testing.T) {
	up := newRecordingUpstream(t)
	p := mustProxy(t, ProxyConfig{Console: "scaleway", Upstream: mustURL(t, up.URL), CookieName: "unigate_session", PublicScheme: "http"})
	gw := newGateway(t, p, gatewayOpts{})
	var b strings.Builder
	b.WriteString("GET /api/public HTTP/1.1\r\nHost: console.example.test\r\n")
	for _, name := range authHeaderSpellings {
		fmt.Fprintf(&b, "%s: spoofed\r\n", name)
	}
	b.WriteString("Cookie: unigate_session=SECRET; keep=1\r\nConnection: close\r\n\r\n")
	resp, _ := rawRequest(t, gw.Listener.Addr().String(), b.String())
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := up.last(t)
	for name, vv := range got.Header {
		if isAuthHeaderName(name) {
			t.Errorf("public path got %s: %q", name, vv)
		}
	}
	if c := got.Header.Get("Cookie"); c != "keep=1" {
		t.Errorf("Cookie = %q", c)
	}
	if xfp := got.Header.Get("X-Forwarded-Proto"); xfp != "http" {
		t.Errorf("X-Forwarded-Proto = %q", xfp)
	}
}

// TestProxyConnectionHeaderCannotDropIdentity: a client naming the gateway's
// headers in Connection (hop-by-hop) must not get them removed after they
// are set (the reason for Rewrite over Director; SECURITY family 2).
func TestProxyConnectionHeaderCannotDropIdentity(t *testing.T) {
	up := newRecordingUpstream(t)
	p := mustProxy(t, ProxyConfig{Console: "dedibox", Upstream: mustURL(t, up.URL)})
	gw := newGateway(t, p, gatewayOpts{identity: testIdentity(), signer: mustSigner(t, nil)})
	for _, conn := range []string{
		"X-Auth-User-Id, X-Auth-Assertion, X-Auth-Organization-Role",
		"x-auth-user-id,x-auth-email,x-auth-console,x-auth-mfa,x-auth-session-id,keep-alive",
		"close, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host",
	} {
		req := "GET /private HTTP/1.1\r\nHost: console.example.test\r\n" +
			"Connection: " + conn + "\r\nX-Auth-User-Id: admin\r\n\r\n"
		resp, _ := rawRequest(t, gw.Listener.Addr().String(), req)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		got := up.last(t)
		for _, name := range []string{"X-Auth-User-Id", "X-Auth-Assertion", "X-Auth-Email", "X-Auth-Console", "X-Auth-Mfa", "X-Auth-Session-Id", "X-Auth-Organization-Role", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"} {
			if len(got.Header[name]) != 1 {
				t.Errorf("Connection: %s: upstream %s = %q", conn, name, got.Header[name])
			}
		}
		if got.Header.Get("X-Auth-User-Id") != testIdentity().UserID {
			t.Errorf("X-Auth-User-Id = %q", got.Header.Get("X-Auth-User-Id"))
		}
	}
}

func TestProxyStripsAuthTrailers(t *testing.T) {
	up := newRecordingUpstream(t)
	p := mustProxy(t, ProxyConfig{Console: "dedibox", Upstream: mustURL(t, up.URL)})
	gw := newGateway(t, p, gatewayOpts{identity: testIdentity(), signer: mustSigner(t, nil)})
	req := "POST /private HTTP/1.1\r\nHost: c.test\r\nTransfer-Encoding: chunked\r\n" +
		"Trailer: X-Auth-User-Id, X-Other\r\nConnection: close\r\n\r\n" +
		"4\r\nbody\r\n0\r\nX-Auth-User-Id: admin\r\nX-Other: 1\r\n\r\n"
	resp, _ := rawRequest(t, gw.Listener.Addr().String(), req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := up.last(t)
	if got.Body != "body" {
		t.Errorf("body %q", got.Body)
	}
	// net/http (Go 1.26) forwards declared request trailers without their
	// values (ReverseProxy's clone gets none); stripping keeps an X-Auth-*
	// trailer from ever being declared, whatever a later Go does.
	for name, vv := range got.Trailer {
		if isAuthHeaderName(name) {
			t.Errorf("trailer %s = %q reached the upstream", name, vv)
		}
	}
	if _, ok := got.Trailer["X-Other"]; !ok {
		t.Errorf("trailers not forwarded at all (%v): the test proves nothing", got.Trailer)
	}
	if v := got.Header.Get("X-Auth-User-Id"); v != testIdentity().UserID {
		t.Errorf("X-Auth-User-Id = %q", v)
	}
}

func TestProxyXForwardedFor(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		xff     []string
		want    string
	}{
		{"untrusted peer, none", nil, nil, "127.0.0.1"},
		{"untrusted peer replaces", nil, []string{"6.6.6.6"}, "127.0.0.1"},
		{"untrusted peer replaces lines", nil, []string{"6.6.6.6", "7.7.7.7"}, "127.0.0.1"},
		{"trusted peer appends", loopback, []string{"198.51.100.7"}, "198.51.100.7, 127.0.0.1"},
		{"trusted peer joins lines", loopback, []string{"198.51.100.7", "10.0.0.1"}, "198.51.100.7, 10.0.0.1, 127.0.0.1"},
		{"trusted peer, none", loopback, nil, "127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newRecordingUpstream(t)
			p := mustProxy(t, ProxyConfig{Console: "c", Upstream: mustURL(t, up.URL), TrustedProxies: tc.trusted})
			gw := newGateway(t, p, gatewayOpts{})
			req, _ := http.NewRequest("GET", gw.URL+"/", nil)
			if tc.xff != nil {
				req.Header["X-Forwarded-For"] = tc.xff
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := up.last(t).Header["X-Forwarded-For"]
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("X-Forwarded-For = %q, want [%q]", got, tc.want)
			}
		})
	}
}

func TestProxyPathPrefixAndBase(t *testing.T) {
	up := newRecordingUpstream(t)
	tests := []struct {
		name, upstream, strip, path, want string
		status                            int
	}{
		{"console host", up.URL, "", "/a/b?q=1", "/a/b?q=1", 200},
		{"root", up.URL, "", "/", "/", 200},
		{"strip", up.URL, "/dedibox/", "/dedibox/a/b", "/a/b", 200},
		{"strip, no slash in config", up.URL, "/dedibox", "/dedibox/a/", "/a/", 200},
		{"strip to root", up.URL, "/dedibox/", "/dedibox/", "/", 200},
		{"strip bare mount", up.URL, "/dedibox/", "/dedibox", "/", 200},
		{"strip keeps query", up.URL, "/dedibox/", "/dedibox/x?a=%2F&b", "/x?a=%2F&b", 200},
		{"base path", up.URL + "/base", "", "/a", "/base/a", 200},
		{"base path with slash", up.URL + "/base/", "", "/a/", "/base/a/", 200},
		{"base path and strip", up.URL + "/base", "/dedibox/", "/dedibox/a", "/base/a", 200},
		{"base path, root", up.URL + "/base", "/dedibox", "/dedibox", "/base/", 200},
		{"encoded base path", up.URL + "/b%C3%A9se", "/m", "/m/%C3%A9", "/b%C3%A9se/%C3%A9", 200},
		{"outside the mount", up.URL, "/dedibox/", "/dediboxx/a", "", 500},
		{"other mount", up.URL, "/dedibox/", "/scaleway/a", "", 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			var pageStatus int
			p := mustProxy(t, ProxyConfig{
				Console: "dedibox", Upstream: mustURL(t, tc.upstream), StripPrefix: tc.strip,
				ErrorPage: func(w http.ResponseWriter, r *http.Request, status int) {
					pageStatus = status
					w.WriteHeader(status)
				},
			})
			gw := newGateway(t, p, gatewayOpts{})
			resp, err := http.Get(gw.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 200 {
				if up.count() != before {
					t.Error("forwarded a path outside the mount")
				}
				if pageStatus != tc.status {
					t.Errorf("ErrorPage status %d", pageStatus)
				}
				return
			}
			if got := up.last(t).RequestURI; got != tc.want {
				t.Errorf("upstream request URI %q, want %q", got, tc.want)
			}
		})
	}
}

func TestProxyBadGateway(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // a closed port: connection refused

	var pageStatus atomic.Int32
	var pagePath, pageIdentity atomic.Value
	p := mustProxy(t, ProxyConfig{
		Console: "dedibox", Upstream: mustURL(t, "http://"+addr), StripPrefix: "/mount/",
		ErrorPage: func(w http.ResponseWriter, r *http.Request, status int) {
			pageStatus.Store(int32(status))
			pagePath.Store(r.URL.Path)
			pageIdentity.Store(r.Header.Get("X-Auth-User-Id"))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]string{"error": "upstream_unavailable"})
		},
	})
	gw := newGateway(t, p, gatewayOpts{identity: testIdentity(), signer: mustSigner(t, nil)})
	resp, err := http.Get(gw.URL + "/mount/x?token=SECRET")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || pageStatus.Load() != 502 {
		t.Fatalf("status %d (page %d), want 502", resp.StatusCode, pageStatus.Load())
	}
	if !strings.Contains(string(body), "upstream_unavailable") {
		t.Errorf("body %q: ErrorPage not used", body)
	}
	// ErrorPage gets the client's request, not the outbound one.
	if pagePath.Load() != "/mount/x" || pageIdentity.Load() != "" {
		t.Errorf("ErrorPage request: path %v, X-Auth-User-Id %v", pagePath.Load(), pageIdentity.Load())
	}

	// Without ErrorPage: plain text.
	p2 := mustProxy(t, ProxyConfig{Console: "dedibox", Upstream: mustURL(t, "http://"+addr)})
	gw2 := newGateway(t, p2, gatewayOpts{})
	resp, err = http.Get(gw2.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || !strings.Contains(string(body), "Bad Gateway") {
		t.Errorf("plain: %d %q", resp.StatusCode, body)
	}
}

func TestProxyGatewayTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })

	for _, tc := range []struct {
		name      string
		transport http.RoundTripper
	}{
		{"own transport", nil},
		{"caller transport (context timeout)", NewTransport()},
		{"custom RoundTripper", roundTripperFunc(http.DefaultTransport.RoundTrip)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			var mu sync.Mutex
			p := mustProxy(t, ProxyConfig{
				Console: "dedibox", Upstream: mustURL(t, slow.URL), Timeout: 100 * time.Millisecond,
				Transport: tc.transport,
				Logger:    newTestLogger(&mu, &logs),
			})
			gw := newGateway(t, p, gatewayOpts{})
			start := time.Now()
			resp, err := http.Get(gw.URL + "/slow?token=SECRET")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusGatewayTimeout {
				t.Fatalf("status %d, want 504", resp.StatusCode)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			mu.Lock()
			defer mu.Unlock()
			if !strings.Contains(logs.String(), `"status":504`) || !strings.Contains(logs.String(), `"console":"dedibox"`) {
				t.Errorf("log %q", logs.String())
			}
			if strings.Contains(logs.String(), "SECRET") {
				t.Errorf("query logged: %q", logs.String())
			}
		})
	}
}

// TestProxyHeaderTimeoutKeepsBody: the context-based timeout stops at the
// headers; a body that streams for longer than the timeout is not cut.
func TestProxyHeaderTimeoutKeepsBody(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for i := range 3 {
			time.Sleep(60 * time.Millisecond)
			fmt.Fprintf(w, "part%d;", i)
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(up.Close)
	for _, transport := range []http.RoundTripper{nil, roundTripperFunc(http.DefaultTransport.RoundTrip)} {
		p := mustProxy(t, ProxyConfig{Console: "c", Upstream: mustURL(t, up.URL), Timeout: 100 * time.Millisecond, Transport: transport})
		gw := newGateway(t, p, gatewayOpts{})
		resp, err := http.Get(gw.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "part0;part1;part2;" {
			t.Errorf("%d %q", resp.StatusCode, body)
		}
	}
}

func TestProxyClientGoneWritesNothing(t *testing.T) {
	started := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	}))
	t.Cleanup(up.Close)
	called := false
	p := mustProxy(t, ProxyConfig{Console: "c", Upstream: mustURL(t, up.URL),
		ErrorPage: func(w http.ResponseWriter, r *http.Request, status int) { called = true }})
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("GET", "http://c.test/x", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	go func() { <-started; cancel() }()
	p.Forward(rec, r, "/x", nil)
	if called || rec.Body.Len() != 0 || rec.Code != 200 {
		t.Errorf("wrote a response to a gone client: page=%v code=%d body=%q", called, rec.Code, rec.Body.String())
	}
}

func TestProxyRefusesBadIdentity(t *testing.T) {
	up := newRecordingUpstream(t)
	var pageStatus int
	p := mustProxy(t, ProxyConfig{Console: "c", Upstream: mustURL(t, up.URL),
		ErrorPage: func(w http.ResponseWriter, r *http.Request, status int) { pageStatus = status; w.WriteHeader(status) }})
	signing := mustSigner(t, nil)
	failing := mustSigner(t, nil)
	failing.signer = failingJOSESigner{}
	for name, call := range map[string]func(w http.ResponseWriter, r *http.Request){
		"crlf email": func(w http.ResponseWriter, r *http.Request) {
			id := testIdentity()
			id.Email = "a@b.test\r\nX-Auth-User-Id: admin"
			p.signer = signing
			p.Forward(w, r, "/x", id)
		},
		"no signer": func(w http.ResponseWriter, r *http.Request) {
			p.signer = nil
			p.Forward(w, r, "/x", testIdentity())
		},
		// Signed in Rewrite: a failed signature cancels the outbound
		// request before it is dialed, and the client gets 500.
		"signature fails": func(w http.ResponseWriter, r *http.Request) {
			p.signer = failing
			p.Forward(w, r, "/x", testIdentity())
		},
	} {
		pageStatus = 0
		rec := httptest.NewRecorder()
		call(rec, httptest.NewRequest("GET", "http://c.test/x", nil))
		if rec.Code != 500 || pageStatus != 500 {
			t.Errorf("%s: status %d", name, rec.Code)
		}
	}
	if up.count() != 0 {
		t.Error("a refused identity was forwarded")
	}
}

// TestProxyUpgrade: WebSocket passes; h2c and any other protocol switch are
// never forwarded (SECURITY family 2).
func TestProxyUpgrade(t *testing.T) {
	var mu sync.Mutex
	var seen http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			io.WriteString(w, "plain")
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		buf := make([]byte, 64)
		for {
			n, err := brw.Read(buf)
			if err != nil {
				return
			}
			conn.Write([]byte("echo:" + string(buf[:n])))
		}
	}))
	t.Cleanup(up.Close)
	upstreamHeader := func() http.Header {
		mu.Lock()
		defer mu.Unlock()
		return seen
	}

	for _, transport := range []http.RoundTripper{nil, roundTripperFunc(http.DefaultTransport.RoundTrip)} {
		p := mustProxy(t, ProxyConfig{Console: "c", Upstream: mustURL(t, up.URL), Transport: transport, Timeout: time.Second})
		gw := newGateway(t, p, gatewayOpts{identity: testIdentity(), signer: mustSigner(t, nil)})
		addr := gw.Listener.Addr().String()

		t.Run("websocket", func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: c.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
				"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Auth-User-Id: admin\r\n\r\n")
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("status %d, want 101", resp.StatusCode)
			}
			for _, msg := range []string{"ping", "pong"} {
				io.WriteString(conn, msg)
				buf := make([]byte, 64)
				n, err := br.Read(buf)
				if err != nil {
					t.Fatal(err)
				}
				if got := string(buf[:n]); got != "echo:"+msg {
					t.Fatalf("got %q", got)
				}
			}
			h := upstreamHeader()
			if h.Get("X-Auth-User-Id") != testIdentity().UserID || h.Get("Sec-Websocket-Key") == "" {
				t.Errorf("upstream saw %v", h)
			}
		})

		for _, tc := range []struct{ name, headers string }{
			{"h2c", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"},
			{"h2c upper", "Connection: upgrade\r\nUpgrade: H2C\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"},
			{"h2c, settings not hop-by-hop", "Connection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"},
			{"h2c after websocket", "Connection: Upgrade\r\nUpgrade: websocket, h2c\r\n"},
			{"other protocol", "Connection: Upgrade\r\nUpgrade: foo/1\r\n"},
			{"tls", "Connection: Upgrade\r\nUpgrade: TLS/1.2\r\n"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := rawRequest(t, addr, "GET /x HTTP/1.1\r\nHost: c.test\r\n"+tc.headers+"\r\n")
				if resp.StatusCode != 200 || body != "plain" {
					t.Fatalf("%d %q", resp.StatusCode, body)
				}
				h := upstreamHeader()
				for _, name := range []string{"Upgrade", "Http2-Settings"} {
					if v := h.Get(name); v != "" {
						t.Errorf("upstream got %s: %q", name, v)
					}
				}
				if c := h.Get("Connection"); strings.Contains(strings.ToLower(c), "upgrade") {
					t.Errorf("upstream got Connection: %q", c)
				}
			})
		}
	}
}

// TestProxyStreaming: server-sent events are flushed as they come.
func TestProxyStreaming(t *testing.T) {
	next := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-next:
		case <-time.After(5 * time.Second):
		}
		io.WriteString(w, "data: two\n\n")
	}))
	t.Cleanup(up.Close)
	p := mustProxy(t, ProxyConfig{Console: "c", Upstream: mustURL(t, up.URL)})
	gw := newGateway(t, p, gatewayOpts{})
	resp, err := http.Get(gw.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event %q, %v", line, err)
	}
	close(next)
	rest, _ := io.ReadAll(br)
	if string(rest) != "\ndata: two\n\n" {
		t.Errorf("rest %q", rest)
	}
}

func TestNewProxyRejects(t *testing.T) {
	good := mustURL(t, "http://127.0.0.1:8000")
	for name, cfg := range map[string]ProxyConfig{
		"no upstream":        {},
		"ftp":                {Upstream: mustURL(t, "ftp://h/")},
		"no host":            {Upstream: mustURL(t, "http:///x")},
		"user info":          {Upstream: mustURL(t, "http://u:p@h/")},
		"query":              {Upstream: mustURL(t, "http://h/?a=1")},
		"fragment":           {Upstream: mustURL(t, "http://h/#x")},
		"bad base":           {Upstream: mustURL(t, "http://h/a/../b")},
		"bad strip":          {Upstream: good, StripPrefix: "/a/../b/"},
		"relative strip":     {Upstream: good, StripPrefix: "dedibox/"},
		"bad public scheme":  {Upstream: good, PublicScheme: "ftp"},
		"negative timeout":   {Upstream: good, Timeout: -time.Second},
		"encoded slash base": {Upstream: mustURL(t, "http://h/a%2Fb")},
	} {
		if _, err := NewProxy(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewProxy(ProxyConfig{Upstream: good}); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}

func TestNewTransport(t *testing.T) {
	tr := NewTransport()
	if tr.Proxy != nil || tr.MaxIdleConnsPerHost < 100 || !tr.DisableCompression || tr.ForceAttemptHTTP2 || tr.ResponseHeaderTimeout != DefaultTimeout {
		t.Errorf("transport %+v", tr)
	}
	p := mustProxy(t, ProxyConfig{Upstream: mustURL(t, "http://h"), Timeout: 7 * time.Second})
	if own, ok := p.transport.(*http.Transport); !ok || own.ResponseHeaderTimeout != 7*time.Second {
		t.Errorf("own transport %T", p.transport)
	}
	shared := NewTransport()
	p = mustProxy(t, ProxyConfig{Upstream: mustURL(t, "http://h"), Timeout: 7 * time.Second, Transport: shared})
	if shared.ResponseHeaderTimeout != DefaultTimeout {
		t.Error("caller's transport modified")
	}
	if w, ok := p.transport.(*headerTimeoutTransport); !ok || w.timeout != 7*time.Second {
		t.Errorf("caller transport not wrapped: %T", p.transport)
	}
}

// TestProxyConnectionReuse: pooling stays effective (one upstream connection
// for sequential requests).
func TestProxyConnectionReuse(t *testing.T) {
	var conns atomic.Int32
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	up.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	p := mustProxy(t, ProxyConfig{Console: "c", Upstream: mustURL(t, up.URL)})
	for range 50 {
		rec := httptest.NewRecorder()
		p.Forward(rec, httptest.NewRequest("GET", "http://c.test/x", nil), "/x", nil)
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d upstream connections for 50 sequential requests, want 1", n)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHeaderTimeoutTransportErrors(t *testing.T) {
	boom := errors.New("boom")
	tr := &headerTimeoutTransport{next: roundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, boom }), timeout: time.Second}
	r := httptest.NewRequest("GET", "http://h/", nil)
	if _, err := tr.RoundTrip(r); !errors.Is(err, boom) {
		t.Errorf("error %v, want boom", err)
	}
	var ne net.Error
	if !errors.As(errHeaderTimeout, &ne) || !ne.Timeout() {
		t.Error("errHeaderTimeout is not a timeout net.Error")
	}
}

func benchmarkUpstream(b *testing.B) *httptest.Server {
	b.Helper()
	body := strings.Repeat("x", 512)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}))
	b.Cleanup(up.Close)
	return up
}

// BenchmarkForward is the gateway's per-request work for an authenticated
// request: canonical path, cached assertion, Forward to an httptest upstream.
func BenchmarkForward(b *testing.B) {
	benchmarkForward(b, nil)
}

// BenchmarkForwardCallerTransport is BenchmarkForward with a caller-supplied
// (shared) transport, whose timeout is enforced per request by
// headerTimeoutTransport.
func BenchmarkForwardCallerTransport(b *testing.B) {
	benchmarkForward(b, NewTransport())
}

func benchmarkForward(b *testing.B, transport http.RoundTripper) {
	up := benchmarkUpstream(b)
	s := mustSigner(b, nil)
	p := mustProxy(b, ProxyConfig{Console: "dedibox", Upstream: mustURL(b, up.URL), CookieName: "unigate_session", PublicScheme: "https", Transport: transport, Signer: s})
	id := testIdentity()
	req := httptest.NewRequest("GET", "http://console.example.test/api/v1/servers/123?page=2", nil)
	req.Header.Set("Cookie", "unigate_session=abc; other=1")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Auth-User-Id", "spoof")
	b.ReportAllocs()
	for b.Loop() {
		canon, err := CanonicalPath(req.URL.EscapedPath())
		if err != nil {
			b.Fatal(err)
		}
		rec := httptest.NewRecorder()
		p.Forward(rec, req, canon, id)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkBareReverseProxy is the same exchange through a minimal
// httputil.ReverseProxy on the same tuned transport, for comparison.
func BenchmarkBareReverseProxy(b *testing.B) {
	up := benchmarkUpstream(b)
	target := mustURL(b, up.URL)
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport: NewTransport(),
	}
	req := httptest.NewRequest("GET", "http://console.example.test/api/v1/servers/123?page=2", nil)
	req.Header.Set("Cookie", "unigate_session=abc; other=1")
	req.Header.Set("Accept", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// lockedWriter serialises writes from the proxy's goroutines.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newTestLogger(mu *sync.Mutex, w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(lockedWriter{mu, w}, nil))
}

// TestProxyRefusesNonCanonicalPath: Forward re-checks its input; a gateway
// bug passing r.URL.Path or a raw path never reaches the upstream.
func TestProxyRefusesNonCanonicalPath(t *testing.T) {
	up := newRecordingUpstream(t)
	p := mustProxy(t, ProxyConfig{Console: "c", Upstream: mustURL(t, up.URL)})
	for _, path := range []string{"", "x", "/api/../admin", "/api/..;/admin", "//admin", "/a/%2e%2e/b", "/a%2fb", "/a/./b", "/%7e", "/a b"} {
		rec := httptest.NewRecorder()
		p.Forward(rec, httptest.NewRequest("GET", "http://c.test/", nil), path, nil)
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("Forward(%q): status %d, want 500", path, rec.Code)
		}
	}
	if up.count() != 0 {
		t.Errorf("%d non-canonical paths forwarded", up.count())
	}
}

// failingJOSESigner makes every signature fail.
type failingJOSESigner struct{}

func (failingJOSESigner) Sign([]byte) (*jose.JSONWebSignature, error) {
	return nil, errors.New("signing device unavailable")
}
func (failingJOSESigner) Options() jose.SignerOptions { return jose.SignerOptions{} }
