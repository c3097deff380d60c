package web

import (
	"html"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
)

func TestEveryPageRenders(t *testing.T) {
	r, err := NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.pages) < 3 {
		t.Fatalf("only %d pages parsed", len(r.pages))
	}
	for name := range r.pages {
		for _, loc := range Locales {
			var b strings.Builder
			// Templates must cope with a zero data value (missing fields never panic).
			if err := r.Render(&b, Frame{Locale: loc}, name, map[string]any{}); err != nil {
				t.Errorf("%s (%s): %v", name, loc, err)
				continue
			}
			out := b.String()
			if !strings.HasPrefix(out, "<!doctype html>") || !strings.Contains(out, `<html lang="`+loc+`">`) || !strings.Contains(out, `/static/portal.css`) {
				t.Errorf("%s (%s): not a full page: %.200s", name, loc, out)
			}
			if strings.Contains(out, "<script src=\"http") || strings.Contains(out, "https://") {
				t.Errorf("%s: refers to a third-party asset", name)
			}
		}
	}
	if err := r.Render(io.Discard, Frame{}, "no-such-page", nil); err == nil {
		t.Error("unknown page rendered")
	}
	// An unknown locale is English.
	var b strings.Builder
	if err := r.Render(&b, Frame{Locale: "de"}, "error", map[string]any{}); err != nil || !strings.Contains(b.String(), `<html lang="en">`) {
		t.Errorf("locale de: %v %.100s", err, b.String())
	}
}

