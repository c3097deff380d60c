package gateway

import (
	"net/url"
	"strings"
	"testing"

	"unigate/accounts"
)

// The portal pages walk the whole login with plain forms (no JavaScript).
func TestLoginPagesFlow(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery",
		accounts.ConsoleAccount{Console: "dedibox", ExternalID: "d1"},
		accounts.ConsoleAccount{Console: "dedibox", ExternalID: "d2"})
	b := h.browser()
	html := "text/html"

	r := b.do("GET", accountURL+"/login?return_to="+url.QueryEscape("/consoles"), nil, "Accept", html)
	if r.StatusCode != 200 || !strings.Contains(string(r.body), `name="step" value="identify"`) || !strings.Contains(string(r.body), `value="/consoles"`) {
		t.Fatalf("login page: %d %s", r.StatusCode, r.body)
	}
	r = b.do("POST", accountURL+"/login", url.Values{"step": {"identify"}, "email": {"alice@example.com"}, "return_to": {"/consoles"}}, "Accept", html)
	if r.StatusCode != 303 || r.Header.Get("Location") != "/login" {
		t.Fatalf("identify form: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	r = b.do("GET", accountURL+"/login", nil, "Accept", html)
	if !strings.Contains(string(r.body), `name="step" value="password"`) || !strings.Contains(string(r.body), "alice@example.com") {
		t.Fatalf("password page: %s", r.body)
	}
	r = b.do("POST", accountURL+"/login", url.Values{"step": {"password"}, "password": {"nope"}}, "Accept", html)
	if r.StatusCode != 401 || !strings.Contains(string(r.body), "incorrect") || !strings.Contains(string(r.body), `role="alert"`) {
		t.Fatalf("wrong password page: %d %s", r.StatusCode, r.body)
	}
	r = b.do("POST", accountURL+"/login", url.Values{"step": {"password"}, "password": {"correct horse battery"}}, "Accept", html)
	if r.StatusCode != 303 || r.Header.Get("Location") != "/consoles" {
		t.Fatalf("password form: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	r = b.do("GET", accountURL+"/consoles", nil, "Accept", html)
	body := string(r.body)
	if r.StatusCode != 200 || !strings.Contains(body, "Dedibox") || !strings.Contains(body, "Scaleway") || !strings.Contains(body, `value="d2"`) {
		t.Fatalf("consoles page: %d %s", r.StatusCode, body)
	}
	// Several Dedibox accounts and none chosen: the chooser again, 409.
	r = b.do("POST", accountURL+"/consoles/dedibox/enter", url.Values{}, "Accept", html)
	if r.StatusCode != 409 || !strings.Contains(string(r.body), "Which Dedibox account?") {
		t.Fatalf("enter without choice: %d", r.StatusCode)
	}
	r = b.do("POST", accountURL+"/consoles/dedibox/enter", url.Values{"account_id": {"d2"}}, "Accept", html)
	if r.StatusCode != 303 || !strings.HasPrefix(r.Header.Get("Location"), dediboxURL+"/.auth/handoff?code=") {
		t.Fatalf("enter: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	b.handoff(r.Header.Get("Location"))
	if r := b.do("GET", dediboxURL+"/", nil, "Accept", html); r.StatusCode != 200 {
		t.Fatalf("console after enter: %d", r.StatusCode)
	}
	// Signing in again while signed in goes straight on.
	if r := b.do("GET", accountURL+"/login", nil, "Accept", html); r.StatusCode != 302 || r.Header.Get("Location") != "/consoles" {
		t.Fatalf("login page when signed in: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	r = b.do("POST", accountURL+"/logout", url.Values{}, "Accept", html)
	if r.StatusCode != 303 || r.Header.Get("Location") != "/login" {
		t.Fatalf("logout form: %d", r.StatusCode)
	}
	if r := b.do("GET", dediboxURL+"/", nil, "Accept", html); r.StatusCode != 302 {
		t.Fatalf("console after logout: %d, want 302 to login", r.StatusCode)
	}
	if r := b.do("GET", accountURL+"/consoles", nil, "Accept", html); r.StatusCode != 302 {
		t.Fatalf("consoles page after logout: %d", r.StatusCode)
	}
}

func TestPagesEscapeInput(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.do("POST", accountURL+"/login", url.Values{"step": {"identify"}, "email": {`x"><script>alert(1)</script>@example.com`}}, "Accept", "text/html")
	r := b.do("GET", accountURL+"/login?return_to="+url.QueryEscape(`"><script>alert(1)</script>`), nil, "Accept", "text/html")
	if strings.Contains(string(r.body), "<script>alert(1)") {
		t.Fatal("unescaped input in the page")
	}
}
