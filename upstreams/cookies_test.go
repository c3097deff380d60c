package upstreams

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// TestProxyStripsGatewaySetCookies (issue 16, finding 9): an upstream's
// Set-Cookie for one of the gateway's cookies (the session cookie with and
// without "__Host-", the handoff nonce, the language), in any spelling a
// browser or the gateway reads as that cookie, never reaches the browser;
// the console's own cookies do, in their order.
func TestProxyStripsGatewaySetCookies(t *testing.T) {
	set := []string{
		"console_session=abc; Path=/; HttpOnly",
		"unigate_session=attacker-fixed; Path=/",
		"__Host-unigate_session=attacker-fixed; Path=/; Secure",
		"__HOST-unigate_session=x; Path=/; Secure",
		"__Secure-unigate_session=x; Path=/; Secure",
		"UNIGATE_SESSION=x",
		" unigate_session =x",
		"unigate_session",
		"unigate_session=; Max-Age=0",
		"__Host-unigate_handoff=nonce; Path=/; Secure",
		"unigate_handoff=nonce",
		"unigate_lang=xx; Path=/",
		"theme=dark",
		"unigate_session_extra=1", // another name: the console's
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range set {
			w.Header().Add("Set-Cookie", c)
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(up.Close)
	want := []string{"console_session=abc; Path=/; HttpOnly", "theme=dark", "unigate_session_extra=1"}

	for _, tc := range []struct {
		name   string
		cookie string // ProxyConfig.CookieName
	}{{"https name", "__Host-unigate_session"}, {"http name", "unigate_session"}} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustProxy(t, ProxyConfig{Console: "c", Upstream: mustURL(t, up.URL), CookieName: tc.cookie,
				GatewayCookies: []string{"__Host-unigate_handoff", "unigate_lang"}})
			gw := newGateway(t, p, gatewayOpts{})
			resp, err := http.Get(gw.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Values("Set-Cookie"); !slices.Equal(got, want) {
				t.Errorf("Set-Cookie reaching the browser:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestStripOwnCookiesLeavesOthers: a response with only the console's
// cookies, or with none, is left as it is; one with only the gateway's
// loses the header.
func TestStripOwnCookiesLeavesOthers(t *testing.T) {
	own := newOwnCookies("__Host-unigate_session", "unigate_lang")
	for _, tc := range []struct {
		name     string
		in, want []string
	}{
		{"none", nil, nil},
		{"console only", []string{"a=1", "b=2"}, []string{"a=1", "b=2"}},
		{"gateway only", []string{"unigate_lang=fr", "__Host-unigate_session=x"}, nil},
		{"mixed", []string{"unigate_lang=fr", "a=1"}, []string{"a=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.in != nil {
				h["Set-Cookie"] = slices.Clone(tc.in)
			}
			own.stripOwnCookies(h)
			if got := h["Set-Cookie"]; !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if _, present := h["Set-Cookie"]; present != (tc.want != nil) {
				t.Errorf("Set-Cookie present: %v, want %v", present, tc.want != nil)
			}
		})
	}
}

// The gateway's own cookies are taken out of the request too: the handoff
// nonce and the language cookie never reach a console, as the session
// cookie never does; the console's own cookies pass.
func TestProxyStripsGatewayCookiesFromRequests(t *testing.T) {
	var got string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("Cookie") }))
	t.Cleanup(up.Close)
	p := mustProxy(t, ProxyConfig{Console: "c", Upstream: mustURL(t, up.URL), CookieName: "__Host-unigate_session",
		GatewayCookies: []string{"__Host-unigate_handoff", "unigate_lang"}})
	gw := newGateway(t, p, gatewayOpts{})
	req, _ := http.NewRequest("GET", gw.URL+"/", nil)
	req.Header.Set("Cookie", "__Host-unigate_session=s; __Host-unigate_handoff=n; unigate_lang=fr; theme=dark")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != "theme=dark" {
		t.Errorf("Cookie reaching the console: %q, want %q", got, "theme=dark")
	}
}
