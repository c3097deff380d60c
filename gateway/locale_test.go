package gateway

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"unigate/accounts"
	"unigate/config"
	"unigate/web"
)

// page is a response's HTML with entities decoded, for plain-text checks.
func (r *response) page() string { return html.UnescapeString(string(r.body)) }

func (r *response) langCookie() *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == langCookie {
			return c
		}
	}
	return nil
}

func wantPage(t *testing.T, r *response, status int, lang string, texts ...string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", r.StatusCode, status, r.body)
	}
	body := r.page()
	if !strings.Contains(body, `<html lang="`+lang+`">`) || r.Header.Get("Content-Language") != lang {
		t.Errorf("page not in %q (Content-Language %q): %.300s", lang, r.Header.Get("Content-Language"), body)
	}
	for _, s := range texts {
		if !strings.Contains(body, s) {
			t.Errorf("page (%s) lacks %q:\n%s", lang, s, body)
		}
	}
}

func TestLoginPageLanguage(t *testing.T) {
	h := newHarness(t)

	// English by default, and when French is not asked for.
	for _, al := range []string{"", "en-US,en;q=0.9", "de-DE,de;q=0.9", "de, en;q=0.5, fr;q=0.4", "*"} {
		r := h.browser().do("GET", accountURL+"/login", nil, "Accept-Language", al)
		wantPage(t, r, 200, "en", "Sign in", "Email address", "Continue", "Create an account")
		if r.langCookie() != nil {
			t.Errorf("Accept-Language %q set the language cookie", al)
		}
	}

	// Accept-Language: French.
	for _, al := range []string{"fr", "fr-FR,fr;q=0.9,en;q=0.8", "fr-CA", "de, fr;q=0.8, en;q=0.5", "en;q=0.2, FR-be"} {
		r := h.browser().do("GET", accountURL+"/login", nil, "Accept-Language", al)
		wantPage(t, r, 200, "fr", "<title>Se connecter</title>", "Adresse e-mail", "Continuer", "Créer un compte", "Pas encore de compte\u00a0?")
		if strings.Contains(r.page(), "Email address") || r.langCookie() != nil {
			t.Errorf("Accept-Language %q: English left or cookie set", al)
		}
	}

	// ?lang=fr: French, remembered by a cookie that beats Accept-Language.
	b := h.browser()
	r := b.do("GET", accountURL+"/login?lang=fr&return_to=%2Fconsoles", nil, "Accept-Language", "en")
	wantPage(t, r, 200, "fr", "Se connecter", "Adresse e-mail", `value="/consoles"`,
		`<a href="/login?lang=en&return_to=%2Fconsoles" lang="en" hreflang="en">English</a>`,
		`<span lang="fr" aria-current="true">Français</span>`)
	c := r.langCookie()
	if c == nil || c.Value != "fr" || c.Path != "/" || !c.HttpOnly || c.Secure || c.SameSite != http.SameSiteLaxMode || c.MaxAge < 364*24*3600 {
		t.Fatalf("language cookie: %+v", c)
	}
	r = b.do("GET", accountURL+"/login", nil, "Accept-Language", "en-US,en")
	wantPage(t, r, 200, "fr", "Se connecter")
	if r.langCookie() != nil {
		t.Error("the cookie is set again on every page")
	}
	r = b.do("GET", accountURL+"/signup", nil)
	wantPage(t, r, 200, "fr", "Créer votre compte", "Mot de passe (au moins")

	// ?lang=en switches back, for good.
	r = b.do("GET", accountURL+"/login?lang=en", nil, "Accept-Language", "fr")
	wantPage(t, r, 200, "en", "Email address")
	if c := r.langCookie(); c == nil || c.Value != "en" {
		t.Fatalf("cookie after ?lang=en: %+v", c)
	}
	wantPage(t, b.do("GET", accountURL+"/login", nil, "Accept-Language", "fr"), 200, "en")

	// Unknown values are ignored.
	r = h.browser().do("GET", accountURL+"/login?lang=de", nil, "Accept-Language", "fr", "Cookie", langCookie+"=xx")
	wantPage(t, r, 200, "fr")
	if r.langCookie() != nil {
		t.Error("?lang=de set a cookie")
	}
}

