package sso_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"unigate/sso"
	"unigate/sso/ssotest"
)

func TestNewOIDCRefusesBadConfig(t *testing.T) {
	t.Parallel()
	good := sso.OIDCConfig{Issuer: "https://accounts.google.com", ClientID: "id", ClientSecret: "secret"}
	cases := []struct {
		name     string
		provider string
		edit     func(*sso.OIDCConfig)
	}{
		{"unknown provider", "github", nil},
		{"empty provider", "", nil},
		{"http issuer", sso.Google, func(c *sso.OIDCConfig) { c.Issuer = "http://accounts.google.com" }},
		{"no issuer", sso.Google, func(c *sso.OIDCConfig) { c.Issuer = "" }},
		{"relative issuer", sso.Google, func(c *sso.OIDCConfig) { c.Issuer = "/oidc" }},
		{"issuer with user info", sso.Google, func(c *sso.OIDCConfig) { c.Issuer = "https://user@accounts.google.com" }},
		{"issuer with a query", sso.Microsoft, func(c *sso.OIDCConfig) { c.Issuer = "https://login.microsoftonline.com/common/v2.0?x=1" }},
		{"issuer with a fragment", sso.Microsoft, func(c *sso.OIDCConfig) { c.Issuer = "https://login.microsoftonline.com/common/v2.0#x" }},
		{"javascript issuer", sso.Google, func(c *sso.OIDCConfig) { c.Issuer = "javascript:alert(1)" }},
		{"no client id", sso.Google, func(c *sso.OIDCConfig) { c.ClientID = "" }},
		{"no client secret", sso.Google, func(c *sso.OIDCConfig) { c.ClientSecret = "" }},
	}
	for _, tc := range cases {
		cfg := good
		if tc.edit != nil {
			tc.edit(&cfg)
		}
		if p, err := sso.NewOIDC(tc.provider, cfg); err == nil {
			t.Errorf("%s: NewOIDC = %v, want an error", tc.name, p)
		}
	}
	for _, name := range []string{sso.Google, sso.Microsoft} {
		p, err := sso.NewOIDC(name, good)
		if err != nil || p.Name() != name {
			t.Errorf("NewOIDC(%s) = %v, %v", name, p, err)
		}
	}
}

// TestOIDCLazyDiscovery: a provider that is down when the gateway starts
// fails only its own logins, without a request per login while it stays
// down, and works once it is back (V16.5.2: fail closed, recover).
func TestOIDCLazyDiscovery(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t)
	transport := &countingTransport{base: op.Client.Transport}
	transport.setFail(func(*http.Request) bool { return true })
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }

	cfg := op.Config()
	cfg.HTTPClient = &http.Client{Transport: transport}
	cfg.Now = clock
	p, err := sso.NewOIDC(sso.Google, cfg)
	if err != nil {
		t.Fatalf("NewOIDC with the provider down: %v", err)
	}
	if n := transport.count(""); n != 0 {
		t.Errorf("NewOIDC made %d requests, want none", n)
	}
	a := newAttempt("google")
	if _, err := p.AuthCodeURL(a.state, a.nonce, a.verifier, a.redirectURI); !errors.Is(err, sso.ErrProviderUnavailable) {
		t.Fatalf("AuthCodeURL while down: %v, want ErrProviderUnavailable", err)
	}
	if _, err := p.Exchange(context.Background(), "code", a.verifier, a.nonce, a.redirectURI); !errors.Is(err, sso.ErrProviderUnavailable) {
		t.Fatalf("Exchange while down: %v, want ErrProviderUnavailable", err)
	}
	if n := transport.count(""); n != 1 {
		t.Errorf("%d requests for two calls within the retry pause, want 1", n)
	}

	transport.setFail(nil) // back up, but the failure is remembered a moment
	if _, err := p.AuthCodeURL(a.state, a.nonce, a.verifier, a.redirectURI); !errors.Is(err, sso.ErrProviderUnavailable) {
		t.Errorf("AuthCodeURL right after the failure: %v, want the remembered ErrProviderUnavailable", err)
	}
	advance(6 * time.Second)
	if _, err := login(t, p, op.Client); err != nil {
		t.Fatalf("login once the provider is back: %v", err)
	}
}

// TestOIDCKeysUnavailable: when the JWKS cannot be fetched the token cannot
// be checked: refused, as an outage rather than a forgery.
func TestOIDCKeysUnavailable(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t)
	transport := &countingTransport{base: op.Client.Transport}
	transport.setFail(func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/jwks.json") })
	cfg := op.Config()
	cfg.HTTPClient = &http.Client{Transport: transport}
	p := mustOIDC(t, sso.Google, cfg)
	if id, err := login(t, p, op.Client); !errors.Is(err, sso.ErrProviderUnavailable) {
		t.Fatalf("Exchange without keys = %+v, %v; want ErrProviderUnavailable", id, err)
	}
	transport.setFail(nil)
	if _, err := login(t, p, op.Client); err != nil {
		t.Fatalf("Exchange once the keys are back: %v", err)
	}
	// Keys fetched fine, signature wrong: that is a forgery again.
	op.ForgeNextIDToken(ssotest.OtherKey)
	if _, err := login(t, p, op.Client); !errors.Is(err, sso.ErrInvalidToken) {
		t.Fatalf("forged token with keys available: %v, want ErrInvalidToken", err)
	}
}

