package sso_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"unigate/sso"
	"unigate/sso/ssotest"
)

// These tests run the real flow against a real OpenID Connect provider in
// the test process (oauth2-proxy/mockoidc over TLS, through ssotest): the
// authorization request, the provider's redirect with code and state, the
// token request with the PKCE verifier, and go-oidc's validation.

// attempt is one login attempt's bindings, as the gateway keeps them.
type attempt struct {
	state, nonce, verifier, redirectURI string
}

func newAttempt(provider string) attempt {
	return attempt{
		state:       sso.NewState(),
		nonce:       sso.NewNonce(),
		verifier:    sso.NewVerifier(),
		redirectURI: "https://account.test/sso/" + provider + "/callback",
	}
}

// authorize sends the browser to the provider and returns the code of the
// redirect back, after checking that it carries the attempt's state.
func authorize(t *testing.T, p sso.Provider, client *http.Client, a attempt) string {
	t.Helper()
	u, err := p.AuthCodeURL(a.state, a.nonce, a.verifier, a.redirectURI)
	if err != nil {
		t.Fatalf("AuthCodeURL: %v", err)
	}
	back := ssotest.Authorize(t, client, u)
	if err := sso.CallbackError(back); err != nil {
		t.Fatalf("callback: %v", err)
	}
	if got := back.Get("state"); got != a.state {
		t.Fatalf("callback state = %q, want the attempt's %q", got, a.state)
	}
	return back.Get("code")
}

// login runs one whole flow and returns Exchange's answer.
func login(t *testing.T, p sso.Provider, client *http.Client) (*sso.Identity, error) {
	t.Helper()
	a := newAttempt(p.Name())
	code := authorize(t, p, client, a)
	return p.Exchange(context.Background(), code, a.verifier, a.nonce, a.redirectURI)
}

func mustOIDC(t *testing.T, name string, cfg sso.OIDCConfig) sso.Provider {
	t.Helper()
	p, err := sso.NewOIDC(name, cfg)
	if err != nil {
		t.Fatalf("NewOIDC(%s): %v", name, err)
	}
	return p
}

func TestOIDCLogin(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t)
	p := mustOIDC(t, sso.Google, op.Config())
	op.QueueUser(ssotest.User{Subject: "108234", Email: " Jane.Doe@Example.COM", EmailVerified: true})
	id, err := login(t, p, op.Client)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	want := sso.Identity{Provider: sso.Google, Subject: "108234", Email: "jane.doe@example.com", EmailVerified: true}
	if *id != want {
		t.Errorf("identity = %+v, want %+v", *id, want)
	}
	if email, err := id.VerifiedEmail(); err != nil || email != want.Email {
		t.Errorf("VerifiedEmail = %q, %v; want %q", email, err, want.Email)
	}
}

