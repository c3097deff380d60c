package mail

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const testFrom = "Comptes Unifiés <no-reply@example.com>"

func mustRenderer(tb testing.TB) *Renderer {
	tb.Helper()
	r, err := NewRenderer(testFrom)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// parsedMessage is a rendered message read back with the standard library
// only, the way a mail client would.
type parsedMessage struct {
	header  netmail.Header
	subject string // decoded (RFC 2047)
	text    string // the text/plain part, decoded, with LF line ends
	html    string // the text/html part, decoded, with LF line ends
}

func parseMessage(tb testing.TB, raw []byte) parsedMessage {
	tb.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		tb.Fatalf("net/mail cannot read the message: %v", err)
	}
	var p parsedMessage
	p.header = msg.Header
	if p.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		tb.Fatalf("Subject %q: %v", msg.Header.Get("Subject"), err)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		tb.Fatalf("Content-Type = %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("reading parts: %v", err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			tb.Fatal(err)
		}
		ct := part.Header.Get("Content-Type")
		types = append(types, ct)
		switch ct {
		case "text/plain; charset=UTF-8":
			p.text = strings.ReplaceAll(string(body), "\r\n", "\n")
		case "text/html; charset=UTF-8":
			p.html = strings.ReplaceAll(string(body), "\r\n", "\n")
		}
	}
	if want := []string{"text/plain; charset=UTF-8", "text/html; charset=UTF-8"}; !slices.Equal(types, want) {
		tb.Fatalf("parts %q, want %q (plain first: the last part is the preferred one)", types, want)
	}
	return p
}

var messageIDPattern = regexp.MustCompile(`^<[a-z2-7]{26}@example\.com>$`)