func TestLanguageCookieSecureOnHTTPS(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.PublicURL = "https://account.test:8080" })
	r := h.browser().do("GET", accountURL+"/login?lang=fr", nil)
	if c := r.langCookie(); c == nil || !c.Secure || !c.HttpOnly {
		t.Fatalf("cookie on https: %+v", c)
	}
}

// Messages the gateway passes to pages come out in French on French pages.
func TestLoginMessagesInFrench(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.do("GET", accountURL+"/login?lang=fr", nil)
	if r := b.do("POST", accountURL+"/login", url.Values{"step": {"identify"}, "email": {"alice@example.com"}}); r.StatusCode != 303 {
		t.Fatalf("identify: %d", r.StatusCode)
	}
	wantPage(t, b.do("GET", accountURL+"/login", nil), 200, "fr", "Connexion en tant que", "Mot de passe", "Ce n'est pas vous\u00a0?")
	r := b.do("POST", accountURL+"/login", url.Values{"step": {"password"}, "password": {"wrong"}})
	wantPage(t, r, 401, "fr", "L'adresse e-mail ou le mot de passe est incorrect.")
	// The form's answer, shown at POST /login, switches language with GET /login.
	if !strings.Contains(r.page(), `href="/login?lang=en"`) {
		t.Errorf("language switch of a form's answer: %s", r.body)
	}
	for q, want := range map[string]string{
		"error=session_expired": "Votre session a pris fin. Veuillez vous reconnecter.",
		"error=sso_not_linked":  "Ce compte du fournisseur n'est associé à aucun compte ici.",
		"error=sso_state":       "Cette tentative de connexion a expiré",
		"error=whatever":        "La connexion n'a pas pu aboutir. Veuillez réessayer.",
		"sent=1":                "Si cette adresse a un compte, un code est en route.",
	} {
		wantPage(t, h.browser().do("GET", accountURL+"/login?restart=1&"+q, nil, "Accept-Language", "fr"), 200, "fr", want)
	}
	// The JSON API keeps English.
	if r := b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "wrong"}, "Accept-Language", "fr"); !strings.Contains(string(r.body), "The email or password is incorrect.") {
		t.Errorf("API: %s", r.body)
	}
}

// The signed-in account's own locale applies when nothing else says, but
// not before the login is complete (it would tell that the address has an account).
func TestAccountLocale(t *testing.T) {
	h := newHarness(t)
	a := h.createAccount("alice@example.com", "correct horse battery")
	if err := h.accounts.(accounts.ProfileStore).SetLocale(context.Background(), a.ID, "fr"); err != nil {
		t.Fatal(err)
	}
	half := h.browser()
	half.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"})
	wantPage(t, half.do("GET", accountURL+"/login", nil), 200, "en", "Signing in as")

	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	wantPage(t, b.do("GET", accountURL+"/consoles", nil, "Accept-Language", "en"), 200, "fr", "Choisir une console", "Connecté en tant que", "Ouvrir Dedibox")
	wantPage(t, b.do("GET", accountURL+"/settings", nil), 200, "fr", "Paramètres", "Sessions actives")
	// The cookie still wins.
	wantPage(t, b.do("GET", accountURL+"/consoles?lang=en", nil), 200, "en", "Choose a console")
	wantPage(t, b.do("GET", accountURL+"/orgs", nil), 200, "en", "Organizations")
}

