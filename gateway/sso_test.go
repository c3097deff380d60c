package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"unigate/sso"
	"unigate/sso/ssotest"
)

// ssoHarness is a gateway with Google played by a real OIDC provider
// (mockoidc over TLS) and GitHub by an httptest server speaking its API.
func ssoHarness(t *testing.T) (*harness, *ssotest.OIDC, *ssotest.GitHub) {
	op := ssotest.StartOIDC(t)
	gh := ssotest.StartGitHub(t)
	google, err := sso.NewOIDC(sso.Google, op.Config())
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWithDeps(t, nil, func(d *Deps) {
		d.SSOProviders = map[string]sso.Provider{sso.Google: google, sso.GitHub: sso.NewGitHub(gh.Config())}
	})
	return h, op, gh
}

// callback plays the browser at the provider and brings its answer back to the gateway.
func (b *browser) callback(client *http.Client, providerURL, provider string) *response {
	b.h.t.Helper()
	q := ssotest.Authorize(b.h.t, client, providerURL)
	return b.do("GET", accountURL+"/sso/"+provider+"/callback?"+q.Encode(), nil)
}

func (b *browser) linkGoogle(op *ssotest.OIDC) *response {
	b.h.t.Helper()
	r := b.do("POST", accountURL+"/api/v1/me/sso/google", map[string]string{})
	if r.StatusCode != 200 {
		b.h.t.Fatalf("link start: %d %s", r.StatusCode, r.body)
	}
	return b.callback(op.Client, r.json(b.h.t)["redirect"].(string), "google")
}