// TestOIDCAuthCodeURL: the redirect carries every binding of the attempt,
// and PKCE is S256, never plain (RFC 7636 §4.2; RFC 9700 §2.1.1).
func TestOIDCAuthCodeURL(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t)
	p := mustOIDC(t, sso.Google, op.Config())
	a := newAttempt("google")
	raw, err := p.AuthCodeURL(a.state, a.nonce, a.verifier, a.redirectURI)
	if err != nil {
		t.Fatalf("AuthCodeURL: %v", err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Scheme+"://"+u.Host+u.Path, op.Issuer+"/authorize"; got != want {
		t.Errorf("endpoint = %s, want the discovered %s", got, want)
	}
	sum := sha256.Sum256([]byte(a.verifier))
	want := map[string]string{
		"response_type":         "code",
		"client_id":             op.ClientID,
		"redirect_uri":          a.redirectURI,
		"scope":                 "openid email",
		"state":                 a.state,
		"nonce":                 a.nonce,
		"code_challenge":        base64.RawURLEncoding.EncodeToString(sum[:]),
		"code_challenge_method": "S256",
	}
	q := u.Query()
	for k, v := range want {
		if got := q.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if q.Has("code_verifier") || strings.Contains(raw, a.verifier) {
		t.Error("the verifier itself is in the redirect")
	}

	bad := []struct{ name, state, nonce, verifier, redirect string }{
		{"no state", "", a.nonce, a.verifier, a.redirectURI},
		{"no nonce", a.state, "", a.verifier, a.redirectURI},
		{"no verifier", a.state, a.nonce, "", a.redirectURI},
		{"short verifier", a.state, a.nonce, "abc", a.redirectURI},
		{"verifier with a reserved character", a.state, a.nonce, strings.Repeat("a", 42) + "/", a.redirectURI},
		{"no redirect URI", a.state, a.nonce, a.verifier, ""},
	}
	for _, tc := range bad {
		if _, err := p.AuthCodeURL(tc.state, tc.nonce, tc.verifier, tc.redirect); err == nil {
			t.Errorf("AuthCodeURL with %s: no error", tc.name)
		}
	}
}

// TestOIDCRefusesBadTokens: each spoiled ID token is refused with
// ErrInvalidToken, though the provider signed most of them (SECURITY.md
// family 7; OIDC Core §3.1.3.7).
func TestOIDCRefusesBadTokens(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t)
	cfg := op.Config()
	user := func(claims map[string]any) ssotest.User {
		return ssotest.User{Subject: "s1", Email: "a@example.com", EmailVerified: true, Claims: claims}
	}
	cases := []struct {
		name    string
		user    ssotest.User
		forgery ssotest.Forgery
		nonce   func(a attempt) string // the nonce given to Exchange; nil: the attempt's
		now     func() time.Time       // the relying party's clock; nil: time.Now
	}{
		{name: "wrong nonce at exchange", user: user(nil), nonce: func(attempt) string { return sso.NewNonce() }},
		{name: "nonce claim replaced", user: user(map[string]any{"nonce": "attacker-nonce"})},
		{name: "nonce claim empty", user: user(map[string]any{"nonce": ""})},
		{name: "audience of another client", user: user(map[string]any{"aud": []string{"other-client"}})},
		{name: "audience as a string of another client", user: user(map[string]any{"aud": "other-client"})},
		{name: "several audiences without azp", user: user(map[string]any{"aud": []string{cfg.ClientID, "other-client"}})},
		{name: "azp of another client", user: user(map[string]any{"azp": "other-client"})},
		{name: "issuer of another provider", user: user(map[string]any{"iss": "https://evil.test/oidc"})},
		{name: "issuer with a trailing slash", user: user(map[string]any{"iss": cfg.Issuer + "/"})},
		{name: "issuer differing in case", user: user(map[string]any{"iss": strings.ToUpper(cfg.Issuer)})},
		{name: "expired", user: user(map[string]any{"exp": time.Now().Add(-time.Minute).Unix()})},
		{name: "expired on the relying party's clock", user: user(nil),
			now: func() time.Time { return time.Now().Add(11 * time.Minute) }},
		{name: "not yet valid", user: user(map[string]any{"nbf": time.Now().Add(time.Hour).Unix()})},
		{name: "no subject", user: ssotest.User{Email: "a@example.com", EmailVerified: true}},
		{name: "alg none", user: user(nil), forgery: ssotest.AlgNone},
		{name: "signed by another key", user: user(nil), forgery: ssotest.OtherKey},
		{name: "HS256 with the client secret", user: user(nil), forgery: ssotest.HS256ClientSecret},
		{name: "signature altered", user: user(nil), forgery: ssotest.BadSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A provider per case, for the relying party's clock; the cases
			// run one after another, since they share the provider's queue.
			cfg := cfg
			cfg.Now = tc.now
			p := mustOIDC(t, sso.Google, cfg)
			a := newAttempt("google")
			op.QueueUser(tc.user)
			if tc.forgery != 0 {
				op.ForgeNextIDToken(tc.forgery)
			}
			code := authorize(t, p, op.Client, a)
			nonce := a.nonce
			if tc.nonce != nil {
				nonce = tc.nonce(a)
			}
			id, err := p.Exchange(context.Background(), code, a.verifier, nonce, a.redirectURI)
			if !errors.Is(err, sso.ErrInvalidToken) {
				t.Fatalf("Exchange = %+v, %v; want ErrInvalidToken", id, err)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// TestOIDCAcceptsTheClientAmongAudiences: several audiences are fine when
// azp names this client (OIDC Core §3.1.3.7 steps 3-5).
func TestOIDCAcceptsTheClientAmongAudiences(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t)
	p := mustOIDC(t, sso.Google, op.Config())
	op.QueueUser(ssotest.User{Subject: "s1", Claims: map[string]any{
		"aud": []string{"other-client", op.ClientID}, "azp": op.ClientID,
	}})
	if _, err := login(t, p, op.Client); err != nil {
		t.Fatalf("Exchange: %v", err)
	}
}

// TestOIDCExpiredToken: a token the provider issued already expired (its
// clock behind) is refused.
func TestOIDCExpiredToken(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t)
	p := mustOIDC(t, sso.Google, op.Config())
	op.FastForward(-time.Hour)
	if id, err := login(t, p, op.Client); !errors.Is(err, sso.ErrInvalidToken) {
		t.Fatalf("Exchange = %+v, %v; want ErrInvalidToken", id, err)
	}
}

func TestOIDCCodeReused(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t)
	p := mustOIDC(t, sso.Google, op.Config())
	a := newAttempt("google")
	code := authorize(t, p, op.Client, a)
	if _, err := p.Exchange(context.Background(), code, a.verifier, a.nonce, a.redirectURI); err != nil {
		t.Fatalf("first Exchange: %v", err)
	}
	if id, err := p.Exchange(context.Background(), code, a.verifier, a.nonce, a.redirectURI); !errors.Is(err, sso.ErrInvalidCode) {
		t.Fatalf("second Exchange = %+v, %v; want ErrInvalidCode", id, err)
	}
}

func TestOIDCCodeExpired(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t, ssotest.CodeTTL(time.Minute))
	p := mustOIDC(t, sso.Google, op.Config())
	a := newAttempt("google")
	code := authorize(t, p, op.Client, a)
	op.FastForward(time.Minute + time.Second)
	if id, err := p.Exchange(context.Background(), code, a.verifier, a.nonce, a.redirectURI); !errors.Is(err, sso.ErrInvalidCode) {
		t.Fatalf("Exchange of an expired code = %+v, %v; want ErrInvalidCode", id, err)
	}
}

// TestOIDCPKCE: the code is bound to the verifier of the attempt that asked
// for it; a code stolen on its way back is useless without it.
func TestOIDCPKCE(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t)
	p := mustOIDC(t, sso.Google, op.Config())
	a := newAttempt("google")
	code := authorize(t, p, op.Client, a)
	if _, err := p.Exchange(context.Background(), code, sso.NewVerifier(), a.nonce, a.redirectURI); !errors.Is(err, sso.ErrInvalidCode) {
		t.Fatalf("Exchange with another verifier: %v, want ErrInvalidCode", err)
	}
	for _, bad := range []struct{ name, code, verifier, nonce, redirect string }{
		{"no code", "", a.verifier, a.nonce, a.redirectURI},
		{"no verifier", code, "", a.nonce, a.redirectURI},
		{"short verifier", code, "short", a.nonce, a.redirectURI},
		{"no nonce", code, a.verifier, "", a.redirectURI},
		{"no redirect URI", code, a.verifier, a.nonce, ""},
	} {
		if _, err := p.Exchange(context.Background(), bad.code, bad.verifier, bad.nonce, bad.redirect); err == nil {
			t.Errorf("Exchange with %s: no error", bad.name)
		}
	}
}

