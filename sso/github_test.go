package sso_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"unigate/sso"
	"unigate/sso/ssotest"
)

func TestGitHubLogin(t *testing.T) {
	t.Parallel()
	gh := ssotest.StartGitHub(t)
	p := sso.NewGitHub(gh.Config())
	gh.QueueUser(ssotest.GitHubUser{ID: 9919, Login: "Alice", Emails: []ssotest.GitHubEmail{
		{Email: "Alice@Example.com", Primary: true, Verified: true},
	}})
	id, err := login(t, p, gh.Client)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	want := sso.Identity{Provider: sso.GitHub, Subject: "9919", Email: "alice@example.com", EmailVerified: true}
	if *id != want {
		t.Errorf("identity = %+v, want %+v", *id, want)
	}
}

func TestGitHubAuthCodeURL(t *testing.T) {
	t.Parallel()
	gh := ssotest.StartGitHub(t)
	p := sso.NewGitHub(gh.Config())
	a := newAttempt("github")
	raw, err := p.AuthCodeURL(a.state, a.nonce, a.verifier, a.redirectURI)
	if err != nil {
		t.Fatalf("AuthCodeURL: %v", err)
	}
	u, _ := url.Parse(raw)
	if got, want := u.Scheme+"://"+u.Host+u.Path, gh.BaseURL+"/login/oauth/authorize"; got != want {
		t.Errorf("endpoint = %s, want %s", got, want)
	}
	sum := sha256.Sum256([]byte(a.verifier))
	q := u.Query()
	for k, v := range map[string]string{
		"client_id":             gh.ClientID,
		"redirect_uri":          a.redirectURI,
		"scope":                 "read:user user:email",
		"state":                 a.state,
		"code_challenge":        base64.RawURLEncoding.EncodeToString(sum[:]),
		"code_challenge_method": "S256",
	} {
		if got := q.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if q.Has("nonce") {
		t.Error("GitHub gets a nonce it has no use for")
	}
	// GitHub has no ID token: the nonce may be empty; state and PKCE may not.
	if _, err := p.AuthCodeURL(a.state, "", a.verifier, a.redirectURI); err != nil {
		t.Errorf("AuthCodeURL without nonce: %v", err)
	}
	for _, bad := range []struct{ name, state, verifier, redirect string }{
		{"no state", "", a.verifier, a.redirectURI},
		{"no verifier", a.state, "", a.redirectURI},
		{"no redirect URI", a.state, a.verifier, ""},
	} {
		if _, err := p.AuthCodeURL(bad.state, a.nonce, bad.verifier, bad.redirect); err == nil {
			t.Errorf("AuthCodeURL with %s: no error", bad.name)
		}
	}
}

// TestGitHubEmailTrust: only the primary address counts, and only when
// GitHub verified it (SECURITY.md family 7: unverified GitHub email).
func TestGitHubEmailTrust(t *testing.T) {
	t.Parallel()
	gh := ssotest.StartGitHub(t)
	p := sso.NewGitHub(gh.Config())
	cases := []struct {
		name     string
		emails   []ssotest.GitHubEmail
		email    string
		verified bool
	}{
		{"verified primary", []ssotest.GitHubEmail{{Email: "a@example.com", Primary: true, Verified: true}}, "a@example.com", true},
		{"unverified primary", []ssotest.GitHubEmail{{Email: "victim@example.com", Primary: true}}, "victim@example.com", false},
		{"unverified primary, verified secondary", []ssotest.GitHubEmail{
			{Email: "victim@example.com", Primary: true},
			{Email: "mine@example.com", Verified: true},
		}, "victim@example.com", false},
		{"verified non-primary only", []ssotest.GitHubEmail{
			{Email: "other@example.com", Verified: true},
		}, "", false},
		{"primary listed last", []ssotest.GitHubEmail{
			{Email: "old@example.com", Verified: true},
			{Email: "noreply@users.noreply.github.test", Verified: true},
			{Email: "Main@Example.com", Primary: true, Verified: true},
		}, "main@example.com", true},
		{"no email", nil, "", false},
		{"primary that does not normalise", []ssotest.GitHubEmail{{Email: "a@@example.com", Primary: true, Verified: true}}, "", false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gh.QueueUser(ssotest.GitHubUser{ID: int64(100 + i), Login: "u", Emails: tc.emails})
			id, err := login(t, p, gh.Client)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if id.Email != tc.email || id.EmailVerified != tc.verified {
				t.Errorf("email = %q verified %v, want %q %v", id.Email, id.EmailVerified, tc.email, tc.verified)
			}
			if _, err := id.VerifiedEmail(); errors.Is(err, sso.ErrUnverifiedEmail) == tc.verified {
				t.Errorf("VerifiedEmail error = %v with verified %v", err, tc.verified)
			}
		})
	}
}

