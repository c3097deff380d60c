package gateway

import "testing"

// TestForeignIdentityHeadersNeverReachConsoles (issue 16, finding 16):
// other proxies' identity headers sent by the client are removed before
// the request reaches the console; Authorization is kept.
func TestForeignIdentityHeadersNeverReachConsoles(t *testing.T) {
	h := newHarness(t)
	sent := []string{"Remote-User", "Remote-Email", "Remote-Groups", "Remote-Name", "X-Forwarded-User", "X-Forwarded-Email",
		"X-Forwarded-Groups", "X-Forwarded-Preferred-Username", "X-Forwarded-Access-Token", "X-Remote-User", "X-Webauth-User",
		"X-Auth-Request-User", "Remote_User", "x_forwarded_email"}
	var hdr []string
	for _, name := range sent {
		hdr = append(hdr, name, "admin")
	}
	hdr = append(hdr, "Authorization", "Bearer console-token")
	if r := h.browser().do("GET", dediboxURL+"/api/x", nil, hdr...); r.StatusCode != 200 {
		t.Fatalf("public path: %d %s", r.StatusCode, r.body)
	}
	got := h.dedibox.last(t).Header
	for _, name := range sent {
		for k := range got {
			if sameHeaderSpelling(k, name) {
				t.Errorf("%s reached the console as %s: %q", name, k, got[k])
			}
		}
	}
	if got.Get("Authorization") != "Bearer console-token" {
		t.Errorf("Authorization = %q, want it kept", got.Get("Authorization"))
	}
}

// sameHeaderSpelling compares header names ignoring case, "_" read as "-".
func sameHeaderSpelling(a, b string) bool {
	norm := func(s string) string {
		out := []byte(s)
		for i, c := range out {
			switch {
			case c == '_':
				out[i] = '-'
			case 'A' <= c && c <= 'Z':
				out[i] = c + 'a' - 'A'
			}
		}
		return string(out)
	}
	return norm(a) == norm(b)
}