func TestStaticAssets(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/static/", Static()))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/static/portal.css")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("portal.css: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// loginData mirrors the gateway's loginPage, whose template calls .Has.
type loginData struct {
	Base, Legacy, PortalURL, Step, Email, ReturnTo, Error, Notice string
	MinLen                                                        int
	Methods, MFAMethods, Providers                                []string
	CodeSent                                                      bool
	TOTP                                                          map[string]any
}

func (p loginData) Has(list []string, v string) bool { return slices.Contains(list, v) }

type sample struct {
	page string
	data any
}

// samples reach every branch of every page with the data the gateway gives.
func samples() []sample {
	totp := map[string]any{"QRCodeURL": template.URL("data:image/png;base64,iVBORw0KGgo="), "Secret": "JBSWYTESTSECRET"}
	day := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	login := func(step string, edit func(*loginData)) sample {
		d := loginData{Step: step, Email: "alice@example.com", ReturnTo: "/consoles", MinLen: 12,
			Error: "The email or password is incorrect.", Notice: "If this address has an account, a code is on its way. It is valid for a few minutes."}
		if edit != nil {
			edit(&d)
		}
		return sample{"login", d}
	}
	return []sample{
		login("identify", func(d *loginData) { d.Providers = []string{"google", "microsoft", "github"} }),
		login("identify", func(d *loginData) { d.Base, d.Legacy, d.PortalURL = "/.auth", "Dedibox", "http://account.test/login" }),
		login("password", func(d *loginData) { d.Methods = []string{"password", "passkey", "email_code"} }),
		login("email_code", func(d *loginData) { d.CodeSent = true }),
		login("email_code", nil),
		login("mfa", func(d *loginData) { d.MFAMethods = []string{"totp", "passkey"} }),
		login("set_password", nil),
		login("enroll_mfa", func(d *loginData) { d.TOTP = totp }),
		{"signup", map[string]any{"Step": "form", "Email": "alice@example.com", "MinLen": 12, "Error": "Choose a password of at least 12 characters."}},
		{"signup", map[string]any{"Step": "verify", "Email": "alice@example.com", "MinLen": 12}},
		{"consoles", map[string]any{
			"Email": "alice@example.com", "Active": "dedibox", "ChooseFor": "dedibox", "ReturnTo": "/consoles",
			"Error": "You hold several accounts in this console: choose one.",
			"Orgs": []map[string]any{{"ID": "o1", "Name": "Acme", "Role": "owner", "MFA": map[string]any{"Owed": true, "DaysLeft": 3}},
				{"ID": "o2", "Name": "Umbrella", "Role": "member", "MFA": map[string]any{"Owed": true, "DaysLeft": 0}}},
			"Consoles": []map[string]any{
				{"ID": "dedibox", "Name": "Dedibox", "Accounts": []map[string]any{{"ID": "d1"}, {"ID": "d2"}}},
				{"ID": "scaleway", "Name": "Scaleway", "Accounts": []map[string]any{{"ID": "s1"}}},
			}}},
		{"error", map[string]any{"Status": 404, "Message": "Not found.", "Home": "http://account.test/consoles"}},
		{"invitation", map[string]any{"Token": "tok", "Email": "alice@example.com"}},
		{"orgs", map[string]any{"Email": "alice@example.com", "Error": "An organization needs at least one owner.",
			"Orgs": []map[string]any{{"ID": "o1", "Name": "Acme", "Role": "admin"}}}},
		{"orgs", map[string]any{"Email": "alice@example.com"}},
		{"org", map[string]any{
			"Email": "alice@example.com", "Error": "No such member.", "Notice": "Invitation sent.",
			"Org": map[string]any{"ID": "o1", "Name": "Acme", "Role": "owner", "RequireMFA": true, "MFAGraceDays": 7}, "CanManage": true, "IsOwner": true, "Self": "a1",
			"Members": []map[string]any{
				{"AccountID": "a1", "Email": "alice@example.com", "Role": "owner"},
				{"AccountID": "a2", "Email": "bob@example.com", "Role": "member"},
			},
			"Invitations": []map[string]any{{"Email": "carol@example.com", "Role": "admin", "ExpiresAt": day}}}},
		{"security", map[string]any{
			"Email": "alice@example.com", "Error": "Confirm it is you first: sign in again or re-enter your password.",
			"Notice": "The method was removed.", "Recent": false, "TOTPOn": true,
			"Passkeys": []map[string]any{{"ID": "p1", "Name": "Laptop", "CreatedAt": day, "LastUsedAt": &day}, {"ID": "p2", "Name": "Phone", "CreatedAt": day}},
			"SSO":      []map[string]any{{"Provider": "google", "Email": "alice@gmail.com", "LinkedAt": day}},
			"Unlinked": []string{"microsoft", "github"}}},
		{"security", map[string]any{"Email": "alice@example.com", "Recent": true, "TOTP": totp}},
		{"security", map[string]any{"Email": "alice@example.com", "Recent": true}},
		{"stepup", map[string]any{"Email": "alice@example.com", "Console": "Dedibox", "ReturnTo": "http://console.test/billing/",
			"Error": "This page needs another way of confirming it is you.", "Passkey": true, "TOTP": true, "Password": true}},
		{"stepup", map[string]any{"Email": "alice@example.com", "ReturnTo": "/consoles", "Password": true}},
		{"stepup", map[string]any{"Email": "alice@example.com", "ReturnTo": "/consoles"}},
		{"settings", map[string]any{
			"Email": "alice@example.com", "Error": "The email or password is incorrect.", "Notice": "The session was signed out.",
			"Recent": false, "MinLen": 12, "Locale": "fr",
			"Sessions": []map[string]any{
				{"ID": "h1", "UserAgent": "Firefox", "IP": "192.0.2.1", "LastSeenAt": day, "Current": true},
				{"ID": "h2", "UserAgent": "Chrome", "IP": "192.0.2.2", "LastSeenAt": day},
			}}},
	}
}

// dataWords are the words the samples' data put on the pages.
func dataWords() map[string]bool {
	words := map[string]bool{}
	for _, w := range splitWords(`alice example com bob carol gmail Acme Umbrella Dedibox Scaleway d1 d2 s1
		JBSWYTESTSECRET Laptop Phone Firefox Chrome account test login consoles 2026 11 27 10 00 404 12 192 0 2 1`) {
		words[w] = true
	}
	// Names that are the same in every language.
	for _, w := range []string{"Google", "Microsoft", "GitHub", "English", "Français"} {
		words[w] = true
	}
	return words
}

func splitWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

var (
	scriptRE    = regexp.MustCompile(`(?s)<script.*?</script>`)
	tagRE       = regexp.MustCompile(`(?s)<[^>]*>`)
	readableRE  = regexp.MustCompile(`\b(?:alt|placeholder|title|aria-label|data-(?:start-failed|not-accepted|cancelled|unsupported))="([^"]*)"`)
	frenchSpace = regexp.MustCompile(` [:;?!]`)
)

// visibleText is what a reader gets from a page: its text and the
// attributes read out or shown (alt, placeholder, aria-label, data-* texts).
func visibleText(page string) string {
	page = scriptRE.ReplaceAllString(page, " ")
	var b strings.Builder
	for _, m := range readableRE.FindAllStringSubmatch(page, -1) {
		b.WriteString(html.UnescapeString(m[1]) + "\n")
	}
	b.WriteString(html.UnescapeString(tagRE.ReplaceAllString(page, " ")))
	return b.String()
}

// TestNoTextOutsideTheCatalog renders every sample with texts and messages
// made empty: what is left must be data, not words written in a template.
func TestNoTextOutsideTheCatalog(t *testing.T) {
	fm := localeFuncs("en", nil)
	fm["t"] = func(string, ...any) string { return "" }
	fm["msg"] = func(any) string { return "" }
	r, err := newRenderer(map[string]template.FuncMap{"en": fm})
	if err != nil {
		t.Fatal(err)
	}
	allowed := dataWords()
	for _, s := range samples() {
		var b strings.Builder
		if err := r.Render(&b, Frame{Locale: "en", Path: "/x"}, s.page, s.data); err != nil {
			t.Fatalf("%s: %v", s.page, err)
		}
		for _, w := range splitWords(visibleText(b.String())) {
			if !allowed[w] {
				t.Errorf("%s: %q is written in the template, not taken from the catalog", s.page, w)
			}
		}
	}
}

// TestPagesInBothLanguages renders every sample in each locale: no key is
// missing, the page says its language, and French pages hold no English.
func TestPagesInBothLanguages(t *testing.T) {
	r, err := NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range samples() {
		seen[s.page] = true
		out := map[string]string{}
		for _, loc := range Locales {
			var b strings.Builder
			if err := r.Render(&b, Frame{Locale: loc, Path: "/login?return_to=%2Fconsoles"}, s.page, s.data); err != nil {
				t.Fatalf("%s (%s): %v", s.page, loc, err)
			}
			out[loc] = b.String()
			if strings.Contains(out[loc], missing) || strings.Contains(out[loc], "%!") {
				t.Errorf("%s (%s): a text is missing or badly filled:\n%s", s.page, loc, out[loc])
			}
			if !strings.Contains(out[loc], `<html lang="`+loc+`">`) {
				t.Errorf("%s (%s): no lang attribute", s.page, loc)
			}
		}
		// Every English sentence of the catalog and of the messages is absent from the French page.
		fr := visibleText(out["fr"])
		for key, e := range catalog {
			if e.en == e.fr {
				continue
			}
			// The longest part without arguments, if long enough to be telling.
			var part string
			for _, p := range verbRE.Split(e.en, -1) {
				if len(p) > len(part) {
					part = p
				}
			}
			if len(part) > 12 && strings.Contains(fr, part) {
				t.Errorf("%s (fr): English text of %s left: %q", s.page, key, e.en)
			}
		}
		for en := range messagesFR {
			if strings.Contains(fr, en) {
				t.Errorf("%s (fr): English message left: %q", s.page, en)
			}
		}
		if frenchSpace.MatchString(fr) {
			t.Errorf("%s (fr): a plain space before French punctuation: %q", s.page, frenchSpace.FindAllString(fr, -1))
		}
	}
	for name := range r.pages {
		if !seen[name] {
			t.Errorf("page %s has no sample", name)
		}
	}

	// A few texts, checked by hand.
	for _, c := range []struct{ page, loc, want string }{
		{"login", "fr", "Adresse e-mail"},
		{"login", "fr", "Continuer"},
		{"login", "fr", "Créer un compte"},
		{"login", "fr", "L&#39;adresse e-mail ou le mot de passe est incorrect."},
		{"login", "en", "Email address"},
		{"login", "fr", `<a href="/login?lang=en&amp;return_to=%2Fconsoles" lang="en" hreflang="en">English</a>`},
		{"login", "fr", `<span lang="fr" aria-current="true">Français</span>`},
		{"signup", "fr", "Choisissez un mot de passe d&#39;au moins 12 caractères."},
		{"settings", "fr", `value="fr" checked`},
	} {
		for _, s := range samples() {
			if s.page != c.page {
				continue
			}
			var b strings.Builder
			if err := r.Render(&b, Frame{Locale: c.loc, Path: "/login?return_to=%2Fconsoles"}, s.page, s.data); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), c.want) {
				t.Errorf("%s (%s) lacks %q", c.page, c.loc, c.want)
			}
			break
		}
	}
}

