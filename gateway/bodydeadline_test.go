package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// stalledPost writes a request whose headers promise a body of 100 bytes,
// sends 10 of them and stalls; it returns the response status (0 when the
// connection was closed without one) and how long the answer took.
func stalledPost(t *testing.T, addr, host, path string) (int, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	conn.SetDeadline(start.Add(5 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":", path, host)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	took := time.Since(start)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return -1, took // still held after 5 s
	case err != nil:
		return 0, took
	}
	resp.Body.Close()
	return resp.StatusCode, took
}

// TestBodyReadDeadline: a body that stalls is cut at the deadline and the
// handler answers as for a broken body; a body sent in time is read whole,
// and a handler still working after the deadline keeps its context.
func TestBodyReadDeadline(t *testing.T) {
	const d = 200 * time.Millisecond
	srv := httptest.NewServer(withBodyReadDeadline(d, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(2 * d): // work on past the deadline
		case <-r.Context().Done():
			http.Error(w, "cancelled", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "%d", len(body))
	})))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")

	status, took := stalledPost(t, addr, "x.test", "/")
	if status == -1 || took > 2*time.Second {
		t.Errorf("stalled body: held %v (status %d), want it cut after about %v", took, status, d)
	} else if status != 0 && status != http.StatusBadRequest {
		t.Errorf("stalled body: status %d, want 400 or the connection closed", status)
	}

	for range 2 { // twice: the connection's next request is not cut by the first's deadline
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"email":"a@example.com"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "25" {
			t.Errorf("body in time: %d %q, want 200 \"25\"", resp.StatusCode, body)
		}
		time.Sleep(2 * d)
	}
}

// TestOwnEndpointsCutStalledBodies (issue 16, finding 15): a POST to the
// account site or to /.auth/* whose body stalls is answered within the
// deadline instead of being held; a proxied console upload that takes
// longer still reaches the console.
func TestOwnEndpointsCutStalledBodies(t *testing.T) {
	saved := ownBodyReadTimeout
	ownBodyReadTimeout = 300 * time.Millisecond
	h := newHarness(t)
	ownBodyReadTimeout = saved
	addr := strings.TrimPrefix(h.srv.URL, "http://")

	for _, tc := range []struct{ host, path string }{
		{"account.test:8080", "/api/v1/login/identify"},
		{"account.test:8080", "/login"},
		{"console.online.test", "/.auth/logout"},
	} {
		status, took := stalledPost(t, addr, tc.host, tc.path)
		if status == -1 || took > 3*time.Second {
			t.Errorf("%s%s: stalled body held %v (status %d), want it cut", tc.host, tc.path, took, status)
		}
	}

	// A console's public path: the body comes in two parts, the second
	// after the gateway's deadline; the console gets it whole.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "POST /api/upload HTTP/1.1\r\nHost: console.online.test\r\nContent-Type: application/octet-stream\r\nContent-Length: 20\r\n\r\n0123456789")
	time.Sleep(600 * time.Millisecond)
	io.WriteString(conn, "abcdefghij")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("slow upload to the console: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("slow upload to the console: status %d, want 200", resp.StatusCode)
	}
	if got, _ := io.ReadAll(h.dedibox.last(t).Body); string(got) != "0123456789abcdefghij" {
		t.Errorf("the console received %q", got)
	}
}
