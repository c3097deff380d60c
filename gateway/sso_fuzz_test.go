package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"unigate/sso"
	"unigate/sso/ssotest"
)

// ssoCallbackCases are the query parameters a provider's callback brings
// (state, code, error) and whether the state is the one the gateway sent;
// they seed FuzzSSOCallback.
var ssoCallbackCases = []struct {
	state, code, error string
	realState          bool
}{
	{"", "", "", false},
	{"x", "code", "", false},
	{"", "not-a-code", "", true},
	{"", "", "access_denied", true},
	{"", "", "server_error", true},
	{strings.Repeat("s", 43), "c", "temporarily_unavailable", false},
	{"\x00", "\xff", "%", true},
}

// FuzzSSOCallback: whatever state, code and error a callback brings, after
// a real start of a GitHub sign-in, the gateway never fails with a 5xx,
// never completes a sign-in with a code GitHub did not issue, and sends the
// browser back to the login page with the error code of a refusal.
func FuzzSSOCallback(f *testing.F) {
	for _, c := range ssoCallbackCases {
		f.Add(c.state, c.code, c.error, c.realState)
	}
	gh := ssotest.StartGitHub(f)
	base := newHarnessWithDeps(f, nil, func(d *Deps) {
		d.SSOProviders = map[string]sso.Provider{sso.GitHub: sso.NewGitHub(gh.Config())}
	})
	f.Fuzz(func(t *testing.T, state, code, callbackError string, realState bool) {
		h := *base
		h.t = t // the browser reports through this iteration's t
		// Past the rate limits' windows: every iteration comes from one IP.
		h.clock.Advance(time.Hour)
		b := h.browser()
		r := b.do("GET", accountURL+"/login/sso/github", nil)
		authorize, err := url.Parse(r.Header.Get("Location"))
		if r.StatusCode != http.StatusFound || err != nil || authorize.Query().Get("state") == "" {
			t.Fatalf("start: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		if realState {
			state = authorize.Query().Get("state")
		}
		q := url.Values{"state": {state}, "code": {code}}
		if callbackError != "" {
			q.Set("error", callbackError)
		}
		r = b.do("GET", accountURL+"/sso/github/callback?"+q.Encode(), nil)
		if r.StatusCode >= 500 {
			t.Fatalf("callback %v: status %d: %s", q, r.StatusCode, r.body)
		}
		loc, err := url.Parse(r.Header.Get("Location"))
		if r.StatusCode != http.StatusFound || err != nil || loc.Path != "/login" || loc.Query().Get("error") == "" {
			t.Fatalf("callback %v: %d %q, want a redirect to the login page with an error", q, r.StatusCode, r.Header.Get("Location"))
		}
		if r := b.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("callback %v signed the browser in: session %d %s", q, r.StatusCode, r.body)
		}
	})
}