var verbRE = regexp.MustCompile(`%(?:\[\d+\])?[a-z]`)

func verbs(s string) []string {
	v := verbRE.FindAllString(s, -1)
	slices.Sort(v)
	return v
}

func TestCatalogIsComplete(t *testing.T) {
	for key, e := range catalog {
		if strings.TrimSpace(e.en) == "" || strings.TrimSpace(e.fr) == "" {
			t.Errorf("%s: a language is missing: %+v", key, e)
		}
		if !slices.Equal(verbs(e.en), verbs(e.fr)) {
			t.Errorf("%s: the languages take different arguments: %q, %q", key, e.en, e.fr)
		}
		if frenchSpace.MatchString(e.fr) {
			t.Errorf("%s: French needs a no-break space before : ; ? !: %q", key, e.fr)
		}
	}
	for en, fr := range messagesFR {
		if strings.TrimSpace(fr) == "" || fr == en {
			t.Errorf("message %q has no French", en)
		}
		if !slices.Equal(verbs(en), verbs(fr)) {
			t.Errorf("message %q: the languages take different numbers: %q", en, fr)
		}
		if frenchSpace.MatchString(fr) {
			t.Errorf("message %q: French needs a no-break space before : ; ? !: %q", en, fr)
		}
	}
}

// Every key of the catalog is used by a template (and NewRenderer checks
// the converse: every key a template uses is in the catalog).
func TestCatalogKeysUsed(t *testing.T) {
	r, err := NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, byLocale := range r.pages {
		for _, tt := range byLocale["en"].Templates() {
			if tt.Tree != nil {
				templateKeys(tt.Tree.Root, func(key string, _ bool) { used[key] = true })
			}
		}
	}
	for key := range catalog {
		if !used[key] {
			t.Errorf("catalog key %s is used by no template", key)
		}
	}
}

