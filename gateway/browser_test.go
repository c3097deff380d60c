package gateway

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"unigate/config"
	"unigate/sso"
	"unigate/sso/ssotest"
)

// Browser tests drive Debian's headless Chromium with chromedp against the
// gateway served on 127.0.0.1 under *.localhost names (Chromium resolves
// them to loopback, and treats them as secure contexts, as WebAuthn needs).
// A CDP virtual authenticator plays the passkey. Each step is saved as a
// screenshot under testdata-artifacts/screenshots/ for people to look at.

// chromiumPath finds the browser, skipping (or failing in CI) without it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("UNIGATE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("UNIGATE_REQUIRE_SERVICES") == "1" {
		t.Fatal("Chromium is required (UNIGATE_REQUIRE_SERVICES=1) but not installed: apt-get install -y chromium")
	}
	t.Skip("Chromium not installed (apt-get install -y chromium)")
	return ""
}

// artifactDir is where screenshots go.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("UNIGATE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "testdata-artifacts")
	}
	dir = filepath.Join(dir, "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// browserHarness is the gateway on a real listener, named account.localhost:PORT.
type browserHarness struct {
	*harness
	base string // http://account.localhost:PORT
	port string
}

func newBrowserHarness(t *testing.T, opts ...harnessOption) *browserHarness {
	return newBrowserHarnessWithDeps(t, nil, opts...)
}

func newBrowserHarnessWithDeps(t *testing.T, deps func(*Deps), opts ...harnessOption) *browserHarness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	opts = append([]harnessOption{func(c *config.Config) {
		c.PublicURL = "http://account.localhost:" + port
		c.Consoles[0].Hosts = []string{"dedibox.localhost"}
		c.Consoles[1].Hosts = []string{"scaleway.localhost"}
	}}, opts...)
	h := newHarnessWithDeps(t, nil, deps, opts...)
	srv := &http.Server{Handler: h.gw, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &browserHarness{harness: h, base: "http://account.localhost:" + port, port: port}
}

// newChrome starts headless Chromium with a virtual passkey authenticator.
func newChrome(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// The test identity provider serves TLS with a certificate of its own.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.WindowSize(900, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first Run starts the browser; its context must live as long as the browser.
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	_, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatalf("adding a virtual authenticator: %v", err)
	}
	return ctx
}

// step is one browser action.
type step = chromedp.Action[chromedp.Void]

// shot saves a full-page screenshot as NAME.png.
func shot(t *testing.T, dir, name string) step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		// A page still being laid out after a navigation has no size yet: retry briefly.
		var err error
		for range 20 {
			var buf []byte
			if buf, err = chromedp.FullScreenshot(100)(ctx, tg); err == nil {
				return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
			}
			time.Sleep(100 * time.Millisecond)
		}
		return err
	})
}