func TestSSOLinkThenSignIn(t *testing.T) {
	h, op, _ := ssoHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	op.QueueUser(ssotest.User{Subject: "g-alice", Email: "Alice@Example.com", EmailVerified: true})
	r := b.linkGoogle(op)
	if r.StatusCode != 302 || r.Header.Get("Location") != "/settings/security?notice=sso_linked" {
		t.Fatalf("link: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := b.do("GET", accountURL+"/api/v1/me/sso", nil); !strings.Contains(string(r.body), `"provider":"google","email":"alice@example.com"`) {
		t.Fatalf("identities: %s", r.body)
	}
	x := h.browser()
	if r := x.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"}); !strings.Contains(string(r.body), `"sso:google"`) {
		t.Fatalf("identify does not offer sso:google: %s", r.body)
	}
	// Sign in with Google, return_to kept through the round trip.
	op.QueueUser(ssotest.User{Subject: "g-alice", Email: "alice@example.com", EmailVerified: true})
	r = x.do("GET", accountURL+"/login/sso/google?return_to="+url.QueryEscape("/consoles?x=1"), nil)
	if r.StatusCode != 302 || !strings.HasPrefix(r.Header.Get("Location"), op.Issuer) {
		t.Fatalf("start: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	providerURL := r.Header.Get("Location")
	for _, p := range []string{"state=", "nonce=", "code_challenge=", "code_challenge_method=S256"} {
		if !strings.Contains(providerURL, p) {
			t.Errorf("authorization request lacks %s", p)
		}
	}
	q := ssotest.Authorize(t, op.Client, providerURL)
	r = x.do("GET", accountURL+"/sso/google/callback?"+q.Encode(), nil)
	if r.StatusCode != 302 || r.Header.Get("Location") != "/consoles?x=1" {
		t.Fatalf("callback: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := x.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 200 {
		t.Fatalf("session after SSO: %d", r.StatusCode)
	}
	// The same answer replayed: the attempt is gone.
	y := h.browser()
	y.cookies = x.cookies
	if r := x.do("GET", accountURL+"/sso/google/callback?"+q.Encode(), nil); r.StatusCode != 302 || !strings.Contains(r.Header.Get("Location"), "error=sso_state") {
		t.Fatalf("replayed state: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if got := counterValue(t, h, "unigate_login_attempts_total", map[string]string{"method": "sso", "result": "success"}); got != 1 {
		t.Errorf("sso success metric: %v", got)
	}
}

// An identity that is not linked signs nobody in, even with the account's email.
func TestSSOUnlinkedIdentityRefused(t *testing.T) {
	h, op, _ := ssoHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	op.QueueUser(ssotest.User{Subject: "g-mallory", Email: "alice@example.com", EmailVerified: true})
	b := h.browser()
	r := b.do("GET", accountURL+"/login/sso/google", nil)
	r = b.callback(op.Client, r.Header.Get("Location"), "google")
	if r.StatusCode != 302 || r.Header.Get("Location") != "/login?error=sso_not_linked" {
		t.Fatalf("unlinked identity: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if b.cookie("account.test") != nil {
		t.Fatal("a refused callback left a session cookie")
	}
	if r := b.do("GET", accountURL+"/login?error=sso_not_linked", nil); !strings.Contains(string(r.body), "not linked") {
		t.Fatal("the login page does not explain the refusal")
	}
}

func TestSSOLinkRefusals(t *testing.T) {
	h, op, gh := ssoHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	h.createAccount("bob@example.com", "correct horse battery")
	bob := h.browser()
	bob.login("bob@example.com", "correct horse battery")
	op.QueueUser(ssotest.User{Subject: "g-bob", Email: "bob@example.com", EmailVerified: true})
	bob.linkGoogle(op)

	alice := h.browser()
	alice.login("alice@example.com", "correct horse battery")
	cases := []struct {
		name string
		user ssotest.User
		want string
	}{
		{"unverified email", ssotest.User{Subject: "g-a1", Email: "alice@example.com", EmailVerified: false}, "sso_email_mismatch"},
		{"another email", ssotest.User{Subject: "g-a2", Email: "alice@evil.test", EmailVerified: true}, "sso_email_mismatch"},
		{"identity of another account", ssotest.User{Subject: "g-bob", Email: "alice@example.com", EmailVerified: true}, "sso_taken"},
	}
	for _, tc := range cases {
		op.QueueUser(tc.user)
		r := alice.linkGoogle(op)
		if r.StatusCode != 302 || r.Header.Get("Location") != "/settings/security?error="+tc.want {
			t.Errorf("%s: %d %q", tc.name, r.StatusCode, r.Header.Get("Location"))
		}
	}
	if r := alice.do("GET", accountURL+"/api/v1/me/sso", nil); strings.Contains(string(r.body), "google") {
		t.Fatalf("a refused link was stored: %s", r.body)
	}
	// GitHub: only a verified primary email links.
	gh.QueueUser(ssotest.GitHubUser{ID: 7, Login: "alice", Emails: []ssotest.GitHubEmail{{Email: "alice@example.com", Primary: true, Verified: false}}})
	r := alice.do("POST", accountURL+"/api/v1/me/sso/github", map[string]string{})
	r = alice.callback(gh.Client, r.json(t)["redirect"].(string), "github")
	if r.Header.Get("Location") != "/settings/security?error=sso_email_mismatch" {
		t.Fatalf("github unverified primary: %q", r.Header.Get("Location"))
	}
	gh.QueueUser(ssotest.GitHubUser{ID: 7, Login: "alice", Emails: []ssotest.GitHubEmail{{Email: "alice@example.com", Primary: true, Verified: true}}})
	r = alice.do("POST", accountURL+"/api/v1/me/sso/github", map[string]string{})
	r = alice.callback(gh.Client, r.json(t)["redirect"].(string), "github")
	if r.Header.Get("Location") != "/settings/security?notice=sso_linked" {
		t.Fatalf("github verified primary: %q", r.Header.Get("Location"))
	}
	// Unlinking needs a recent proof.
	h.clock.Advance(6 * 60e9)
	if r := alice.do("DELETE", accountURL+"/api/v1/me/sso/github", nil); r.StatusCode != 403 {
		t.Fatalf("unlink without recent proof: %d", r.StatusCode)
	}
	alice.do("POST", accountURL+"/api/v1/me/reauth", map[string]string{"password": "correct horse battery"})
	if r := alice.do("DELETE", accountURL+"/api/v1/me/sso/github", nil); r.StatusCode != 204 {
		t.Fatalf("unlink: %d %s", r.StatusCode, r.body)
	}
}

// A denied consent ends on the login page with a clean state.
func TestSSODeniedConsent(t *testing.T) {
	h, op, _ := ssoHarness(t)
	op.DenyNext()
	b := h.browser()
	r := b.do("GET", accountURL+"/login/sso/google", nil)
	r = b.callback(op.Client, r.Header.Get("Location"), "google")
	if r.StatusCode != 302 || r.Header.Get("Location") != "/login?error=sso_denied" {
		t.Fatalf("denied: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := b.do("GET", accountURL+"/api/v1/login/state", nil); r.StatusCode != 404 {
		t.Fatalf("login state after a refusal: %d", r.StatusCode)
	}
}

// Starting an SSO sign-in while signed in ends the session it replaces: the
// browser's cookie now names the new login, and the old session must not
// live on in the store for whoever copied its cookie (issue 16 finding 13).
func TestSSOSignInStartEndsTheSessionItReplaces(t *testing.T) {
	h, _, _ := ssoHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	old := *b.cookie("account.test")

	r := b.do("GET", accountURL+"/login/sso/google", nil)
	if r.StatusCode != 302 {
		t.Fatalf("SSO start: %d %s", r.StatusCode, r.body)
	}
	if now := b.cookie("account.test"); now == nil || now.Value == old.Value {
		t.Fatalf("the browser still holds its old session cookie")
	}
	thief := h.browser()
	thief.cookies["account.test"] = map[string]*http.Cookie{old.Name: &old}
	if r := thief.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 401 {
		t.Fatalf("the replaced session still answers: %d %s", r.StatusCode, r.body)
	}
}
