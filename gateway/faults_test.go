package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"unigate/session"
)

// failingStore wraps a store and fails every call while down is set, the way
// the Redis store does when Redis is unreachable.
type failingStore struct {
	session.Store
	down atomic.Bool
}

func (f *failingStore) fail() error {
	if f.down.Load() {
		return fmt.Errorf("%w: connection refused", session.ErrUnavailable)
	}
	return nil
}

func (f *failingStore) Create(ctx context.Context, s *session.Session, ttl time.Duration) (string, error) {
	if err := f.fail(); err != nil {
		return "", err
	}
	return f.Store.Create(ctx, s, ttl)
}

func (f *failingStore) Get(ctx context.Context, h string, ttl time.Duration) (*session.Session, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.Get(ctx, h, ttl)
}

func (f *failingStore) Save(ctx context.Context, s *session.Session, ttl time.Duration) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Save(ctx, s, ttl)
}

func (f *failingStore) Delete(ctx context.Context, h string) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Delete(ctx, h)
}

func (f *failingStore) Hit(ctx context.Context, k string, w time.Duration) (int64, time.Duration, error) {
	if err := f.fail(); err != nil {
		return 0, 0, err
	}
	return f.Store.Hit(ctx, k, w)
}

func (f *failingStore) CreateHandoff(ctx context.Context, h session.Handoff, ttl time.Duration) (string, error) {
	if err := f.fail(); err != nil {
		return "", err
	}
	return f.Store.CreateHandoff(ctx, h, ttl)
}

func (f *failingStore) TakeHandoff(ctx context.Context, code string) (session.Handoff, error) {
	if err := f.fail(); err != nil {
		return session.Handoff{}, err
	}
	return f.Store.TakeHandoff(ctx, code)
}

func (f *failingStore) Ping(ctx context.Context) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Ping(ctx)
}

// Session store down: nothing needing a session is let through, nothing is
// issued, and service resumes by itself (CONTRACT §7, SECURITY family 9).
func TestSessionStoreDownFailsClosed(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	store := &failingStore{Store: session.NewMemoryStore(clock.Now)}
	h := newHarnessWithStore(t, store)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enter("scaleway")
	victim := h.browser()
	victim.login("alice@example.com", "correct horse battery")

	store.down.Store(true)
	if r := b.do("GET", scalewayURL+"/x", nil, "Accept", "application/json"); r.StatusCode != 503 {
		t.Fatalf("console while down: got %d, want 503", r.StatusCode)
	}
	if r := b.do("GET", scalewayURL+"/x", nil, "Accept", "text/html"); r.StatusCode != 503 {
		t.Fatalf("console page while down: got %d, want 503", r.StatusCode)
	}
	if r := b.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 503 {
		t.Fatalf("session while down: got %d, want 503", r.StatusCode)
	}
	nb := h.browser()
	if r := nb.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"}); r.StatusCode != 503 || nb.cookie("account.test") != nil {
		t.Fatalf("identify while down: got %d", r.StatusCode)
	}
	if r := b.do("GET", accountURL+"/readyz", nil); r.StatusCode != 503 || !strings.Contains(string(r.body), "session_store") {
		t.Fatalf("readyz while down: %d %s", r.StatusCode, r.body)
	}
	if h.scaleway.count() != 0 {
		t.Fatal("a request reached the upstream while the store was down")
	}
	// Public paths need no session: they still pass.
	if r := b.do("GET", dediboxURL+"/api/ping", nil); r.StatusCode != 200 {
		t.Fatalf("public path while down: got %d", r.StatusCode)
	}

	store.down.Store(false)
	if r := b.do("GET", scalewayURL+"/x", nil); r.StatusCode != 200 {
		t.Fatalf("after recovery: got %d, want 200", r.StatusCode)
	}
	// A revocation made before the outage still holds after it.
	victim.do("POST", accountURL+"/api/v1/logout", nil)
	store.down.Store(true)
	store.down.Store(false)
	if r := victim.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 401 {
		t.Fatalf("revoked session after the outage: got %d", r.StatusCode)
	}
	if got := counterValue(t, h, "unigate_session_store_errors_total", map[string]string{"op": "get"}); got < 3 {
		t.Errorf("store error metric: got %v", got)
	}
}

func TestMetricsHandler(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enter("dedibox")
	b.do("GET", dediboxURL+"/", nil)
	srv := httptest.NewServer(h.gw.MetricsHandler(h.reg))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`unigate_proxy_requests_total{code="200",console="dedibox"} 1`,
		`unigate_proxy_request_duration_seconds_count{console="dedibox"} 1`,
		`unigate_login_attempts_total{method="password",result="success"} 1`,
		`unigate_sessions_created_total 1`,
		`unigate_sessions_revoked_total 0`,
		`unigate_session_store_errors_total{op="get"} 0`,
		`unigate_unauthenticated_requests_total{console="scaleway"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", p, err, resp.StatusCode)
		}
	}
}
