package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"unigate/accounts"
	"unigate/config"
	"unigate/session"
	"unigate/upstreams"
)

// fakeClock is the injected clock: timeouts are tested without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// upstream is a console upstream that records what it received.
type upstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newUpstream(t testing.TB, name string) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r2 := r.Clone(context.Background())
		r2.Body = io.NopCloser(strings.NewReader(string(body)))
		u.mu.Lock()
		u.reqs = append(u.reqs, r2)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, name+" "+r.URL.RequestURI())
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) last(t testing.TB) *http.Request {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("upstream received nothing")
	}
	return u.reqs[len(u.reqs)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

type harness struct {
	t        testing.TB
	cfg      *config.Config
	gw       *Server
	srv      *httptest.Server
	sessions session.Store
	accounts accounts.Store
	hasher   *accounts.Hasher
	clock    *fakeClock
	reg      *prometheus.Registry
	dedibox  *upstream
	scaleway *upstream
	signer   *upstreams.Signer
}

type harnessOption func(*config.Config)

// writeKeys writes a session key and a signing key into dir and returns their paths.
func writeKeys(t testing.TB, dir string) (string, string) {
	t.Helper()
	sk := make([]byte, 64)
	rand.Read(sk)
	skPath := filepath.Join(dir, "session.key")
	if err := os.WriteFile(skPath, sk, 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pemPath := filepath.Join(dir, "signing.pem")
	if err := os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return skPath, pemPath
}

// newHarness starts a gateway in front of two recording upstreams, with the
// memory session store (on the fake clock) and SQLite, unless options say otherwise.
func newHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	return newHarnessWithStore(t, nil, opts...)
}

func newHarnessWithStore(t testing.TB, store session.Store, opts ...harnessOption) *harness {
	t.Helper()
	return newHarnessWithDeps(t, store, nil, opts...)
}

// newHarnessWithDeps lets a test adjust the gateway's dependencies (e.g. SSO providers).
func newHarnessWithDeps(t testing.TB, store session.Store, deps func(*Deps), opts ...harnessOption) *harness {
	t.Helper()
	dir := t.TempDir()
	skPath, pemPath := writeKeys(t, dir)
	// The clock starts at the real time: Redis, PostgreSQL and the session
	// store's checks keep real time, and a fixed date drifts into their
	// past (it made tests fail once the day it named had gone by).
	h := &harness{t: t, clock: &fakeClock{t: time.Now().UTC().Truncate(time.Second)}}
	h.dedibox = newUpstream(t, "dedibox")
	h.scaleway = newUpstream(t, "scaleway")
	cfg := &config.Config{
		PublicURL: "http://account.test:8080",
		Secrets:   config.Secrets{SessionKeyFile: skPath, SigningKeyFile: pemPath},
		Session:   config.Session{Store: "memory"},
		Accounts:  config.Accounts{Driver: "sqlite", DSN: filepath.Join(dir, "accounts.db")},
		// bcrypt's least cost: the padding of every password check costs ~1 ms.
		Login: config.Login{LegacyLoginCutoff: "2025-10-28", ImportedBcryptCost: 4},
		Consoles: []config.Console{
			{ID: "dedibox", Name: "Dedibox", Hosts: []string{"console.online.test"}, Upstream: h.dedibox.srv.URL, PublicPaths: []string{"/api/"}},
			{ID: "scaleway", Name: "Scaleway", Hosts: []string{"console.scaleway.test"}, Upstream: h.scaleway.srv.URL},
		},
	}
	for _, o := range opts {
		o(cfg)
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	h.cfg = cfg
	if store == nil {
		store = session.NewMemoryStore(h.clock.Now)
	}
	h.sessions = store
	acc, err := accounts.Open(context.Background(), "sqlite", cfg.Accounts.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	h.accounts = acc
	h.hasher = accounts.NewHasher(0)
	h.signer, err = upstreams.NewSigner(cfg.SigningKey(), cfg.Public().String(), h.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	h.reg = prometheus.NewRegistry()
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	d := Deps{Config: cfg, Sessions: store, Accounts: acc, Hasher: h.hasher, Signer: h.signer,
		Logger: logger, Registry: h.reg, Clock: h.clock.Now, Mailer: &recordingMailer{}}
	if deps != nil {
		deps(&d)
	}
	h.gw, err = New(d)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(h.gw)
	t.Cleanup(h.srv.Close)
	return h
}

// createAccount makes an account with a password and one account in each console.
func (h *harness) createAccount(email, password string, consoles ...accounts.ConsoleAccount) *accounts.Account {
	h.t.Helper()
	hash, err := h.hasher.Hash(context.Background(), password)
	if err != nil {
		h.t.Fatal(err)
	}
	a := &accounts.Account{Email: email, EmailVerified: true, PasswordHash: hash}
	if consoles == nil {
		consoles = []accounts.ConsoleAccount{
			{Console: "dedibox", ExternalID: "ded-" + email},
			{Console: "scaleway", ExternalID: "scw-" + email},
		}
	}
	if err := h.accounts.CreateAccount(context.Background(), a, consoles); err != nil {
		h.t.Fatal(err)
	}
	return a
}

// browser keeps cookies per host, like a real one, and never follows redirects.
type browser struct {
	h       *harness
	mu      sync.Mutex
	cookies map[string]map[string]*http.Cookie // host -> name -> cookie
	headers http.Header                        // sent with every request
}

func (h *harness) browser() *browser {
	return &browser{h: h, cookies: map[string]map[string]*http.Cookie{}, headers: http.Header{}}
}

type response struct {
	*http.Response
	body []byte
}

func (r *response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not JSON (%d): %q", r.StatusCode, r.body)
	}
	return m
}

// do sends method to rawURL (its host is sent as Host; the request goes to the test server).
func (b *browser) do(method, rawURL string, body any, hdr ...string) *response {
	b.h.t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		b.h.t.Fatal(err)
	}
	var rd io.Reader
	ctype := ""
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
		ctype = "application/x-www-form-urlencoded"
	case url.Values:
		rd = strings.NewReader(v.Encode())
		ctype = "application/x-www-form-urlencoded"
	default:
		data, _ := json.Marshal(v)
		rd = strings.NewReader(string(data))
		ctype = "application/json"
	}
	req, err := http.NewRequest(method, b.h.srv.URL+u.RequestURI(), rd)
	if err != nil {
		b.h.t.Fatal(err)
	}
	if u.RawPath != "" || strings.Contains(rawURL, "%") {
		req.URL.Opaque = "" // keep the exact escaping
		req.URL.RawPath = u.RawPath
	}
	req.Host = u.Host
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, vs := range b.headers {
		req.Header[k] = vs
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	host := u.Hostname()
	b.mu.Lock()
	for _, c := range b.cookies[host] {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	b.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		b.h.t.Fatal(err)
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

// cookie returns the session cookie the browser holds for host.
func (b *browser) cookie(host string) *http.Cookie {
	b.mu.Lock()
	defer b.mu.Unlock()
	for name, c := range b.cookies[host] {
		if strings.HasSuffix(name, "unigate_session") {
			return c
		}
	}
	return nil
}

const (
	accountURL  = "http://account.test:8080"
	dediboxURL  = "http://console.online.test:8080"
	scalewayURL = "http://console.scaleway.test:8080"
)

// login runs identify + password and expects done.
func (b *browser) login(email, password string) map[string]any {
	b.h.t.Helper()
	r := b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": email})
	if r.StatusCode != 200 {
		b.h.t.Fatalf("identify: %d %s", r.StatusCode, r.body)
	}
	r = b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": password})
	if r.StatusCode != 200 {
		b.h.t.Fatalf("password: %d %s", r.StatusCode, r.body)
	}
	m := r.json(b.h.t)
	if m["next"] != "done" {
		b.h.t.Fatalf("login next = %v, want done", m["next"])
	}
	return m
}

// enter enters a console through the API and follows the handoff.
func (b *browser) enter(console string) {
	b.h.t.Helper()
	r := b.do("POST", accountURL+"/api/v1/consoles/"+console+"/enter", map[string]string{})
	if r.StatusCode != 200 {
		b.h.t.Fatalf("enter %s: %d %s", console, r.StatusCode, r.body)
	}
	next := r.json(b.h.t)["redirect"].(string)
	r = b.handoff(next)
	if r.StatusCode != http.StatusFound {
		b.h.t.Fatalf("handoff: %d %s", r.StatusCode, r.body)
	}
}

// handoff follows a handoff link through its three steps (console host,
// account host, console host) and returns the last answer: a 302 to the
// landing path when it worked.
func (b *browser) handoff(link string) *response {
	b.h.t.Helper()
	r := b.do("GET", link, nil)
	for range 2 {
		loc := r.Header.Get("Location")
		if r.StatusCode != http.StatusFound || !strings.Contains(loc, "/.auth/") {
			return r
		}
		r = b.do("GET", loc, nil)
	}
	return r
}