// TestGitHubRefusedCodes: GitHub answers 200 with an error for a bad code;
// each is ErrInvalidCode.
func TestGitHubRefusedCodes(t *testing.T) {
	t.Parallel()
	gh := ssotest.StartGitHub(t)
	p := sso.NewGitHub(gh.Config())
	ctx := context.Background()

	t.Run("reused", func(t *testing.T) {
		a := newAttempt("github")
		code := authorize(t, p, gh.Client, a)
		if _, err := p.Exchange(ctx, code, a.verifier, "", a.redirectURI); err != nil {
			t.Fatalf("first Exchange: %v", err)
		}
		if _, err := p.Exchange(ctx, code, a.verifier, "", a.redirectURI); !errors.Is(err, sso.ErrInvalidCode) {
			t.Errorf("second Exchange: %v, want ErrInvalidCode", err)
		}
	})
	t.Run("wrong verifier", func(t *testing.T) {
		a := newAttempt("github")
		code := authorize(t, p, gh.Client, a)
		if _, err := p.Exchange(ctx, code, sso.NewVerifier(), "", a.redirectURI); !errors.Is(err, sso.ErrInvalidCode) {
			t.Errorf("Exchange: %v, want ErrInvalidCode", err)
		}
	})
	t.Run("other redirect URI", func(t *testing.T) {
		a := newAttempt("github")
		code := authorize(t, p, gh.Client, a)
		if _, err := p.Exchange(ctx, code, a.verifier, "", "https://evil.test/cb"); !errors.Is(err, sso.ErrInvalidCode) {
			t.Errorf("Exchange: %v, want ErrInvalidCode", err)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		a := newAttempt("github")
		if _, err := p.Exchange(ctx, "made-up", a.verifier, "", a.redirectURI); !errors.Is(err, sso.ErrInvalidCode) {
			t.Errorf("Exchange: %v, want ErrInvalidCode", err)
		}
	})
}

func TestGitHubCodeExpired(t *testing.T) {
	t.Parallel()
	gh := ssotest.StartGitHub(t)
	p := sso.NewGitHub(gh.Config())
	a := newAttempt("github")
	code := authorize(t, p, gh.Client, a)
	gh.FastForward(ssotest.DefaultCodeTTL + time.Second)
	if _, err := p.Exchange(context.Background(), code, a.verifier, "", a.redirectURI); !errors.Is(err, sso.ErrInvalidCode) {
		t.Errorf("Exchange of an expired code: %v, want ErrInvalidCode", err)
	}
}

func TestGitHubDenied(t *testing.T) {
	t.Parallel()
	gh := ssotest.StartGitHub(t)
	p := sso.NewGitHub(gh.Config())
	gh.DenyNext()
	a := newAttempt("github")
	u, err := p.AuthCodeURL(a.state, "", a.verifier, a.redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	back := ssotest.Authorize(t, gh.Client, u)
	if err := sso.CallbackError(back); !errors.Is(err, sso.ErrDenied) {
		t.Errorf("CallbackError = %v, want ErrDenied", err)
	}
	if back.Get("state") != a.state {
		t.Errorf("state = %q, want the attempt's", back.Get("state"))
	}
}

// TestGitHubUnavailable: a wrong secret, an API that fails, or a
// configuration the config package would refuse all read as the provider
// being unavailable, never as a login.
func TestGitHubUnavailable(t *testing.T) {
	t.Parallel()
	gh := ssotest.StartGitHub(t)

	cfg := gh.Config()
	cfg.ClientSecret = "wrong"
	if _, err := login(t, sso.NewGitHub(cfg), gh.Client); !errors.Is(err, sso.ErrProviderUnavailable) {
		t.Errorf("wrong secret: %v, want ErrProviderUnavailable", err)
	}

	for _, failing := range []string{"/api/user", "/api/user/emails"} {
		transport := &countingTransport{base: gh.Client.Transport}
		transport.setFail(func(r *http.Request) bool { return r.URL.Path == failing })
		cfg := gh.Config()
		cfg.HTTPClient = &http.Client{Transport: transport}
		if _, err := login(t, sso.NewGitHub(cfg), gh.Client); !errors.Is(err, sso.ErrProviderUnavailable) {
			t.Errorf("%s failing: %v, want ErrProviderUnavailable", failing, err)
		}
	}

	cfg = gh.Config()
	cfg.APIURL = gh.BaseURL + "/nowhere" // 404 for every API call
	if _, err := login(t, sso.NewGitHub(cfg), gh.Client); !errors.Is(err, sso.ErrProviderUnavailable) {
		t.Errorf("API answering 404: %v, want ErrProviderUnavailable", err)
	}

	a := newAttempt("github")
	for name, edit := range map[string]func(*sso.GitHubConfig){
		"http base URL": func(c *sso.GitHubConfig) { c.BaseURL = strings.Replace(c.BaseURL, "https:", "http:", 1) },
		"http API URL":  func(c *sso.GitHubConfig) { c.APIURL = "http://api.github.test" },
		"no client id":  func(c *sso.GitHubConfig) { c.ClientID = "" },
		"no secret":     func(c *sso.GitHubConfig) { c.ClientSecret = "" },
		"user info URL": func(c *sso.GitHubConfig) { c.BaseURL = "https://user:pw@github.test" },
	} {
		cfg := gh.Config()
		edit(&cfg)
		p := sso.NewGitHub(cfg)
		if _, err := p.AuthCodeURL(a.state, "", a.verifier, a.redirectURI); !errors.Is(err, sso.ErrProviderUnavailable) {
			t.Errorf("%s: AuthCodeURL = %v, want ErrProviderUnavailable", name, err)
		}
		if _, err := p.Exchange(context.Background(), "code", a.verifier, "", a.redirectURI); !errors.Is(err, sso.ErrProviderUnavailable) {
			t.Errorf("%s: Exchange = %v, want ErrProviderUnavailable", name, err)
		}
	}
}

func TestGitHubDefaults(t *testing.T) {
	t.Parallel()
	p := sso.NewGitHub(sso.GitHubConfig{ClientID: "id", ClientSecret: "secret"})
	a := newAttempt("github")
	raw, err := p.AuthCodeURL(a.state, "", a.verifier, a.redirectURI)
	if err != nil {
		t.Fatalf("AuthCodeURL: %v", err)
	}
	if !strings.HasPrefix(raw, "https://github.com/login/oauth/authorize?") {
		t.Errorf("AuthCodeURL = %s, want github.com's endpoint", raw)
	}
	if p.Name() != sso.GitHub {
		t.Errorf("Name = %q", p.Name())
	}
}
