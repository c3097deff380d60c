package gateway

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"unigate/accounts"
	"unigate/config"
)

// Golden files: every portal page in English and French, and the /metrics
// exposition, rendered by the real gateway and kept under testdata/golden so
// that a template, message or metric change shows in review. After an
// intended change: go test ./gateway -run Golden -update, and read the diff.
var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenLanguages are the page languages (web.Locales).
var goldenLanguages = []string{"en", "fr"}

// goldenPage is one page a scenario captured, under its golden file name.
type goldenPage struct {
	name string
	resp *response
}

func TestGoldenPages(t *testing.T) {
	for _, lang := range goldenLanguages {
		t.Run(lang, func(t *testing.T) {
			dir := filepath.Join("testdata", "golden", "pages", lang)
			pages := portalPages(t, lang)
			var names []string
			for _, p := range pages {
				if slices.Contains(names, p.name) {
					t.Fatalf("two pages named %s", p.name)
				}
				names = append(names, p.name)
				if ct := p.resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("%s: Content-Type %q, want a page", p.name, ct)
				}
				if got := p.resp.Header.Get("Content-Language"); got != "" && got != lang {
					t.Errorf("%s: Content-Language %q, want %s", p.name, got, lang)
				}
				if !bytes.Contains(p.resp.body, []byte(`<html lang="`+lang+`">`)) {
					t.Errorf("%s: not rendered in %s", p.name, lang)
				}
				got := fmt.Sprintf("status: %d\n\n%s", p.resp.StatusCode, normalisePage(string(p.resp.body)))
				checkGolden(t, filepath.Join(dir, p.name+".html"), got)
			}
			checkNoStaleGolden(t, dir, names, ".html")
		})
	}
}