// TestOIDCTokenEndpointFailures: what the token endpoint's refusals mean.
func TestOIDCTokenEndpointFailures(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t)

	// Wrong client secret: the operator's problem, not the user's.
	cfg := op.Config()
	cfg.ClientSecret = "not-the-secret"
	p := mustOIDC(t, sso.Google, cfg)
	if _, err := login(t, p, op.Client); !errors.Is(err, sso.ErrProviderUnavailable) {
		t.Errorf("Exchange with a wrong secret: %v, want ErrProviderUnavailable", err)
	}

	// The token endpoint unreachable.
	transport := &countingTransport{base: op.Client.Transport}
	cfg = op.Config()
	cfg.HTTPClient = &http.Client{Transport: transport}
	p = mustOIDC(t, sso.Google, cfg)
	a := newAttempt("google")
	code := authorize(t, p, op.Client, a)
	transport.setFail(func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/token") })
	if _, err := p.Exchange(context.Background(), code, a.verifier, a.nonce, a.redirectURI); !errors.Is(err, sso.ErrProviderUnavailable) {
		t.Errorf("Exchange with the token endpoint down: %v, want ErrProviderUnavailable", err)
	}
}

// fakeDiscovery serves one discovery document over TLS.
func fakeDiscovery(t *testing.T, doc func(base string) map[string]any) (issuer string, client *http.Client) {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc(srv.URL))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/common/v2.0", srv.Client()
}

// TestOIDCDiscoveryIssuer: the discovery document must name the configured
// issuer exactly (OIDC Discovery §4.3); Microsoft's may name a tenant
// template or another issuer on the same origin, nothing else; endpoints
// must be https.
func TestOIDCDiscoveryIssuer(t *testing.T) {
	t.Parallel()
	endpoints := func(base, issuer string) map[string]any {
		return map[string]any{
			"issuer":                 issuer,
			"authorization_endpoint": base + "/authorize",
			"token_endpoint":         base + "/token",
			"jwks_uri":               base + "/keys",
		}
	}
	cases := []struct {
		name     string
		provider string
		doc      func(base string) map[string]any
		ok       bool
	}{
		{"exact", sso.Google, func(b string) map[string]any { return endpoints(b, b+"/common/v2.0") }, true},
		{"other issuer", sso.Google, func(b string) map[string]any { return endpoints(b, "https://evil.test/common/v2.0") }, false},
		{"trailing slash", sso.Google, func(b string) map[string]any { return endpoints(b, b+"/common/v2.0/") }, false},
		{"template is Microsoft's only", sso.Google, func(b string) map[string]any { return endpoints(b, b+"/{tenantid}/v2.0") }, false},
		{"Microsoft template", sso.Microsoft, func(b string) map[string]any { return endpoints(b, b+"/{tenantid}/v2.0") }, true},
		{"Microsoft consumer issuer", sso.Microsoft, func(b string) map[string]any {
			return endpoints(b, b+"/"+sso.MicrosoftConsumerTenant+"/v2.0")
		}, true},
		{"Microsoft template elsewhere", sso.Microsoft, func(b string) map[string]any {
			return endpoints(b, "https://evil.test/{tenantid}/v2.0")
		}, false},
		{"Microsoft template in the host", sso.Microsoft, func(b string) map[string]any {
			return endpoints(b, "https://{tenantid}.evil.test/v2.0")
		}, false},
		{"Microsoft two placeholders", sso.Microsoft, func(b string) map[string]any {
			return endpoints(b, b+"/{tenantid}/{tenantid}/v2.0")
		}, false},
		{"Microsoft over http", sso.Microsoft, func(b string) map[string]any {
			return endpoints(b, strings.Replace(b, "https:", "http:", 1)+"/{tenantid}/v2.0")
		}, false},
		{"http token endpoint", sso.Google, func(b string) map[string]any {
			d := endpoints(b, b+"/common/v2.0")
			d["token_endpoint"] = strings.Replace(b, "https:", "http:", 1) + "/token"
			return d
		}, false},
		{"http jwks", sso.Google, func(b string) map[string]any {
			d := endpoints(b, b+"/common/v2.0")
			d["jwks_uri"] = "http://keys.test/keys"
			return d
		}, false},
		{"no authorization endpoint", sso.Google, func(b string) map[string]any {
			d := endpoints(b, b+"/common/v2.0")
			delete(d, "authorization_endpoint")
			return d
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			issuer, client := fakeDiscovery(t, tc.doc)
			p := mustOIDC(t, tc.provider, sso.OIDCConfig{Issuer: issuer, ClientID: "c", ClientSecret: "s", HTTPClient: client})
			a := newAttempt(tc.provider)
			_, err := p.AuthCodeURL(a.state, a.nonce, a.verifier, a.redirectURI)
			if tc.ok && err != nil {
				t.Errorf("AuthCodeURL: %v, want the document accepted", err)
			}
			if !tc.ok && !errors.Is(err, sso.ErrProviderUnavailable) {
				t.Errorf("AuthCodeURL: %v, want ErrProviderUnavailable", err)
			}
		})
	}
}
