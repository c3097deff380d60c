package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"unigate/session"
	"unigate/upstreams"
)

// benchRequest builds a logged-in console request the way a browser sends it.
func benchSetup(b *testing.B, store session.Store) (*harness, *http.Request) {
	h := newHarnessWithStore(b, store)
	h.createAccount("bench@example.com", "correct horse battery")
	br := h.browser()
	br.login("bench@example.com", "correct horse battery")
	br.enter("scaleway")
	c := br.cookie("console.scaleway.test")
	req := httptest.NewRequest("GET", "http://console.scaleway.test:8080/instances?page=1", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "bench")
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	req.RemoteAddr = "192.0.2.10:40000"
	return h, req
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

func runProxyBench(b *testing.B, handler http.Handler, req *http.Request) {
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := req.Clone(context.Background())
		handler.ServeHTTP(&discardWriter{h: http.Header{}}, r)
	}
}

// BenchmarkBareReverseProxy is the baseline: httputil.ReverseProxy alone to the same upstream.
func BenchmarkBareReverseProxy(b *testing.B) {
	h, req := benchSetup(b, nil)
	target, _ := url.Parse(h.scaleway.srv.URL)
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.Out.Host = pr.In.Host },
		Transport: upstreams.NewTransport()}
	runProxyBench(b, rp, req)
}

// BenchmarkGatewayMemoryStore is the whole hot path of a proxied request:
// cookie, session, identity headers, cached assertion, proxy, metrics.
func BenchmarkGatewayMemoryStore(b *testing.B) {
	h, req := benchSetup(b, nil)
	runProxyBench(b, h.gw, req)
}

// BenchmarkGatewayRedisStore is the same with sessions in real Redis (one GETEX per request).
func BenchmarkGatewayRedisStore(b *testing.B) {
	u := os.Getenv("UNIGATE_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		b.Fatal(err)
	}
	client := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		b.Skipf("Redis not reachable: %v", err)
	}
	defer client.Close()
	store := session.NewRedisStore(client, session.RedisOptions{KeyPrefix: "bench-gateway:"})
	h, req := benchSetup(b, store)
	runProxyBench(b, h.gw, req)
}

// BenchmarkGatewayTrackingStore is the default configuration: Redis with the
// CLIENT TRACKING cache in front (no round trip on a warm session).
func BenchmarkGatewayTrackingStore(b *testing.B) {
	u := os.Getenv("UNIGATE_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		b.Fatal(err)
	}
	client := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		b.Skipf("Redis not reachable: %v", err)
	}
	defer client.Close()
	store, err := session.NewTrackingStore(session.NewRedisStore(client, session.RedisOptions{KeyPrefix: "bench-gateway-tracking:"}), client, session.TrackingOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	h, req := benchSetup(b, store)
	runProxyBench(b, h.gw, req)
}