// portalPages walks every portal page as a browser speaking lang would,
// each step from a state the one before left: the login's steps, sign-up,
// the consoles chooser, settings, security, organizations, an invitation
// and an error page.
func portalPages(t *testing.T, lang string) []goldenPage {
	h := newHarness(t, withStepUp(config.StepUp{PathPrefix: "/billing/", MaxAge: 5 * time.Minute}))
	mailer := h.gw.mailer.(*recordingMailer)
	var pages []goldenPage
	capture := func(name string, r *response) {
		t.Helper()
		pages = append(pages, goldenPage{name, r})
	}
	const pw = "correct horse battery"
	h.createAccount("alice@example.com", pw,
		accounts.ConsoleAccount{Console: "dedibox", ExternalID: "d1"},
		accounts.ConsoleAccount{Console: "dedibox", ExternalID: "d2"},
		accounts.ConsoleAccount{Console: "scaleway", ExternalID: "s1"})
	h.createAccount("totp@example.com", pw)
	h.createAccount("member@example.com", pw)
	h.flaggedAccount("erased@example.com")
	browse := func() *browser { return goldenBrowser(h, lang) }
	want := func(r *response, status int, what string) *response {
		t.Helper()
		if r.StatusCode != status {
			t.Fatalf("%s: status %d, want %d: %s", what, r.StatusCode, status, r.body)
		}
		return r
	}
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	// The login with a password, a wrong one first.
	b := browse()
	capture("login-identify", want(b.do("GET", accountURL+"/login", nil), 200, "login page"))
	want(b.do("POST", accountURL+"/login", form("step", "identify", "email", "alice@example.com")), 303, "identify")
	capture("login-password", want(b.do("GET", accountURL+"/login", nil), 200, "password step"))
	capture("login-password-wrong", want(b.do("POST", accountURL+"/login", form("step", "password", "password", "nope")), 401, "wrong password"))
	want(b.do("POST", accountURL+"/login", form("step", "password", "password", pw)), 303, "password")

	// The consoles, and the chooser of a Dedibox account.
	capture("consoles", want(b.do("GET", accountURL+"/consoles", nil), 200, "consoles"))
	capture("consoles-choose-account", want(b.do("POST", accountURL+"/consoles/dedibox/enter", url.Values{}), 409, "enter without a choice"))

	// Settings with a second session to revoke, then security.
	h.clock.Advance(time.Minute)
	other := browse()
	other.login("alice@example.com", pw)
	capture("settings", want(b.do("GET", accountURL+"/settings", nil), 200, "settings"))
	capture("security", want(b.do("GET", accountURL+"/settings/security", nil), 200, "security"))
	capture("security-totp-setup", want(b.do("POST", accountURL+"/settings/security/totp", url.Values{}), 200, "totp set-up"))

	// Organizations: the list, one organization with a pending invitation,
	// the invitation as the invited account sees it.
	capture("orgs-none", want(b.do("GET", accountURL+"/orgs", nil), 200, "orgs"))
	r := want(b.do("POST", accountURL+"/api/v1/orgs", map[string]string{"name": "Acme"}, "Accept", "application/json"), 201, "create org")
	orgID := r.json(t)["id"].(string)
	want(b.do("POST", accountURL+"/api/v1/orgs/"+orgID+"/invitations", map[string]string{"email": "member@example.com", "role": "member"}, "Accept", "application/json"), 201, "invite")
	capture("orgs", want(b.do("GET", accountURL+"/orgs", nil), 200, "orgs"))
	capture("org", want(b.do("GET", accountURL+"/orgs/"+orgID, nil), 200, "org"))
	member := browse()
	member.login("member@example.com", pw)
	capture("invitation", want(member.do("GET", accountURL+"/invitations/"+mailer.invitationToken(t, "member@example.com"), nil), 200, "invitation"))

	// An error page: an organization that does not exist.
	capture("error-not-found", want(b.do("GET", accountURL+"/orgs/00000000-0000-4000-8000-000000000000", nil), 404, "unknown org"))

	// Security once the proof is no longer recent (5 minutes), the session
	// still alive (30): confirm first.
	h.clock.Advance(10 * time.Minute)
	capture("security-confirm", want(b.do("GET", accountURL+"/settings/security", nil), 200, "security, not recent"))
	// The step-up page of a console path that needs a recent proof (CONTRACT §11).
	capture("step-up", want(b.do("GET", accountURL+"/login/step-up?return_to="+url.QueryEscape(dediboxURL+"/billing/"), nil), 200, "step-up"))

	// The second step of a login with TOTP.
	tb := browse()
	tb.login("totp@example.com", pw)
	tb.enrollTOTP()
	tb = browse()
	want(tb.do("POST", accountURL+"/login", form("step", "identify", "email", "totp@example.com")), 303, "identify")
	want(tb.do("POST", accountURL+"/login", form("step", "password", "password", pw)), 303, "password")
	capture("login-mfa", want(tb.do("GET", accountURL+"/login", nil), 200, "mfa step"))

	// An account the unification erased: email code, set a password, enroll.
	eb := browse()
	want(eb.do("POST", accountURL+"/login", form("step", "identify", "email", "erased@example.com")), 303, "identify")
	capture("login-email-code", want(eb.do("GET", accountURL+"/login", nil), 200, "email code step"))
	want(eb.do("POST", accountURL+"/login", form("step", "email_code_send")), 303, "send code")
	capture("login-email-code-sent", want(eb.do("GET", accountURL+"/login?sent=1", nil), 200, "code sent"))
	want(eb.do("POST", accountURL+"/login", form("step", "email_code", "code", mailer.lastCode(t, "erased@example.com"))), 303, "code")
	capture("login-set-password", want(eb.do("GET", accountURL+"/login", nil), 200, "set password step"))
	want(eb.do("POST", accountURL+"/login", form("step", "set_password", "password", "a brand new passphrase")), 303, "set password")
	capture("login-enroll", want(eb.do("GET", accountURL+"/login", nil), 200, "enroll step"))

	// Sign-up: the form, then the code step.
	sb := browse()
	capture("signup", want(sb.do("GET", accountURL+"/signup", nil), 200, "signup"))
	want(sb.do("POST", accountURL+"/signup", form("step", "start", "email", "new@example.com", "password", "a fine new passphrase")), 303, "signup")
	capture("signup-verify", want(sb.do("GET", accountURL+"/signup", nil), 200, "signup verify"))

	// The legacy login on a console's own host (CONTRACT §4).
	lh := legacyHarness(t)
	lh.createAccount("old@example.com", pw,
		accounts.ConsoleAccount{Console: "dedibox", ExternalID: "d-old", Prelinked: true, LinkedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	lb := goldenBrowser(lh, lang)
	capture("login-legacy", want(lb.do("GET", dediboxURL+"/.auth/login", nil), 200, "legacy login"))
	want(lb.do("POST", dediboxURL+"/.auth/login", form("step", "identify", "email", "old@example.com")), 303, "legacy identify")
	capture("login-legacy-password", want(lb.do("GET", dediboxURL+"/.auth/login", nil), 200, "legacy password step"))
	return pages
}

// goldenBrowser is a browser of h asking for pages in lang, with the
// language cookie the switch sets (it wins over the signed-in account's own
// locale) on every host, and a fixed User-Agent (the sessions list shows it).
func goldenBrowser(h *harness, lang string) *browser {
	b := h.browser()
	b.headers.Set("Accept", "text/html")
	b.headers.Set("Accept-Language", lang)
	b.headers.Set("User-Agent", "golden-browser/1.0")
	for _, site := range []string{accountURL, dediboxURL, scalewayURL} {
		u, _ := url.Parse(site)
		b.cookies[u.Hostname()] = map[string]*http.Cookie{langCookie: {Name: langCookie, Value: lang}}
	}
	return b
}

// pageNormalisers replace what changes from run to run (ids, secrets,
// times, the upstreams' ports) with a placeholder, in this order.
var pageNormalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	// The TOTP QR code and its secret (random per set-up).
	{regexp.MustCompile(`data:image/png;base64,(?:[A-Za-z0-9+/=]|&#43;|&#x2b;)+`), `data:image/png;base64,QR`},
	{regexp.MustCompile(`<code>[A-Z2-7]{16,}=*</code>`), `<code>SECRET</code>`},
	{regexp.MustCompile(`otpauth://totp/[^"<\s]+`), `otpauth://totp/URI`},
	{regexp.MustCompile(`name="secret_id" value="[A-Za-z0-9_-]+"`), `name="secret_id" value="SECRET_ID"`},
	// Organization, account and passkey ids.
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), `UUID`},
	// Session ids in revoke forms, invitation tokens in links.
	{regexp.MustCompile(`/settings/sessions/[^/"]+/revoke`), `/settings/sessions/ID/revoke`},
	{regexp.MustCompile(`/invitations/[^/"]+`), `/invitations/TOKEN`},
	// Times: the harness clock starts at the real time.
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}`), `YYYY-MM-DD hh:mm`},
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}`), `YYYY-MM-DD`},
	// The test upstreams listen on random ports.
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), `127.0.0.1:PORT`},
}

