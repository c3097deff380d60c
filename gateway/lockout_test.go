package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"unigate/config"
	"unigate/sso"
	"unigate/sso/ssotest"
)

// Issue 16 finding 7, over HTTP: a stranger's wrong passwords, from their
// network, lock neither the owner's SSO sign-in nor the owner's password
// login from another network; the stranger's network stays locked.
func TestAStrangerDoesNotLockTheOwnerOut(t *testing.T) {
	op := ssotest.StartOIDC(t)
	google, err := sso.NewOIDC(sso.Google, op.Config())
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWithDeps(t, nil, func(d *Deps) {
		d.SSOProviders = map[string]sso.Provider{sso.Google: google}
	}, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32", "::1/128"} })
	a := h.createAccount("alice@example.com", "correct horse battery")
	if err := h.accounts.LinkSSO(context.Background(), a.ID, "google", "g-alice", a.Email, time.Now()); err != nil {
		t.Fatal(err)
	}
	from := func(ip string) *browser {
		b := h.browser()
		b.headers.Set("X-Forwarded-For", ip)
		return b
	}
	password := func(b *browser, pw string) *response {
		t.Helper()
		if r := b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"}); r.StatusCode != 200 {
			t.Fatalf("identify: %d %s", r.StatusCode, r.body)
		}
		return b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": pw})
	}
	stranger := from("203.0.113.66")
	for i := range h.cfg.Login.MaxFailures {
		if r := password(stranger, "wrong guess"); r.StatusCode != 401 {
			t.Fatalf("guess %d: %d %s", i+1, r.StatusCode, r.body)
		}
	}
	if r := password(stranger, "correct horse battery"); r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("the stranger's network: got %d %s, want 429 with Retry-After", r.StatusCode, r.body)
	}

	cases := []struct {
		name   string
		signIn func(b *browser) *response
		want   int
	}{
		{name: "password from the owner's network", want: 200, signIn: func(b *browser) *response {
			return password(b, "correct horse battery")
		}},
		{name: "SSO from the stranger's own network", want: 302, signIn: func(b *browser) *response {
			op.QueueUser(ssotest.User{Subject: "g-alice", Email: "alice@example.com", EmailVerified: true})
			r := b.do("GET", accountURL+"/login/sso/google", nil)
			return b.callback(op.Client, r.Header.Get("Location"), "google")
		}},
		// Last: with a passkey, the account has a second factor.
		{name: "passkey from the stranger's own network", want: 200, signIn: func(b *browser) *response {
			passkey := newSoftPasskey(t, "account.test", accountURL)
			owner := h.browser() // registered from settings, on yet another network
			owner.login("alice@example.com", "correct horse battery")
			r := owner.do("POST", accountURL+"/api/v1/me/mfa/passkeys/options", map[string]string{})
			if r.StatusCode != 200 {
				t.Fatalf("passkey options: %d %s", r.StatusCode, r.body)
			}
			if r := owner.do("POST", accountURL+"/api/v1/me/mfa/passkeys", passkey.register(t, r.body)); r.StatusCode != 201 {
				t.Fatalf("passkey registration: %d %s", r.StatusCode, r.body)
			}
			if r := b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"}); r.StatusCode != 200 {
				t.Fatalf("identify: %d %s", r.StatusCode, r.body)
			}
			r = b.do("POST", accountURL+"/api/v1/login/passkey/options", map[string]string{})
			if r.StatusCode != 200 {
				t.Fatalf("passkey options: %d %s", r.StatusCode, r.body)
			}
			return b.do("POST", accountURL+"/api/v1/login/passkey", passkey.assert(t, r.body))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ip := "198.51.100.7"
			if !strings.HasPrefix(tc.name, "password") {
				ip = "203.0.113.66"
			}
			b := from(ip)
			r := tc.signIn(b)
			if r.StatusCode != tc.want {
				t.Fatalf("got %d %s, want %d", r.StatusCode, r.body, tc.want)
			}
			if r := b.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 200 {
				t.Fatalf("session after the sign-in: %d %s", r.StatusCode, r.body)
			}
		})
	}
}
