package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"unigate/config"
)

// TestBrowserStepUpByPasskey: a console page under a step_up rule that
// takes a passkey sends the browser to the step-up page; the passkey proof
// there brings it back to the console page, through the console's handoff
// (CONTRACT §11).
func TestBrowserStepUpByPasskey(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	h := newBrowserHarness(t, withStepUp(config.StepUp{PathPrefix: "/billing/", MaxAge: 10 * time.Minute, Methods: []string{"passkey"}}))
	h.createAccount("alice@example.com", "correct horse battery")
	ctx := newChrome(t)
	dir := artifactDir(t)
	console := "http://dedibox.localhost:" + h.port
	run(t, ctx, "sign in, add a passkey, enter Dedibox",
		chromedp.Navigate(h.base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "alice@example.com"),
		chromedp.Submit(chromedp.CSS(`#email`)),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		waitPath("/consoles"),
		chromedp.Navigate(h.base+"/settings/security"),
		chromedp.WaitVisible(chromedp.CSS(`#passkey-name`)),
		chromedp.SendKeys(chromedp.CSS(`#passkey-name`), "Test laptop"),
		chromedp.Click(chromedp.CSS(`button[data-passkey="register"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[text()="Test laptop"]`)),
		chromedp.Navigate(h.base+"/consoles"),
		chromedp.Click(chromedp.CSS(`form[action="/consoles/dedibox/enter"] button`)),
		waitPath("/"),
	)
	run(t, ctx, "the billing page asks for a passkey",
		chromedp.Navigate(console+"/billing/invoices"),
		waitPath("/login/step-up"),
		chromedp.WaitVisible(chromedp.CSS(`button[data-passkey="reauth"]`)),
		shot(t, dir, "stepup-1-page"),
	)
	if got := h.dedibox.under("/billing/"); len(got) != 0 {
		t.Fatalf("%d requests reached the console before the step-up", len(got))
	}
	run(t, ctx, "the passkey brings the browser back",
		chromedp.Click(chromedp.CSS(`button[data-passkey="reauth"]`)),
		waitPath("/billing/invoices"),
		shot(t, dir, "stepup-2-back-at-the-console"),
	)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || loc != console+"/billing/invoices" {
		t.Fatalf("landed on %q (%v), want %s/billing/invoices", loc, err, console)
	}
	reached := h.dedibox.under("/billing/")
	if len(reached) != 1 {
		t.Fatalf("the console got %d billing requests, want 1", len(reached))
	}
	got := reached[0]
	claims := signedClaims(t, h.signer.JWKS(), got.Header.Get("X-Auth-Assertion"))
	if got.URL.Path != "/billing/invoices" || fmt.Sprint(claims["amr"]) != "[hwk mfa]" {
		t.Errorf("console got %s with amr %v, want /billing/invoices with [hwk mfa]", got.URL.Path, claims["amr"])
	}
}

// under returns the requests the upstream received at or below prefix.
func (u *upstream) under(prefix string) []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []*http.Request
	for _, r := range u.reqs {
		if strings.HasPrefix(r.URL.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// signedClaims checks token against the JWKS and returns its claims.
func signedClaims(t testing.TB, jwks []byte, token string) map[string]any {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks: %v %s", err, jwks)
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("assertion: %v", err)
	}
	claims := map[string]any{}
	if err := tok.Claims(set.Keys[0].Key, &claims); err != nil {
		t.Fatalf("assertion signature: %v", err)
	}
	return claims
}