func TestRenderEveryKindAndLocale(t *testing.T) {
	r := mustRenderer(t)
	at := time.Date(2025, 10, 28, 9, 30, 0, 0, time.UTC)
	r.now = func() time.Time { return at }
	const code = "04711230" // a leading zero must survive
	wantSubjects := map[string]string{
		"en/" + KindEmailCode:     "Your sign-in code",
		"fr/" + KindEmailCode:     "Votre code de connexion",
		"en/" + KindSignupCode:    "Confirm your email address",
		"fr/" + KindSignupCode:    "Vérifiez votre adresse e-mail",
		"en/" + KindAccountExists: "You already have an account",
		"fr/" + KindAccountExists: "Vous avez déjà un compte",
		"en/unify_notice":         "Your Dedibox and Scaleway accounts are now one account",
		"fr/unify_notice":         "Vos comptes Dedibox et Scaleway n'en font plus qu'un",
		"en/unify_announce":       "Coming soon: your Dedibox and Scaleway accounts become one",
		"fr/unify_announce":       "Bientôt : vos comptes Dedibox et Scaleway n'en feront plus qu'un",
		"en/" + KindInvitation:    "You are invited to join Acme",
		"fr/" + KindInvitation:    "Invitation à rejoindre Acme",

		"en/" + KindPasswordResetCode:    "Your password reset code",
		"fr/" + KindPasswordResetCode:    "Votre code de réinitialisation du mot de passe",
		"en/" + KindAccountLocked:        "Your account is locked",
		"fr/" + KindAccountLocked:        "Votre compte est verrouillé",
		"en/" + KindPasswordReset:        "Your password was reset",
		"fr/" + KindPasswordReset:        "Votre mot de passe a été réinitialisé",
		"en/" + KindRecoveryCodeUsed:     "A recovery code was used",
		"fr/" + KindRecoveryCodeUsed:     "Un code de récupération a été utilisé",
		"en/" + KindRecoveryCodesCreated: "New recovery codes were created",
		"fr/" + KindRecoveryCodesCreated: "De nouveaux codes de récupération ont été créés",
	}
	greeting := map[string]string{"en": "Hello,", "fr": "Bonjour,"}
	for _, tc := range []struct{ locale, want string }{
		{"en", "en"}, {"fr", "fr"}, {"fr-CA", "fr"}, {"FR_fr", "fr"}, {"de", "en"}, {"", "en"},
	} {
		for kind, spec := range kinds {
			t.Run(tc.locale+"/"+kind, func(t *testing.T) {
				var data any = AccountExistsData{SignInURL: "https://account.example.com/login"}
				if spec.code {
					data = CodeData{Code: code, ExpiresMinutes: 10}
				}
				if isNotice(kind) {
					data = NoticeData{At: "2025-10-28 09:30 UTC", IP: "192.0.2.1", Device: "Firefox", Remaining: 3,
						SignInURL: "https://account.example.com/login"}
				}
				if kind == KindInvitation {
					data = InvitationData{Organization: "Acme", Role: "member", InvitedBy: "bob@example.com",
						AcceptURL: "https://account.example.com/invitations/x", ExpiresDays: 7}
				}
				if kind == KindUnifyNotice { // package unify tests every variant
					data = UnifyNoticeData{Email: "alice@example.com", SignInURL: "https://account.example.com/login",
						JoinedScaleway: true, DediboxTOTPKept: true, DediboxAccounts: []string{"d-1"}, ScalewayAccounts: []string{"s-1"}}
				}
				if kind == KindUnifyAnnounce {
					data = UnifyAnnounceData{Email: "alice@example.com", Date: "2026-03-01", JoinScaleway: true,
						DediboxAccounts: []string{"d-1"}, ScalewayAccounts: []string{"s-1"}}
				}
				raw, err := r.Render(kind, tc.locale, "alice@example.com", data)
				if err != nil {
					t.Fatal(err)
				}
				m := parseMessage(t, raw)
				if got, want := m.subject, wantSubjects[tc.want+"/"+kind]; got != want {
					t.Errorf("subject = %q, want %q", got, want)
				}
				if s := m.header.Get("Subject"); strings.ContainsFunc(s, func(r rune) bool { return r > 127 }) {
					t.Errorf("raw Subject %q is not RFC 2047 encoded", s)
				}
				from, err := m.header.AddressList("From")
				if err != nil || len(from) != 1 || from[0].Address != "no-reply@example.com" || from[0].Name != "Comptes Unifiés" {
					t.Errorf("From = %v, %v", from, err)
				}
				to, err := m.header.AddressList("To")
				if err != nil || len(to) != 1 || to[0].Address != "alice@example.com" {
					t.Errorf("To = %v, %v", to, err)
				}
				if date, err := m.header.Date(); err != nil || !date.Equal(at) {
					t.Errorf("Date = %v, %v; want %v", date, err, at)
				}
				if id := m.header.Get("Message-ID"); !messageIDPattern.MatchString(id) {
					t.Errorf("Message-ID = %q, want %v", id, messageIDPattern)
				}
				for name, want := range map[string]string{"MIME-Version": "1.0", "Auto-Submitted": "auto-generated", "Content-Language": tc.want} {
					if got := m.header.Get(name); got != want {
						t.Errorf("%s = %q, want %q", name, got, want)
					}
				}
				if !strings.HasPrefix(m.text, greeting[tc.want]+"\n") || !strings.Contains(m.html, `<html lang="`+tc.want+`">`) {
					t.Errorf("not in %s:\n%s", tc.want, m.text)
				}
				if !spec.code {
					return
				}
				checkCodeLine(t, m.text, code)
				if strings.Contains(m.subject, code) {
					t.Errorf("subject %q contains the code", m.subject)
				}
				if !strings.Contains(m.html, ">"+code+"<") {
					t.Errorf("the html part does not show the code")
				}
				if !strings.Contains(m.text, "10 minutes") {
					t.Errorf("the text part does not say when the code expires:\n%s", m.text)
				}
			})
		}
	}
}