func normalisePage(body string) string {
	for _, n := range pageNormalisers {
		body = n.re.ReplaceAllString(body, n.with)
	}
	return body
}

func TestGoldenMetrics(t *testing.T) {
	reg := NewMetricsRegistry()
	h := newHarnessWithDeps(t, nil, func(d *Deps) { d.Registry = reg })
	// Traffic of every family: a refused console request, a wrong password
	// and a login, one proxied request per console, a logout.
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.do("GET", dediboxURL+"/", nil)
	b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"})
	b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "nope"})
	b.login("alice@example.com", "correct horse battery")
	for _, c := range []struct{ id, url string }{{"dedibox", dediboxURL}, {"scaleway", scalewayURL}} {
		b.enter(c.id)
		if r := b.do("GET", c.url+"/servers", nil); r.StatusCode != 200 {
			t.Fatalf("%s: %d %s", c.id, r.StatusCode, r.body)
		}
	}
	b.do("POST", accountURL+"/api/v1/logout", nil)

	srv := httptest.NewServer(h.gw.MetricsHandler(reg))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body.String())
	}
	checkGolden(t, filepath.Join("testdata", "golden", "metrics.txt"), normaliseMetrics(body.String()))
}

// normaliseMetrics keeps what the contract fixes and drops what varies: for
// the Go runtime's and the process's collectors (go_, process_, promhttp_)
// their HELP and TYPE lines only; for unigate's, every series with its
// labels, the values of counters (the traffic above is fixed) and, for
// histograms, the count only (bucket counts and sums are timings).
func normaliseMetrics(text string) string {
	var out []string
	types := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			types[name] = typ
			out = append(out, line)
			continue
		}
		if strings.HasPrefix(line, "#") {
			out = append(out, line)
			continue
		}
		if !strings.HasPrefix(line, "unigate_") {
			continue
		}
		series, value, ok := cutLast(line, " ")
		if !ok {
			out = append(out, line)
			continue
		}
		name, _, _ := strings.Cut(series, "{")
		switch family := strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"); {
		case types[family] == "histogram" && name != family+"_count":
			value = "V"
		}
		out = append(out, series+" "+value)
	}
	return strings.Join(out, "\n") + "\n"
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// checkGolden compares got with the golden file at path, or writes it with -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./gateway -run Golden -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from what the gateway renders now (after an intended change: -update):\n%s", path, lineDiff(string(want), got))
	}
}

// checkNoStaleGolden fails on a golden file in dir no page produced (a page
// gone or renamed), or removes it with -update.
func checkNoStaleGolden(t *testing.T, dir string, names []string, ext string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"+ext))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if slices.Contains(names, strings.TrimSuffix(filepath.Base(f), ext)) {
			continue
		}
		if *updateGolden {
			os.Remove(f)
			continue
		}
		t.Errorf("%s: no page renders it any more (-update removes it)", f)
	}
}

// lineDiff shows the first lines where want and got differ, with context.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
