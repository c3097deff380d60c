package gateway

import (
	"net/url"
	"strings"
	"testing"

	"unigate/accounts"
	"unigate/config"
	"unigate/login"
)

func TestHostWithJunkPortRefused(t *testing.T) {
	h := newHarness(t)
	addr := rawServer(t, h)
	for _, host := range []string{"console.online.test:evil.example", "console.online.test:a,b", "console.online.test:%2f", "account.test:8080:1", "[::1", "console.online.test:123456"} {
		if code, _ := rawRequest(t, addr, "GET / HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); code != 400 {
			t.Errorf("Host %q: got %d, want 400", host, code)
		}
	}
	for _, host := range []string{"account.test", "account.test:8080", "account.test:443"} {
		if r := h.browser().do("GET", "http://"+host+"/login", nil); r.StatusCode != 200 {
			t.Errorf("Host %q: got %d, want 200", host, r.StatusCode)
		}
	}
}

func TestUnderscoreForwardedHeadersStripped(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enter("scaleway")
	b.do("GET", scalewayURL+"/", nil, "X_Forwarded_For", "6.6.6.6", "X_Forwarded_Host", "evil.test", "x_forwarded_proto", "https")
	got := h.scaleway.last(t)
	for k, v := range got.Header {
		if strings.Contains(k, "_") || strings.Contains(strings.Join(v, ","), "6.6.6.6") || strings.Contains(strings.Join(v, ","), "evil.test") {
			t.Errorf("forged forwarding header reached the upstream: %s: %v", k, v)
		}
	}
}

// identify opens a pre-auth session each time: it is bounded per client network.
func TestIdentifyIsRateLimited(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Login.MaxFailures = 1; c.Login.IPMaxFailures = 1 })
	b := h.browser()
	for i := range login.IdentifyPerFailure {
		if r := b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "a@example.com"}); r.StatusCode != 200 {
			t.Fatalf("identify %d: got %d", i+1, r.StatusCode)
		}
	}
	r := b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "a@example.com"})
	if r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("identify over the limit: got %d", r.StatusCode)
	}
}

// A console with both hosts and a path_prefix works on both (two proxies).
func TestConsoleOnHostAndPrefix(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Consoles[0].PathPrefix = "/dedibox/" })
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enter("dedibox")
	if r := b.do("GET", dediboxURL+"/servers", nil); r.StatusCode != 200 || h.dedibox.last(t).URL.Path != "/servers" {
		t.Fatalf("console host: %d %s", r.StatusCode, r.body)
	}
	if r := b.do("GET", dediboxURL+"/api/x", nil); r.StatusCode != 200 || h.dedibox.last(t).URL.Path != "/api/x" {
		t.Fatalf("console host public path: %d", r.StatusCode)
	}
	if r := b.do("GET", accountURL+"/dedibox/servers", nil); r.StatusCode != 200 || h.dedibox.last(t).URL.Path != "/servers" {
		t.Fatalf("mount: %d %s", r.StatusCode, r.body)
	}
}

// A GET never creates a console account (no CSRF check on GET): it sends the
// user to the chooser, whose POST does.
func TestGetNeverProvisions(t *testing.T) {
	h := newHarness(t)
	a := h.createAccount("alice@example.com", "correct horse battery", accounts.ConsoleAccount{Console: "dedibox", ExternalID: "d1"})
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enter("dedibox")
	r := b.do("GET", dediboxURL+"/.auth/switch/scaleway", nil, "Sec-Fetch-Site", "cross-site")
	if r.StatusCode != 302 || !strings.HasPrefix(r.Header.Get("Location"), accountURL+"/consoles?console=scaleway") {
		t.Fatalf("switch to a console without account: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	r = b.do("GET", accountURL+"/login?return_to="+url.QueryEscape(scalewayURL+"/x"), nil)
	if r.StatusCode != 302 || !strings.HasPrefix(r.Header.Get("Location"), accountURL+"/consoles?console=scaleway") {
		t.Fatalf("login page return_to: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	cas, _ := h.accounts.ConsoleAccounts(t.Context(), a.ID)
	if len(cas) != 1 {
		t.Fatalf("a GET created a console account: %v", cas)
	}
	r = b.do("POST", accountURL+"/consoles/scaleway/enter", url.Values{}, "Accept", "text/html")
	if r.StatusCode != 303 {
		t.Fatalf("chooser POST: %d", r.StatusCode)
	}
	if cas, _ := h.accounts.ConsoleAccounts(t.Context(), a.ID); len(cas) != 2 {
		t.Fatalf("the chooser's POST did not create the account: %v", cas)
	}
}
