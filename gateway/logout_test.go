package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// TestLogoutClearSiteData: every logout asks the browser to drop this
// origin's cache and storage, not its cookies (that would also drop the
// remembered-device cookie), and expires the session cookie by name
// (CONTRACT §5 POST /logout).
func TestLogoutClearSiteData(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	for _, tc := range []struct {
		name       string
		host, path string
		wantStatus int
	}{
		{"API", accountURL, "/api/v1/logout", http.StatusNoContent},
		{"page", accountURL, "/logout", http.StatusSeeOther},
		{"console host", scalewayURL, "/.auth/logout", http.StatusSeeOther},
		{"sign out everywhere", accountURL, "/settings/sessions/revoke-all", http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := h.browser()
			b.login("alice@example.com", "correct horse battery")
			if tc.host == scalewayURL {
				b.enter("scaleway")
			}
			host := strings.Split(strings.TrimPrefix(tc.host, "http://"), ":")[0]
			if b.cookie(host) == nil {
				t.Fatalf("no session cookie on %s before the logout", host)
			}
			r := b.do("POST", tc.host+tc.path, "", "Accept", "text/html")
			if r.StatusCode != tc.wantStatus {
				t.Fatalf("got %d, want %d (%s)", r.StatusCode, tc.wantStatus, r.body)
			}
			if got, want := r.Header.Get("Clear-Site-Data"), `"cache", "storage"`; got != want {
				t.Errorf("Clear-Site-Data: got %q, want %q", got, want)
			}
			expired := false
			for _, c := range r.Cookies() {
				if strings.HasSuffix(c.Name, "unigate_session") && c.MaxAge < 0 {
					expired = true
				}
			}
			if !expired {
				t.Errorf("the session cookie is not expired: Set-Cookie %q", r.Header.Values("Set-Cookie"))
			}
			if b.cookie(host) != nil {
				t.Errorf("the browser still holds a session cookie on %s", host)
			}
		})
	}
}
