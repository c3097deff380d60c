package gateway

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestBrowserPasskeyAutofill: after a passkey is registered, the login
// page's email field offers it (conditional mediation) and picking it signs
// in without typing anything, to the login's return_to (CONTRACT §11).
func TestBrowserPasskeyAutofill(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	h := newBrowserHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	ctx := newChrome(t)
	dir := artifactDir(t)
	run(t, ctx, "sign in, add a passkey, sign out",
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
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		waitPath("/login"),
	)
	available, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`PublicKeyCredential.isConditionalMediationAvailable()`, chromedp.EvalAwaitPromise))
	if err != nil || !available {
		t.Skipf("this Chromium offers no conditional mediation (%v, %v)", available, err)
	}
	// The virtual authenticator answers a conditional request at once, as
	// a user picking the passkey in the email field's suggestions would:
	// the login page signs in with nothing typed nor clicked.
	run(t, ctx, "the email field's passkey signs in",
		chromedp.Navigate(h.base+"/login?return_to=%2Fsettings"),
		waitPath("/settings"),
		shot(t, dir, "autofill-1-signed-in"),
	)
	if got := h.sessionMFA(t, ctx); got != "passkey" {
		t.Fatalf("session MFA after autofill: %q", got)
	}
}

// noPasskeyAutofill makes the pages of ctx see a browser without
// conditional mediation, for tests of the passkey button: the virtual
// authenticator answers a conditional request at once, so the login page
// would sign in before the test reaches the button.
func noPasskeyAutofill(t *testing.T, ctx context.Context) {
	t.Helper()
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);`,
	})
	if err != nil {
		t.Fatalf("hiding conditional mediation: %v", err)
	}
}
