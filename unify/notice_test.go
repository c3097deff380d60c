package unify

import (
	"strings"
	"testing"
	"time"
)

// TestNoticeWording renders every kind of notification in both languages:
// the wording fits the situation (CONTRACT §8 rule 6), names the accounts,
// and holds no secret.
func TestNoticeWording(t *testing.T) {
	created := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	d := func(id string, f func(*DediboxRecord)) dediboxLine {
		r := &DediboxRecord{ID: id, Email: "pat@example.com", PasswordHash: bcryptOK, CreatedAt: created}
		if f != nil {
			f(r)
		}
		return dediboxLine{rec: r, line: 1}
	}
	s := func(id string, f func(*ScalewayRecord)) scalewayLine {
		r := &ScalewayRecord{ID: id, Email: "pat@example.com", PasswordHash: bcryptOK, CreatedAt: created}
		if f != nil {
			f(r)
		}
		return scalewayLine{rec: r, line: 1}
	}
	tests := []struct {
		name      string
		group     accountGroup
		situation string
		en, fr    []string // in the subject or the text
	}{
		{"nothing changes", accountGroup{scaleway: []scalewayLine{s("s-1", nil)}}, "",
			[]string{"nothing changes for you", "Nothing changes for you", "Scaleway password"},
			[]string{"rien ne change pour vous", "mot de passe Scaleway"}},
		{"joined", accountGroup{dedibox: []dediboxLine{d("d-1", nil)}, scaleway: []scalewayLine{s("s-1", nil)}}, SituationScalewayAccount,
			[]string{"are now one account", "d-1", "s-1", "Scaleway password"},
			[]string{"n'en font plus qu'un", "d-1", "s-1"}},
		{"joined, Dedibox TOTP kept", accountGroup{dedibox: []dediboxLine{d("d-1", func(r *DediboxRecord) { r.TOTPSecret = dediboxTOTP })},
			scaleway: []scalewayLine{s("s-1", nil)}}, SituationScalewayAccount,
			[]string{"authenticator app keeps working"}, []string{"continue de fonctionner"}},
		{"new Scaleway account", accountGroup{dedibox: []dediboxLine{d("d-1", nil)}}, SituationNoScalewayAccount,
			[]string{"opens Scaleway too", generatedScalewayID("pat@example.com"), "Dedibox password"},
			[]string{"ouvre désormais aussi Scaleway", generatedScalewayID("pat@example.com")}},
		{"SMS removed", accountGroup{dedibox: []dediboxLine{d("d-1", func(r *DediboxRecord) { r.SMSPhone = "+33600000000" })}}, SituationSMSMFADisabled,
			[]string{"Action needed", "SMS are no longer offered", "new second factor"},
			[]string{"Action requise", "SMS ne sont plus proposés"}},
		{"merged", accountGroup{dedibox: []dediboxLine{d("d-1", nil), d("d-2", nil)}, scaleway: []scalewayLine{s("s-1", nil)}}, SituationMultipleDedibox,
			[]string{"code sent by email", "Dedibox accounts d-1, d-2", "Scaleway accounts s-1", "were removed", "choose which Dedibox account"},
			[]string{"code reçu par e-mail", "comptes Dedibox d-1, d-2", "ont été supprimés"}},
	}
	for _, tc := range tests {
		for _, locale := range []string{"en", "fr"} {
			t.Run(tc.name+"/"+locale, func(t *testing.T) {
				g := tc.group
				p := planAccount(&g, testCutoff)
				if p.situation != tc.situation {
					t.Errorf("situation %q, want %q", p.situation, tc.situation)
				}
				p.account.Locale = locale
				p.notice.SignInURL = "https://account.example.com/login"
				m, err := newNotice(p)
				if err != nil {
					t.Fatal(err)
				}
				if m.Key != NoticeKey(p.account.ID) || m.To != "pat@example.com" || m.AccountID != p.account.ID || m.Kind != KindNotice {
					t.Errorf("message %+v", m)
				}
				if m.Raw != nil || m.Locale != locale {
					t.Errorf("stored with a body, or locale %q", m.Locale)
				}
				raw, err := testRenderer.RenderStored(m.Kind, m.Locale, m.To, m.Data)
				if err != nil {
					t.Fatal(err)
				}
				subject, text := parseNotice(t, raw)
				all := subject + "\n" + text
				want := tc.en
				if locale == "fr" {
					want = tc.fr
				}
				for _, w := range want {
					if !strings.Contains(all, w) {
						t.Errorf("lacks %q:\n%s", w, all)
					}
				}
				for _, bad := range []string{"<no value>", "\n\n\n", dediboxTOTP, bcryptOK, "{{"} {
					if strings.Contains(text, bad) {
						t.Errorf("holds %q:\n%s", bad, text)
					}
				}
				if !strings.Contains(text, "https://account.example.com/login") {
					t.Errorf("no sign-in link:\n%s", text)
				}
			})
		}
	}
}