func TestSettingsLanguageForm(t *testing.T) {
	h := newHarness(t)
	a := h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")

	r := b.do("GET", accountURL+"/settings", nil)
	wantPage(t, r, 200, "en", `action="/settings/locale"`, `name="locale" value="en" checked`, `value="fr"`, "Language")

	// Signed out: to the login page, nothing saved.
	if r := h.browser().do("POST", accountURL+"/settings/locale", url.Values{"locale": {"fr"}}); r.StatusCode != 303 || r.Header.Get("Location") != "/login" {
		t.Fatalf("signed out: %d %s", r.StatusCode, r.Header.Get("Location"))
	}

	// Not a language of ours: 400, the page again with the error.
	r = b.do("POST", accountURL+"/settings/locale", url.Values{"locale": {"de"}})
	wantPage(t, r, 400, "en", "Choose English or French.")
	if acct, _ := h.accounts.AccountByID(context.Background(), a.ID); acct.Locale != "en" {
		t.Fatalf("locale after a refused form: %q", acct.Locale)
	}
	if !strings.Contains(r.page(), `href="/settings?lang=fr"`) {
		t.Errorf("language switch of the settings form's answer: %s", r.body)
	}

	r = b.do("POST", accountURL+"/settings/locale", url.Values{"locale": {"fr"}})
	if r.StatusCode != 303 || r.Header.Get("Location") != "/settings?notice=locale" {
		t.Fatalf("save: %d %s %s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	if c := r.langCookie(); c == nil || c.Value != "fr" || c.Path != "/" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("language cookie: %+v", c)
	}
	acct, err := h.accounts.AccountByID(context.Background(), a.ID)
	if err != nil || acct.Locale != "fr" {
		t.Fatalf("account locale: %v %v", acct, err)
	}
	wantPage(t, b.do("GET", accountURL+"/settings?notice=locale", nil), 200, "fr",
		"Votre langue a été enregistrée.", `name="locale" value="fr" checked`, "Enregistrer la langue")

	// Another browser of the account, with no cookie, follows the account.
	other := h.browser()
	other.login("alice@example.com", "correct horse battery")
	wantPage(t, other.do("GET", accountURL+"/settings/security", nil), 200, "fr", "Sécurité", "Clés d'accès")

	// The form's error in French on a French page.
	wantPage(t, b.do("POST", accountURL+"/settings/locale", url.Values{"locale": {""}}), 400, "fr", "Choisissez l'anglais ou le français.")

	// And back to English.
	if r := b.do("POST", accountURL+"/settings/locale", url.Values{"locale": {"en"}}); r.StatusCode != 303 {
		t.Fatalf("back to en: %d", r.StatusCode)
	}
	wantPage(t, b.do("GET", accountURL+"/settings", nil), 200, "en", "Settings")
	if acct, _ := h.accounts.AccountByID(context.Background(), a.ID); acct.Locale != "en" {
		t.Fatalf("locale: %q", acct.Locale)
	}
}

func TestSecurityAndSettingsNoticesInFrench(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.do("GET", accountURL+"/consoles?lang=fr", nil)
	for path, want := range map[string]string{
		"/settings?notice=password":                "Votre mot de passe a été changé.",
		"/settings?notice=revoked":                 "La session a été déconnectée.",
		"/settings/security?notice=confirmed":      "Merci. Vous pouvez modifier vos paramètres de sécurité",
		"/settings/security?notice=totp_on":        "Votre application d'authentification est configurée.",
		"/settings/security?error=reauth_required": "Confirmez d'abord votre identité, puis associez de nouveau le fournisseur.",
		"/orgs?error=invalid_name":                 "Donnez un nom de 1 à 100 caractères",
	} {
		wantPage(t, b.do("GET", accountURL+path, nil), 200, "fr", want)
	}
	// A form refused for lack of a recent proof.
	h.clock.Advance(10 * time.Minute)
	r := b.do("POST", accountURL+"/settings/password", url.Values{"current_password": {"correct horse battery"}, "new_password": {"a new long passphrase"}})
	wantPage(t, r, 403, "fr", "Confirmez d'abord votre identité\u00a0: reconnectez-vous")
	// Error pages too.
	wantPage(t, b.do("POST", accountURL+"/consoles/nope/enter", url.Values{}), 404, "fr", "Cette console n'existe pas.", "Erreur 404")
}

func TestAcceptLanguage(t *testing.T) {
	for header, want := range map[string]string{
		"":                                "en",
		"fr":                              "fr",
		"FR-ca":                           "fr",
		"en":                              "en",
		"de":                              "en",
		"de, fr":                          "fr",
		"fr;q=0, en;q=0.1":                "en",
		"en;q=0.5, fr;q=0.8":              "fr",
		"en, fr":                          "en",
		"fr;q=1.5, en;q=0.3":              "en",
		"fr;q=abc":                        "en",
		"fr_FR":                           "fr",
		"  fr-FR ; q=0.9 ,en ; q=0.8 ":    "fr",
		"french":                          "en",
		strings.Repeat("x,", 1000) + "fr": "fr",
	} {
		if got := acceptLanguage(header); got != want {
			t.Errorf("acceptLanguage(%q) = %q, want %q", header, got, want)
		}
	}
}

// Every sentence the gateway can put on a page has its French (web/messages.go).
func TestGatewayMessagesTranslated(t *testing.T) {
	msgs := map[string]string{} // message -> where
	for _, code := range []string{"sso_denied", "sso_unavailable", "sso_not_linked", "sso_state", "sso_email_mismatch",
		"sso_unverified_email", "sso_taken", "sso_exists", "reauth_required", "sso_invalid", "sso_failed"} {
		msgs[ssoMessage(code)] = "ssoMessage(" + code + ")"
	}
	for _, code := range []string{"session_expired", "sso_denied", "other"} {
		msgs[loginErrorMessage(code)] = "loginErrorMessage(" + code + ")"
	}
	for _, code := range []string{"password", "revoked", "locale"} {
		msgs[settingsNotice(code)] = "settingsNotice(" + code + ")"
	}
	for _, code := range []string{"totp_on", "removed", "sso_linked", "sso_unlinked", "confirmed"} {
		msgs[securityNotice(code)] = "securityNotice(" + code + ")"
	}
	for code, msg := range orgNotices {
		msgs[msg] = "orgNotices[" + code + "]"
	}
	// The one message of every error code.
	for code, info := range errorCodes {
		msgs[strings.ReplaceAll(info.message, "%d", "12")] = "errorCodes[" + code + "]"
	}
	// And every literal of the gateway's sources that becomes a message.
	for msg, where := range gatewayMessages(t) {
		msgs[msg] = where
	}
	for msg, where := range msgs {
		if msg == "" {
			t.Errorf("%s: no message", where)
		} else if !web.HasTranslation(msg) {
			t.Errorf("%s: %q has no French in web/messages.go", where, msg)
		}
	}
}

// gatewayMessages finds, in the gateway's sources, the messages of errorf
// and apiError, the notices of the organization pages, and the literals
// given to a page's Message, Notice or Error.
func gatewayMessages(t *testing.T) map[string]string {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := map[string]string{}
	str := func(e ast.Expr) (string, bool) {
		if call, ok := e.(*ast.CallExpr); ok {
			// fmt.Sprintf("… %d …", n): the format, with a number.
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sprintf" && len(call.Args) > 0 {
				if f, ok := call.Args[0].(*ast.BasicLit); ok && f.Kind == token.STRING {
					s, _ := strconv.Unquote(f.Value)
					return strings.ReplaceAll(s, "%d", "12"), true
				}
			}
			return "", false
		}
		bl, ok := e.(*ast.BasicLit)
		if !ok || bl.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(bl.Value)
		return s, err == nil && s != ""
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		add := func(n ast.Node, e ast.Expr) {
			if s, ok := str(e); ok {
				out[s] = fset.Position(n.Pos()).String()
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				switch fn := n.Fun.(type) {
				case *ast.Ident:
					if fn.Name == "errorf" && len(n.Args) == 3 {
						add(n, n.Args[2])
					}
				}
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "apiError" {
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Message" {
								add(kv, kv.Value)
							}
						}
					}
				}
			case *ast.AssignStmt:
				if len(n.Lhs) != len(n.Rhs) {
					break
				}
				for i, l := range n.Lhs {
					if sel, ok := l.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Message" || sel.Sel.Name == "Notice" || sel.Sel.Name == "Error") {
						add(n, n.Rhs[i])
					}
				}
			}
			return true
		})
	}
	if len(out) < 1 {
		t.Fatalf("found only %d messages in the sources: %v", len(out), out)
	}
	return out
}

