package gateway

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"unigate/config"
)

// TestUpstreamCannotSetGatewayCookies (issue 16, finding 9): a console's
// Set-Cookie for the session, handoff or language cookie (either spelling)
// is removed from its response; its own cookies pass.
func TestUpstreamCannotSetGatewayCookies(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range []string{"console=1", "unigate_session=fixed", "__Host-unigate_session=fixed",
			"unigate_handoff=n", "__Host-unigate_handoff=n", "unigate_lang=xx"} {
			w.Header().Add("Set-Cookie", c+"; Path=/")
		}
	}))
	t.Cleanup(up.Close)
	h := newHarness(t, func(c *config.Config) { c.Consoles[0].Upstream = up.URL })
	r := h.browser().do("GET", dediboxURL+"/api/x", nil) // a public path: no session needed
	if got, want := r.Header.Values("Set-Cookie"), []string{"console=1; Path=/"}; r.StatusCode != 200 || !slices.Equal(got, want) {
		t.Errorf("%d, Set-Cookie %q; want 200 and only %q", r.StatusCode, got, want)
	}
}
