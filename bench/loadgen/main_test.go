package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckTarget(t *testing.T) {
	tests := []struct {
		url  string
		ok   bool
		want string // substring of the error
	}{
		{"http://127.0.0.1:8080/", true, ""},
		{"http://127.9.9.9/x", true, ""},
		{"https://[::1]:8443/", true, ""},
		{"http://localhost:1234/", true, ""},
		{"http://LOCALHOST/", true, ""},
		{"http://[::ffff:127.0.0.1]/", true, ""},
		{"", false, "required"},
		{"http://10.0.0.1/", false, "not loopback"},
		{"http://192.168.1.1/", false, "not loopback"},
		{"http://8.8.8.8/", false, "not loopback"},
		{"http://example.com/", false, "not loopback"},
		{"http://console.localhost/", false, "not loopback"},
		{"http://localhost.example.com/", false, "not loopback"},
		{"http://127.0.0.1.nip.io/", false, "not loopback"},
		{"http://0.0.0.0/", false, "not loopback"},
		{"http://[::]/", false, "not loopback"},
		{"http://[fe80::1%25lo]/", false, "not loopback"},
		{"ftp://127.0.0.1/", false, "scheme"},
		{"127.0.0.1:8080", false, "-url"},
		{"//127.0.0.1:8080/", false, "scheme"},
		{"http://u:p@127.0.0.1/", false, "user info"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := checkTarget(tt.url)
			if tt.ok {
				if err != nil {
					t.Fatalf("checkTarget(%q) = %v, want nil", tt.url, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("checkTarget(%q) = %v, want error containing %q", tt.url, err, tt.want)
			}
		})
	}
}

func TestLoopbackOnly(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:80", true},
		{"[::1]:80", true},
		{"10.1.2.3:80", false},
		{"[2001:db8::1]:443", false},
		{"garbage", false},
	}
	for _, tt := range tests {
		if err := loopbackOnly("tcp", tt.addr, nil); (err == nil) != tt.ok {
			t.Errorf("loopbackOnly(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
		}
	}
}

func TestBucketsContiguous(t *testing.T) {
	// Every bucket starts where the previous one ended, and values map back
	// into the bucket whose range holds them.
	var next uint64
	for i := 0; i < numBuckets; i++ {
		lo, width := bucketRange(i)
		if lo != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, lo, next)
		}
		for _, v := range []uint64{lo, lo + width - 1} {
			if got := bucketOf(v); got != i {
				t.Fatalf("bucketOf(%d) = %d, want %d", v, got, i)
			}
		}
		next = lo + width
		if next == 0 { // wrapped past the top of uint64
			break
		}
	}
}

func TestQuantile(t *testing.T) {
	h := newHistogram()
	for i := 1; i <= 10000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 5000 * time.Microsecond},
		{0.9, 9000 * time.Microsecond},
		{0.99, 9900 * time.Microsecond},
		{1, 10000 * time.Microsecond},
	}
	for _, tt := range tests {
		got := h.quantile(tt.q)
		if diff := float64(got-tt.want) / float64(tt.want); diff < -0.01 || diff > 0.01 {
			t.Errorf("quantile(%v) = %v, want %v ±1%%", tt.q, got, tt.want)
		}
	}
	if got, want := h.mean(), 5000500*time.Nanosecond; got != want {
		t.Errorf("mean = %v, want %v", got, want)
	}

	merged := newHistogram()
	merged.merge(h)
	merged.merge(newHistogram())
	if merged.count != h.count || merged.min != h.min || merged.max != h.max || merged.quantile(0.5) != h.quantile(0.5) {
		t.Errorf("merge changed the figures: count %d min %v max %v", merged.count, merged.min, merged.max)
	}
}

func TestRun(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Host != "console.localhost:1" || r.Header.Get("Cookie") != "s=1" {
			http.Error(w, "wrong host or cookie", http.StatusBadRequest)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	cfg, err := parseFlags([]string{"-url", srv.URL + "/x", "-host", "console.localhost:1", "-cookie", "s=1",
		// The bound on requests is far above what 200 ms can send: with a
		// small one, a fast machine sent them all within the warm-up and
		// none was counted.
		"-c", "2", "-d", "200ms", "-warmup", "20ms", "-n", "1000000", "-name", "t"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	res := run(cfg)
	if res.Errors != 0 || res.Non2xx != 0 {
		t.Fatalf("errors=%d non2xx=%d, want 0 and 0", res.Errors, res.Non2xx)
	}
	if res.Requests == 0 || res.Sent > 1000000 || res.Requests > res.Sent {
		t.Fatalf("requests=%d sent=%d, want 0 < requests ≤ sent ≤ 1000000", res.Requests, res.Sent)
	}
	if got := hits.Load(); got != res.Sent {
		t.Errorf("server saw %d requests, loadgen sent %d", got, res.Sent)
	}
	if !strings.HasPrefix(res.line(), "t rps=") {
		t.Errorf("line = %q, want it to start with %q", res.line(), "t rps=")
	}
}

func TestRunCountsNon2xx(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://example.com/", http.StatusFound) // must not be followed
	}))
	defer srv.Close()
	cfg, err := parseFlags([]string{"-url", srv.URL, "-c", "1", "-d", "100ms", "-warmup", "0s", "-n", "20"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	res := run(cfg)
	if res.Non2xx == 0 || res.Non2xx != res.Requests || res.Errors != 0 {
		t.Fatalf("non2xx=%d requests=%d errors=%d, want every answer counted as non-2xx", res.Non2xx, res.Requests, res.Errors)
	}
}

func TestParseFlagsRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"-url", "http://10.0.0.1/"},
		{"-url", "http://127.0.0.1/", "-c", "0"},
		{"-url", "http://127.0.0.1/", "-d", "0s"},
		{"-url", "http://127.0.0.1/", "-n", "0"},
		{"-url", "http://127.0.0.1/", "extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) = nil error, want one", args)
		}
	}
}