func TestSwitchPath(t *testing.T) {
	h := newHarness(t)
	s := h.gw
	for _, c := range []struct{ method, target, page, want string }{
		{"GET", accountURL + "/login?return_to=%2Fconsoles", "login", "/login?return_to=%2Fconsoles"},
		{"POST", accountURL + "/login", "login", "/login"},
		{"POST", dediboxURL + "/.auth/login", "login", "/.auth/login"},
		{"POST", accountURL + "/signup", "signup", "/signup"},
		{"POST", accountURL + "/settings/password", "settings", "/settings"},
		{"POST", accountURL + "/settings/security/totp", "security", "/settings/security"},
		{"POST", accountURL + "/consoles/dedibox/enter", "consoles", "/consoles"},
		{"POST", accountURL + "/logout", "error", ""},
		{"GET", accountURL + "/nope", "error", "/nope"},
		{"GET", dediboxURL + "/some/console/page", "error", ""},
		{"GET", dediboxURL + "/.auth/handoff?code=x", "error", "/.auth/handoff?code=x"},
	} {
		r := httptest.NewRequest(c.method, c.target, nil)
		if got := s.switchPath(r, c.page); got != c.want {
			t.Errorf("%s %s (%s): %q, want %q", c.method, c.target, c.page, got, c.want)
		}
	}
}

