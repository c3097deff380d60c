package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// handoffCases are the query parameters of the handoff's steps (code,
// state, bound, from); they seed FuzzHandoffParams.
var handoffCases = [][4]string{
	{"", "", "", ""},
	{"abc", "", "", ""},
	{"abc", "", "1", ""},
	{"abc", strings.Repeat("n", 43), "", ""},
	{strings.Repeat("c", 128), strings.Repeat("n", 43), "", "console.scaleway.test"},
	{strings.Repeat("c", 129), "", "", ""},
	{"abc", strings.Repeat("n", 42), "", "evil.test"},
	{"a&b=c", "n%00", "0", "account.test"},
	{"\x00", "\xff", "", "console.online.test"},
}

// FuzzHandoffParams: whatever code, state, bound and from a browser brings
// to the handoff's two endpoints (the console host's /.auth/handoff, the
// account host's /.auth/bind), the gateway never fails with a 5xx, never
// sets a session cookie for a code it did not mint, and the first step
// sends the browser only to the account host or a configured console host,
// carrying the code unchanged and a fresh 43-character state.
func FuzzHandoffParams(f *testing.F) {
	for _, c := range handoffCases {
		f.Add(c[0], c[1], c[2], c[3])
	}
	h := newHarness(f)
	sites := map[string]bool{"account.test:8080": true, "console.online.test:8080": true, "console.scaleway.test:8080": true}
	serve := func(t *testing.T, host, path string, q url.Values) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = host
		req.URL.Path, req.URL.RawQuery = path, q.Encode()
		rec := httptest.NewRecorder()
		h.gw.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s%s?%s: status %d: %s", host, path, req.URL.RawQuery, rec.Code, rec.Body)
		}
		for _, c := range rec.Result().Cookies() {
			if strings.HasSuffix(c.Name, "unigate_session") && c.MaxAge >= 0 && c.Value != "" {
				t.Fatalf("%s%s?%s set a session cookie", host, path, req.URL.RawQuery)
			}
		}
		return rec
	}
	f.Fuzz(func(t *testing.T, code, state, bound, from string) {
		q := url.Values{"code": {code}, "state": {state}, "bound": {bound}, "from": {from}}
		rec := serve(t, "console.online.test:8080", "/.auth/handoff", q)
		switch {
		case code == "" || len(code) > 128:
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("handoff with code %q: status %d, want 400", code, rec.Code)
			}
		case bound == "":
			if rec.Code != http.StatusFound {
				t.Fatalf("handoff start with code %q: status %d, want 302", code, rec.Code)
			}
			loc, err := url.Parse(rec.Header().Get("Location"))
			if err != nil || !sites[loc.Host] || loc.Path != "/.auth/bind" {
				t.Fatalf("handoff start (from %q) sends the browser to %q", from, rec.Header().Get("Location"))
			}
			if got := loc.Query(); got.Get("code") != code || len(got.Get("state")) != 43 || got.Get("state") == state {
				t.Fatalf("handoff start carries %v, want code %q and a fresh state", got, code)
			}
		default:
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("handoff finish with an unknown code %q: status %d, want 400", code, rec.Code)
			}
		}
		// Step 2 with a code the store never saw: refused, whatever the state.
		for _, host := range []string{"account.test:8080", "console.online.test:8080"} {
			if rec := serve(t, host, "/.auth/bind", q); rec.Code != http.StatusBadRequest {
				t.Fatalf("bind on %s with code %q, state %q: status %d, want 400", host, code, state, rec.Code)
			}
		}
	})
}