func TestUnknownKeyRefused(t *testing.T) {
	for src, want := range map[string]string{
		`{{t "no.such.key"}}`:                             `no text "no.such.key"`,
		`{{if .X}}{{range .Y}}{{t "nope"}}{{end}}{{end}}`: `no text "nope"`,
		`{{t .Key}}`:                        "constant key",
		`{{printf "%s" (t "login.title")}}`: "",
	} {
		tt, err := template.New("x").Funcs(localeFuncs("en", catalogLookup)).Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		err = checkKeys(tt)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: checkKeys = %v, want %q", src, err, want)
		}
	}
}

func catalogLookup(key string) (string, bool) { return catalogText("en", key) }

func TestTranslate(t *testing.T) {
	for _, c := range []struct{ loc, in, want string }{
		{"fr", "The email or password is incorrect.", "L'adresse e-mail ou le mot de passe est incorrect."},
		{"fr", "Choose a password of at least 15 characters.", "Choisissez un mot de passe d'au moins 15 caractères."},
		{"fr", "Something nobody translated.", "Something nobody translated."},
		{"fr", "", ""},
		{"en", "The email or password is incorrect.", "The email or password is incorrect."},
		{"de", "Not found.", "Not found."},
	} {
		if got := Translate(c.loc, c.in); got != c.want {
			t.Errorf("Translate(%s, %q) = %q, want %q", c.loc, c.in, got, c.want)
		}
	}
	if !HasTranslation("Not found.") || HasTranslation("Not a message.") {
		t.Error("HasTranslation")
	}
}

func TestSwitchLinks(t *testing.T) {
	got := switchLinks("fr", "/login?return_to=%2Fconsoles&lang=fr")
	if len(got) != 2 || got[0].URL != "/login?lang=en&return_to=%2Fconsoles" || got[0].Current ||
		got[1].URL != "/login?lang=fr&return_to=%2Fconsoles" || !got[1].Current {
		t.Errorf("switchLinks = %+v", got)
	}
	if got := switchLinks("en", "/orgs/a%2Fb"); len(got) != 2 || got[1].URL != "/orgs/a%2Fb?lang=fr" {
		t.Errorf("escaped path: %+v", got)
	}
	for _, p := range []string{"", "//evil.test/x", "/\\evil.test", "http://evil.test/", "login", "javascript:alert(1)"} {
		if got := switchLinks("en", p); got != nil {
			t.Errorf("switchLinks(%q) = %+v, want none", p, got)
		}
	}
}