// TestBrowserFrench: the portal in French in a real browser on a phone-sized
// screen, the language switch, and passkey.js speaking the page's language.
func TestBrowserFrench(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	h := newBrowserHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	ctx := newChrome(t)
	dir := artifactDir(t)
	text := func(expr string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return s
	}

	run(t, ctx, "French login on a phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(h.base+"/login?lang=fr"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		shot(t, dir, "locale-1-login-fr-phone"),
	)
	if got := text(`document.documentElement.lang + "|" + document.querySelector("h1").textContent + "|" + document.querySelector("label[for=email]").textContent`); got != "fr|Se connecter|Adresse e-mail" {
		t.Fatalf("French login page: %q", got)
	}
	if w := text(`String(document.documentElement.scrollWidth)`); w != "390" {
		t.Errorf("the page scrolls sideways on a phone: %s px wide", w)
	}
	run(t, ctx, "sign in in French",
		chromedp.SendKeys(chromedp.CSS(`#email`), "alice@example.com"),
		chromedp.Submit(chromedp.CSS(`#email`)),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		waitPath("/consoles"),
		chromedp.WaitVisible(chromedp.CSS(`.consoles`)),
		shot(t, dir, "locale-2-consoles-fr-phone"),
	)
	if got := text(`document.querySelector("h1").textContent`); got != "Choisir une console" {
		t.Fatalf("consoles page: %q", got)
	}
	run(t, ctx, "passkey message in French",
		chromedp.Navigate(h.base+"/settings/security"),
		chromedp.WaitVisible(chromedp.CSS(`#passkey-name`)),
		chromedp.Evaluate[chromedp.Void](`delete window.PublicKeyCredential; window.PublicKeyCredential = undefined`),
		chromedp.Click(chromedp.CSS(`button[data-passkey="register"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#passkey-error`)),
		shot(t, dir, "locale-3-security-fr-phone"),
	)
	if got := text(`document.getElementById("passkey-error").textContent`); got != "Ce navigateur ne prend pas en charge les clés d'accès." {
		t.Fatalf("passkey.js message: %q", got)
	}
	run(t, ctx, "switch to English",
		chromedp.Click(chromedp.CSS(`nav.langs a[hreflang="en"]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Security"]`)),
	)
	if got := text(`location.pathname + location.search`); got != "/settings/security?lang=en" {
		t.Errorf("after the switch: %s", got)
	}
}