// checkCodeLine enforces CONTRACT.md §9: the code is alone on its own line,
// without indentation, and appears nowhere else in the text.
func checkCodeLine(tb testing.TB, text, code string) {
	tb.Helper()
	found := 0
	for line := range strings.Lines(text) {
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		switch {
		case line == code:
			found++
		case strings.Contains(line, code):
			tb.Errorf("the code shares a line: %q", line)
		}
	}
	if found != 1 {
		tb.Errorf("the code is alone on %d lines of the text part, want 1:\n%s", found, text)
	}
}

func TestRenderMinutes(t *testing.T) {
	r := mustRenderer(t)
	for _, tc := range []struct {
		locale  string
		minutes int
		want    string
	}{
		{"en", 1, "expires in 1 minute and"},
		{"en", 15, "expires in 15 minutes and"},
		{"fr", 1, "expire dans 1 minute et"},
		{"fr", 5, "expire dans 5 minutes et"},
	} {
		raw, err := r.Render(KindEmailCode, tc.locale, "a@example.com", &CodeData{Code: "12345678", ExpiresMinutes: tc.minutes})
		if err != nil {
			t.Fatal(err)
		}
		if m := parseMessage(t, raw); !strings.Contains(m.text, tc.want) || !strings.Contains(m.html, tc.want) {
			t.Errorf("%s, %d minutes: want %q in both parts:\n%s", tc.locale, tc.minutes, tc.want, m.text)
		}
	}
}

func TestRenderRefusesBadInput(t *testing.T) {
	r := mustRenderer(t)
	ok := CodeData{Code: "12345678", ExpiresMinutes: 10}
	for _, tc := range []struct {
		name, kind, to string
		data           any
		want           error // nil: any error
	}{
		{"unknown kind", "new_sign_in", "a@example.com", ok, ErrUnknownKind},
		{"7 digits", KindEmailCode, "a@example.com", CodeData{Code: "1234567", ExpiresMinutes: 10}, ErrBadData},
		{"9 digits", KindEmailCode, "a@example.com", CodeData{Code: "123456789", ExpiresMinutes: 10}, ErrBadData},
		{"letter", KindEmailCode, "a@example.com", CodeData{Code: "1234567a", ExpiresMinutes: 10}, ErrBadData},
		{"space", KindSignupCode, "a@example.com", CodeData{Code: " 1234567", ExpiresMinutes: 10}, ErrBadData},
		{"newline", KindSignupCode, "a@example.com", CodeData{Code: "1234\n5678", ExpiresMinutes: 10}, ErrBadData},
		{"fullwidth digits", KindEmailCode, "a@example.com", CodeData{Code: "１２３４５６７８", ExpiresMinutes: 10}, ErrBadData},
		{"no expiry", KindEmailCode, "a@example.com", CodeData{Code: "12345678"}, ErrBadData},
		{"nil data", KindEmailCode, "a@example.com", nil, ErrBadData},
		{"nil pointer", KindEmailCode, "a@example.com", (*CodeData)(nil), ErrBadData},
		{"map", KindEmailCode, "a@example.com", map[string]any{"Code": "12345678", "ExpiresMinutes": 10}, ErrBadData},
		{"wrong struct", KindAccountExists, "a@example.com", ok, ErrBadData},
		{"missing key", KindAccountExists, "a@example.com", map[string]string{}, ErrBadData},
		{"no recipient", KindEmailCode, "", ok, nil},
		{"header injection", KindEmailCode, "a@example.com\r\nBcc: victim@example.org", ok, nil},
		{"two recipients", KindEmailCode, "a@example.com, b@example.com", ok, nil},
		// Issue 16, finding 4: a recipient that names one address and is
		// delivered to another, or is a list.
		{"display name", KindEmailCode, "victim<attacker@evil.test>", ok, nil},
		{"display name and space", KindEmailCode, "Victim <attacker@evil.test>", ok, nil},
		{"comment", KindEmailCode, "a@example.com (evil)", ok, nil},
		{"comma in local part", KindEmailCode, "john,doe@example.com", ok, nil},
		{"quoted local part", KindEmailCode, `"a b"@example.com`, ok, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := r.Render(tc.kind, "en", tc.to, tc.data)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Render = %d bytes, %v; want %v", len(raw), err, tc.want)
			}
			if d, isCode := tc.data.(CodeData); isCode && d.Code != "" && strings.Contains(err.Error(), d.Code) {
				t.Errorf("the error %q repeats the code", err)
			}
		})
	}
}