// TestOIDCEmailTrust: Google's rule, email_verified, and the normal form.
func TestOIDCEmailTrust(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t)
	p := mustOIDC(t, sso.Google, op.Config())
	cases := []struct {
		name        string
		user        ssotest.User
		email       string
		verified    bool
		verifiedErr bool
	}{
		{"verified", ssotest.User{Subject: "1", Email: "a@example.com", EmailVerified: true}, "a@example.com", true, false},
		{"unverified", ssotest.User{Subject: "2", Email: "victim@example.com"}, "victim@example.com", false, true},
		{"verified as a string", ssotest.User{Subject: "3", Email: "a@example.com",
			Claims: map[string]any{"email_verified": "true"}}, "a@example.com", true, false},
		{"unverified as a string", ssotest.User{Subject: "4", Email: "a@example.com",
			Claims: map[string]any{"email_verified": "false"}}, "a@example.com", false, true},
		{"verified as a number", ssotest.User{Subject: "5", Email: "a@example.com",
			Claims: map[string]any{"email_verified": 1}}, "a@example.com", false, true},
		{"no email", ssotest.User{Subject: "6", EmailVerified: true}, "", false, true},
		{"email that does not normalise", ssotest.User{Subject: "7", Email: "a@@example.com", EmailVerified: true}, "", false, true},
		{"email with a zero-width space", ssotest.User{Subject: "8", Email: "vic\u200btim@example.com", EmailVerified: true}, "", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			op.QueueUser(tc.user)
			id, err := login(t, p, op.Client)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if id.Email != tc.email || id.EmailVerified != tc.verified || id.Subject != tc.user.Subject {
				t.Errorf("identity = %+v, want subject %s, email %q, verified %v", *id, tc.user.Subject, tc.email, tc.verified)
			}
			if _, err := id.VerifiedEmail(); errors.Is(err, sso.ErrUnverifiedEmail) != tc.verifiedErr {
				t.Errorf("VerifiedEmail error = %v, want ErrUnverifiedEmail: %v", err, tc.verifiedErr)
			}
		})
	}
}

