package gateway

import "testing"

// TestPublicPathSpellingsAnUpstreamReadsAgain (issue 16, finding 12):
// under a console's public prefix, the spellings an upstream may decode
// again or trim into another path need a session like any other path;
// without one they are answered 401 and never reach the console, while the
// plain public path still does.
func TestPublicPathSpellingsAnUpstreamReadsAgain(t *testing.T) {
	h := newHarness(t) // dedibox: public_paths ["/api/"]
	b := h.browser()
	if r := b.do("GET", dediboxURL+"/api/status", nil); r.StatusCode != 200 {
		t.Fatalf("plain public path: %d %s", r.StatusCode, r.body)
	}
	before := h.dedibox.count()
	for _, path := range []string{"/api/%252e%252e/admin", "/api/..%20/admin", "/api/...", "/api/.../admin", "/api/%252fadmin"} {
		r := b.do("GET", dediboxURL+path, nil)
		if r.StatusCode != 401 || r.json(t)["error"] != "unauthenticated" {
			t.Errorf("%s: %d %s, want 401 unauthenticated", path, r.StatusCode, r.body)
		}
	}
	if n := h.dedibox.count() - before; n != 0 {
		t.Errorf("%d of them reached the console without a session", n)
	}
}
