package mail

import (
	"strings"
	"testing"
)

// TestGreetingName: the mails sent to someone who has an account greet them
// by the name of their profile when they gave one ("Hello Anna"), in both
// languages and both parts, escaped in HTML; without one, "Hello,".
func TestGreetingName(t *testing.T) {
	r := mustRenderer(t)
	data := func(kind, name string) any {
		switch kind {
		case KindEmailCode:
			return CodeData{Code: "12345678", ExpiresMinutes: 10, Name: name}
		case KindAccountExists:
			return AccountExistsData{Name: name}
		case KindInvitation:
			return InvitationData{Name: name, Organization: "Acme", Role: "member", InvitedBy: "bob@example.com",
				AcceptURL: "https://account.example.com/invitations/x", ExpiresDays: 7}
		case KindUnifyNotice:
			return UnifyNoticeData{Name: name, Email: "anna@example.com", NothingChanges: true}
		default:
			return UnifyAnnounceData{Name: name, Email: "anna@example.com", NothingChanges: true}
		}
	}
	hello := map[string]string{"en": "Hello", "fr": "Bonjour"}
	for _, kind := range []string{KindEmailCode, KindAccountExists, KindInvitation, KindUnifyNotice, KindUnifyAnnounce} {
		for _, locale := range []string{"en", "fr"} {
			for _, tc := range []struct{ name, text, html string }{
				{"Anna", hello[locale] + " Anna,", hello[locale] + " Anna,"},
				{"", hello[locale] + ",", hello[locale] + ","},
				{"Anna <b>&</b>", hello[locale] + " Anna <b>&</b>,", hello[locale] + " Anna &lt;b&gt;&amp;&lt;/b&gt;,"},
			} {
				t.Run(kind+"/"+locale+"/"+tc.name, func(t *testing.T) {
					raw, err := r.Render(kind, locale, "anna@example.com", data(kind, tc.name))
					if err != nil {
						t.Fatal(err)
					}
					m := parseMessage(t, raw)
					if got := strings.SplitN(m.text, "\n", 2)[0]; got != tc.text {
						t.Errorf("text greeting %q, want %q", got, tc.text)
					}
					if !strings.Contains(m.html, ">"+tc.html+"</p>") {
						t.Errorf("html lacks %q:\n%s", tc.html, m.html)
					}
				})
			}
		}
	}
}
