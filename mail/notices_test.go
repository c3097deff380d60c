package mail

import (
	"regexp"
	"strings"
	"testing"
)

// The security notices of CONTRACT §10 (and the lock notice of issue 16
// finding 6): each renders in both languages, says when, from which IP and
// device, links to the sign-in page, and carries no code, secret or
// session id (the data has no field for one; the templates must not invent one).
func TestNoticesSayWhenAndWhereAndHoldNoCode(t *testing.T) {
	r := mustRenderer(t)
	data := NoticeData{At: "2026-12-08 10:00 UTC", IP: "203.0.113.9", Device: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
		Remaining: 3, SignInURL: "https://account.example.com/login"}
	// What a code, a recovery code or a session handle would look like in a mail.
	secrets := []*regexp.Regexp{
		regexp.MustCompile(`\b\d{6,8}\b`),                                 // TOTP and email codes
		regexp.MustCompile(`\b[2-9a-z]{5}-[2-9a-z]{5}\b`),                 // recovery codes
		regexp.MustCompile(`\b[0-9a-f]{32,}\b`),                           // session handles, tokens
		regexp.MustCompile(`(?i)\b(code|secret|token)\s*[:=]\s*[0-9a-z]`), // "code: …"
	}
	kinds := []string{KindAccountLocked, KindPasswordReset, KindRecoveryCodeUsed, KindRecoveryCodesCreated}
	where := map[string][]string{"en": {"When: ", "IP address: ", "Device: "}, "fr": {"Quand : ", "Adresse IP : ", "Appareil : "}}
	for _, kind := range kinds {
		for _, loc := range []string{"en", "fr"} {
			t.Run(kind+"/"+loc, func(t *testing.T) {
				raw, err := r.Render(kind, loc, "alice@example.com", data)
				if err != nil {
					t.Fatal(err)
				}
				m := parseMessage(t, raw)
				for i, label := range where[loc] {
					value := []string{data.At, data.IP, data.Device}[i]
					if !strings.Contains(m.text, label+value) {
						t.Errorf("the text part lacks %q:\n%s", label+value, m.text)
					}
					if !strings.Contains(m.html, value) {
						t.Errorf("the html part lacks %q", value)
					}
				}
				if !strings.Contains(m.text, data.SignInURL) || !strings.Contains(m.html, `href="`+data.SignInURL+`"`) {
					t.Errorf("no link to the sign-in page:\n%s", m.text)
				}
				for _, re := range secrets {
					for _, part := range []string{m.subject, m.text, m.html} {
						if s := re.FindString(part); s != "" {
							t.Errorf("something like a secret (%q) in the notice", s)
						}
					}
				}
			})
		}
	}
}

// recovery_code_used says how many codes are left, in both languages.
func TestRecoveryCodeUsedSaysHowManyAreLeft(t *testing.T) {
	r := mustRenderer(t)
	cases := []struct {
		remaining int
		want      map[string]string
	}{
		{0, map[string]string{"en": "You have no recovery codes left", "fr": "Il ne vous reste aucun code de récupération"}},
		{1, map[string]string{"en": "You have 1 recovery code left.", "fr": "Il vous reste 1 code de récupération."}},
		{7, map[string]string{"en": "You have 7 recovery codes left.", "fr": "Il vous reste 7 codes de récupération."}},
	}
	for _, tc := range cases {
		for loc, want := range tc.want {
			raw, err := r.Render(KindRecoveryCodeUsed, loc, "alice@example.com",
				NoticeData{At: "2026-12-08 10:00 UTC", IP: "192.0.2.1", Remaining: tc.remaining})
			if err != nil {
				t.Fatal(err)
			}
			if m := parseMessage(t, raw); !strings.Contains(m.text, want) {
				t.Errorf("%d left, %s: the text lacks %q:\n%s", tc.remaining, loc, want, m.text)
			}
		}
	}
}