// TestOIDCMistypedEmailClaim: a claim of the wrong type spoils the token.
func TestOIDCMistypedEmailClaim(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t)
	p := mustOIDC(t, sso.Google, op.Config())
	op.QueueUser(ssotest.User{Subject: "9", EmailVerified: true, Claims: map[string]any{"email": 42}})
	if id, err := login(t, p, op.Client); !errors.Is(err, sso.ErrInvalidToken) {
		t.Fatalf("Exchange = %+v, %v; want ErrInvalidToken", id, err)
	}
}

// TestOIDCDenied: the user refuses at the provider; the callback says so
// and carries the attempt's state.
func TestOIDCDenied(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t)
	p := mustOIDC(t, sso.Google, op.Config())
	op.DenyNext()
	a := newAttempt("google")
	u, err := p.AuthCodeURL(a.state, a.nonce, a.verifier, a.redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	back := ssotest.Authorize(t, op.Client, u)
	if err := sso.CallbackError(back); !errors.Is(err, sso.ErrDenied) {
		t.Errorf("CallbackError = %v, want ErrDenied", err)
	}
	if back.Get("state") != a.state || back.Has("code") {
		t.Errorf("callback = %v, want the state and no code", back)
	}
}

// TestOIDCConcurrentFirstLogins: logins racing on a provider never
// discovered yet share one discovery (run with -race).
func TestOIDCConcurrentFirstLogins(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t)
	counting := &countingTransport{base: op.Client.Transport}
	cfg := op.Config()
	cfg.HTTPClient = &http.Client{Transport: counting}
	p := mustOIDC(t, sso.Google, cfg)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := login(t, p, op.Client); err != nil {
				t.Errorf("Exchange: %v", err)
			}
		})
	}
	wg.Wait()
	if n := counting.count("/.well-known/openid-configuration"); n != 1 {
		t.Errorf("%d discovery requests, want 1", n)
	}
}

// countingTransport counts requests by path suffix and can fail those to
// chosen paths, as an outage would.
type countingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	hits map[string]int
	fail func(*http.Request) bool
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.hits == nil {
		c.hits = map[string]int{}
	}
	c.hits[r.URL.Path]++
	fail := c.fail
	c.mu.Unlock()
	if fail != nil && fail(r) {
		return nil, errors.New("connection refused (test outage)")
	}
	return c.base.RoundTrip(r)
}

func (c *countingTransport) count(suffix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for path, hits := range c.hits {
		if strings.HasSuffix(path, suffix) {
			n += hits
		}
	}
	return n
}

func (c *countingTransport) setFail(f func(*http.Request) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = f
}