// waitPath waits until the page's path is p.
func waitPath(p string) step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for {
			loc, err := chromedp.Evaluate[string](`location.pathname`)(ctx, tg)
			if err == nil && loc == p {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// clickJS clicks the submit button of the form holding sel, through the DOM.
func clickJS(sel string) step {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(function(){ const f = document.querySelector(`+"`"+sel+"`"+`).form; f.requestSubmit(); return true })()`)(ctx, tg)
		return err
	})
}

// run runs the steps, each step of a test within 30 s.
func run(t *testing.T, ctx context.Context, what string, steps ...step) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("%s: %v (at %s: %.400s)", what, err, loc, body)
	}
}

// TestBrowserPasskeys registers a passkey in settings, signs out, and signs
// in with it, passwordless and as the second factor, in a real browser.
func TestBrowserPasskeys(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	h := newBrowserHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	ctx := newChrome(t)
	noPasskeyAutofill(t, ctx) // the button is tested here; autofill in browser_autofill_test.go
	dir := artifactDir(t)

	signInWithPassword := func(prefix string) {
		run(t, ctx, prefix+" identify",
			chromedp.Navigate(h.base+"/login"),
			chromedp.WaitVisible(chromedp.CSS(`#email`)),
			shot(t, dir, prefix+"-1-identify"),
			chromedp.SendKeys(chromedp.CSS(`#email`), "alice@example.com"),
			chromedp.Submit(chromedp.CSS(`#email`)),
			chromedp.WaitVisible(chromedp.CSS(`#password`)),
			shot(t, dir, prefix+"-2-password"),
			chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery"),
			chromedp.Submit(chromedp.CSS(`#password`)),
		)
	}
	signOut := func() {
		run(t, ctx, "sign out",
			chromedp.Navigate(h.base+"/consoles"),
			chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
			waitPath("/login"),
		)
	}

	signInWithPassword("passkey-a")
	run(t, ctx, "consoles page", waitPath("/consoles"), chromedp.WaitVisible(chromedp.CSS(`.consoles`)), shot(t, dir, "passkey-a-3-consoles"))
	run(t, ctx, "register a passkey in settings",
		chromedp.Navigate(h.base+"/settings/security"),
		chromedp.WaitVisible(chromedp.CSS(`#passkey-name`)),
		chromedp.SendKeys(chromedp.CSS(`#passkey-name`), "Test laptop"),
		chromedp.Click(chromedp.CSS(`button[data-passkey="register"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[text()="Test laptop"]`)),
		shot(t, dir, "passkey-b-settings-registered"),
	)
	creds, _ := h.accounts.WebAuthnCredentials(t.Context(), mustAccountID(t, h.harness, "alice@example.com"))
	if len(creds) != 1 || !creds[0].UserVerified {
		t.Fatalf("stored credentials: %+v", creds)
	}
	signOut()

	// Passwordless: email, then the passkey instead of the password.
	run(t, ctx, "passwordless",
		chromedp.Navigate(h.base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "alice@example.com"),
		chromedp.Submit(chromedp.CSS(`#email`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-passkey="login"]`)),
		shot(t, dir, "passkey-c-password-step-with-passkey"),
		chromedp.Click(chromedp.CSS(`button[data-passkey="login"]`)),
		waitPath("/consoles"),
		shot(t, dir, "passkey-d-passwordless-done"),
	)
	if got := h.sessionMFA(t, ctx); got != "passkey" {
		t.Fatalf("passwordless session MFA: %q", got)
	}
	signOut()

	// Password, then the passkey as the second factor.
	signInWithPassword("passkey-e")
	run(t, ctx, "second factor",
		waitPath("/login"),
		chromedp.WaitVisible(chromedp.Search(`//h2[text()="Second step"]`)),
		shot(t, dir, "passkey-e-3-second-factor"),
		chromedp.Click(chromedp.CSS(`button[data-passkey="login"]`)),
		waitPath("/consoles"),
		shot(t, dir, "passkey-f-second-factor-done"),
	)
	if got := h.sessionMFA(t, ctx); got != "passkey" {
		t.Fatalf("second-factor session MFA: %q", got)
	}
	// And a console receives it.
	run(t, ctx, "enter Dedibox",
		chromedp.Click(chromedp.CSS(`form[action="/consoles/dedibox/enter"] button`)),
		waitPath("/"),
		shot(t, dir, "passkey-g-console"),
	)
	if got := h.dedibox.last(t).Header.Get("X-Auth-MFA"); got != "passkey" {
		t.Fatalf("X-Auth-MFA at the console: %q", got)
	}
}

// TestBrowserEnrollmentAndEmailCode walks the forced paths: an account whose
// password and MFA the unification erased signs in with an emailed code,
// sets a password, then enrolls a passkey before reaching the consoles.
func TestBrowserEnrollmentAndEmailCode(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	h := newBrowserHarness(t)
	h.flaggedAccount("erased@example.com")
	mailer := h.gw.mailer.(*recordingMailer)
	ctx := newChrome(t)
	dir := artifactDir(t)
	run(t, ctx, "email code",
		chromedp.Navigate(h.base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "erased@example.com"),
		chromedp.Submit(chromedp.CSS(`#email`)),
		chromedp.WaitReady(chromedp.CSS(`input[name="step"][value="email_code_send"]`)),
		shot(t, dir, "code-1-ask"),
		clickJS(`input[name="step"][value="email_code_send"]`),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
		shot(t, dir, "code-2-enter"),
	)
	code := mailer.lastCode(t, "erased@example.com")
	run(t, ctx, "code then new password",
		chromedp.SendKeys(chromedp.CSS(`#code`), code),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitReady(chromedp.CSS(`input[name="step"][value="set_password"]`)),
		shot(t, dir, "code-3-set-password"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "a brand new passphrase"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`img.qr`)),
		shot(t, dir, "code-4-enroll"),
		chromedp.Click(chromedp.CSS(`button[data-passkey="register"]`)),
		waitPath("/consoles"),
		shot(t, dir, "code-5-done"),
	)
	if got := h.sessionMFA(t, ctx); got != "passkey" {
		t.Fatalf("session MFA after enrollment: %q", got)
	}
}

// sessionMFA reads GET /api/v1/session from inside the browser.
func (h *browserHarness) sessionMFA(t *testing.T, ctx context.Context) string {
	t.Helper()
	mfa, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch("/api/v1/session").then(r => r.json()).then(j => j.mfa || "")`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("reading the session: %v", err)
	}
	return mfa
}

func mustAccountID(t *testing.T, h *harness, email string) string {
	a, err := h.accounts.AccountByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// TestBrowserSSO links Google from the security page and signs in with it,
// the whole round trip through a real OIDC provider (mockoidc over TLS).
func TestBrowserSSO(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	op := ssotest.StartOIDC(t)
	google, err := sso.NewOIDC(sso.Google, op.Config())
	if err != nil {
		t.Fatal(err)
	}
	h := newBrowserHarnessWithDeps(t, func(d *Deps) { d.SSOProviders = map[string]sso.Provider{sso.Google: google} })
	h.createAccount("alice@example.com", "correct horse battery")
	ctx := newChrome(t)
	dir := artifactDir(t)
	op.QueueUser(ssotest.User{Subject: "g-alice", Email: "alice@example.com", EmailVerified: true})
	op.QueueUser(ssotest.User{Subject: "g-alice", Email: "alice@example.com", EmailVerified: true})
	run(t, ctx, "sign in and link Google",
		chromedp.Navigate(h.base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "alice@example.com"),
		chromedp.Submit(chromedp.CSS(`#email`)),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		waitPath("/consoles"),
		chromedp.Navigate(h.base+"/settings/security"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/settings/security/sso/google"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/settings/security/sso/google"] button`)),
		waitPath("/settings/security"),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "The provider is linked")]`)),
		shot(t, dir, "sso-1-linked"),
		chromedp.Navigate(h.base+"/consoles"),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		waitPath("/login"),
		chromedp.WaitVisible(chromedp.CSS(`a.provider`)),
		shot(t, dir, "sso-2-login-with-provider"),
		chromedp.Click(chromedp.CSS(`a.provider`)),
		waitPath("/consoles"),
		shot(t, dir, "sso-3-signed-in"),
	)
	if h.sessionMFA(t, ctx) != "none" {
		t.Fatal("unexpected session after SSO")
	}
}
