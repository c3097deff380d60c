package gateway

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawServer serves the harness's gateway on a real listener with the
// production server limits, for requests written byte by byte.
func rawServer(t *testing.T, h *harness) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(h.gw, slog.New(slog.DiscardHandler))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// rawRequest writes req as is and returns the status line's code.
func rawRequest(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return resp.StatusCode, string(body)
}

// HTTP robustness (SECURITY family 8): one framing per request, bounded
// headers and bodies, hostile bytes refused, never a 500 and never through.
func TestHTTPRobustness(t *testing.T) {
	h := newHarness(t)
	addr := rawServer(t, h)
	cases := []struct {
		name   string
		req    string
		status int
	}{
		{"huge header", "GET /login HTTP/1.1\r\nHost: account.test\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", 431},
		{"CL and TE together", "POST /api/v1/login/identify HTTP/1.1\r\nHost: account.test\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"two different CL", "POST /api/v1/login/identify HTTP/1.1\r\nHost: account.test\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400},
		{"TE not chunked", "POST /x HTTP/1.1\r\nHost: console.scaleway.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
		{"NUL in header", "GET /login HTTP/1.1\r\nHost: account.test\r\nX-A: a\x00b\r\n\r\n", 400},
		{"NUL in path", "GET /x\x00y HTTP/1.1\r\nHost: console.scaleway.test\r\n\r\n", 400},
		{"encoded NUL in path", "GET /api/%00 HTTP/1.1\r\nHost: console.online.test\r\n\r\n", 400},
		{"invalid UTF-8 in path", "GET /api/%ff%fe HTTP/1.1\r\nHost: console.online.test\r\n\r\n", 400},
		{"space in host", "GET / HTTP/1.1\r\nHost: account test\r\n\r\n", 400},
		{"no host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"absolute-form to other host", "GET http://evil.test/ HTTP/1.1\r\nHost: account.test\r\n\r\n", 421},
		{"body too large, refused before it is sent", "POST /api/v1/login/identify HTTP/1.1\r\nHost: account.test\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{", 413},
		{"garbage cookie", "GET /api/v1/session HTTP/1.1\r\nHost: account.test\r\nCookie: unigate_session=%%%%;;==; unigate_session=\"x\"\r\n\r\n", 401},
		{"DEL in cookie", "GET /api/v1/session HTTP/1.1\r\nHost: account.test\r\nCookie: unigate_session=a\x7fb\r\n\r\n", 400},
		{"oversized cookie", "GET /api/v1/session HTTP/1.1\r\nHost: account.test\r\nCookie: unigate_session=" + strings.Repeat("A", 8000) + "\r\n\r\n", 401},
		{"many cookies", "GET /x HTTP/1.1\r\nHost: console.scaleway.test\r\nAccept: application/json\r\nCookie: " + strings.Repeat("unigate_session=x; ", 500) + "\r\n\r\n", 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, body := rawRequest(t, addr, tc.req)
			if got != tc.status {
				t.Errorf("got %d, want %d (%q)", got, tc.status, body)
			}
		})
	}
	if n := h.scaleway.count() + h.dedibox.count(); n != 0 {
		t.Fatalf("%d malformed requests reached an upstream", n)
	}
}

func TestServerLimits(t *testing.T) {
	srv := NewHTTPServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if srv.ReadHeaderTimeout <= 0 || srv.ReadHeaderTimeout > 30*time.Second {
		t.Errorf("ReadHeaderTimeout %v: slow clients must be cut", srv.ReadHeaderTimeout)
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 64<<10 {
		t.Errorf("MaxHeaderBytes %d", srv.MaxHeaderBytes)
	}
}

// h2c upgrade requests are never forwarded; WebSocket upgrades are.
func TestUpgradesThroughTheGateway(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enter("scaleway")
	r := b.do("GET", scalewayURL+"/x", nil, "Connection", "Upgrade, HTTP2-Settings", "Upgrade", "h2c", "HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")
	if r.StatusCode != 200 {
		t.Fatalf("h2c request: %d", r.StatusCode)
	}
	got := h.scaleway.last(t)
	if got.Header.Get("Upgrade") != "" || got.Header.Get("Http2-Settings") != "" {
		t.Errorf("h2c upgrade forwarded: %v", got.Header)
	}
}