// TestRenderEscapesHTML: data reaches the html part through html/template's
// contextual escaping.
func TestRenderEscapesHTML(t *testing.T) {
	r := mustRenderer(t)
	for _, url := range []string{"javascript:alert(1)", `https://x.test/"><script>alert(1)</script>`} {
		raw, err := r.Render(KindAccountExists, "en", "a@example.com", AccountExistsData{SignInURL: url})
		if err != nil {
			t.Fatal(err)
		}
		m := parseMessage(t, raw)
		if strings.Contains(m.html, "javascript:") || strings.Contains(m.html, "<script>") {
			t.Errorf("SignInURL %q reached the html unescaped:\n%s", url, m.html)
		}
	}
	raw, err := r.Render(KindAccountExists, "en", "a@example.com", AccountExistsData{})
	if err != nil {
		t.Fatal(err)
	}
	if m := parseMessage(t, raw); strings.Contains(m.html, "href") || strings.Contains(m.text, "To sign in") {
		t.Errorf("no SignInURL, yet a link:\n%s", m.text)
	}
}

func TestNewRendererRefusesBadFrom(t *testing.T) {
	for _, from := range []string{"", "no-reply", "a@example.com\r\nBcc: x@example.org", "<>", "a@b.example, c@d.example"} {
		if _, err := NewRenderer(from); err == nil {
			t.Errorf("NewRenderer(%q) succeeded", from)
		}
	}
}

func TestRenderMessageIDsAreUnique(t *testing.T) {
	r := mustRenderer(t)
	seen := map[string]bool{}
	for range 50 {
		raw, err := r.Render(KindEmailCode, "en", "a@example.com", CodeData{Code: "12345678", ExpiresMinutes: 10})
		if err != nil {
			t.Fatal(err)
		}
		id := parseMessage(t, raw).header.Get("Message-ID")
		if seen[id] {
			t.Fatalf("Message-ID %s twice", id)
		}
		seen[id] = true
	}
}

// TestTemplateFilesMatchKinds: every template file belongs to a kind of the
// table (or is a layout or a locale's common file), and every locale has the
// same files.
func TestTemplateFilesMatchKinds(t *testing.T) {
	var first []string
	for _, loc := range locales {
		entries, err := fs.ReadDir(templateFiles, "templates/"+loc)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
			base := strings.TrimSuffix(strings.TrimSuffix(e.Name(), ".txt"), ".html")
			if _, ok := kinds[base]; !ok && base != "common" {
				t.Errorf("templates/%s/%s: no such kind in the table", loc, e.Name())
			}
		}
		if first == nil {
			first = names
		} else if !slices.Equal(names, first) {
			t.Errorf("templates/%s has %q, templates/%s has %q", loc, names, locales[0], first)
		}
	}
}

func TestPickLocale(t *testing.T) {
	for in, want := range map[string]string{
		"en": "en", "fr": "fr", "FR": "fr", "fr-FR": "fr", "fr_BE": "fr", " fr ": "fr",
		"en-GB": "en", "de": "en", "": "en", "frx": "en", "-fr": "en",
	} {
		if got := pickLocale(in); got != want {
			t.Errorf("pickLocale(%q) = %q, want %q", in, got, want)
		}
	}
}

// isNotice: kind is a security notice (data NoticeData).
func isNotice(kind string) bool {
	switch kind {
	case KindAccountLocked, KindPasswordReset, KindRecoveryCodeUsed, KindRecoveryCodesCreated:
		return true
	}
	return false
}
