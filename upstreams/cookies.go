package upstreams

import (
	"net/http"
	"strings"
)

// ownCookies are the names of the cookies the gateway sets itself (without
// a "__Host-" or "__Secure-" prefix, lower case): an upstream may not set
// them.
type ownCookies []string

// newOwnCookies lists names (any spelling) without prefix and in lower case,
// once each.
func newOwnCookies(names ...string) ownCookies {
	var own ownCookies
	for _, n := range names {
		if n == "" {
			continue
		}
		if bare := bareCookieName(n); !own.has(bare) {
			own = append(own, bare)
		}
	}
	return own
}

// bareCookieName is name lower-cased and without its "__Host-" or
// "__Secure-" prefix, which browsers match case-insensitively (RFC 6265bis
// §4.1.3): "__HOST-unigate_session" is the session cookie's spelling too.
func bareCookieName(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, prefix := range []string{"__host-", "__secure-"} {
		name = strings.TrimPrefix(name, prefix)
	}
	return name
}

func (own ownCookies) has(bare string) bool {
	for _, n := range own {
		if n == bare {
			return true
		}
	}
	return false
}

// stripOwnCookies removes from an upstream response every Set-Cookie for one
// of the gateway's own cookies (issue 16, finding 9). A console could
// otherwise set, overwrite or expire the browser's session cookie (session
// fixation, a forced sign-out), its handoff nonce or its language: a
// console mounted by path_prefix shares the account host's origin, and a
// console host is the origin of its own handoff cookie. Cookies of the
// console's own names pass untouched. Case-insensitive, so that no spelling
// a browser or the gateway might read as one of its own slips through.
func (own ownCookies) stripOwnCookies(h http.Header) {
	lines := h["Set-Cookie"]
	if len(lines) == 0 || len(own) == 0 {
		return
	}
	kept := lines[:0:0]
	for _, line := range lines {
		if !own.has(bareCookieName(setCookieName(line))) {
			kept = append(kept, line)
		}
	}
	switch {
	case len(kept) == len(lines):
	case len(kept) == 0:
		delete(h, "Set-Cookie")
	default:
		h["Set-Cookie"] = kept
	}
}

// setCookieName is the cookie-name of a Set-Cookie line (RFC 6265 §5.2):
// what comes before the first "=" of its first pair. A pair without "=" is,
// to a browser, a cookie with an empty name and that value, which a server
// then reads back as a cookie of that name: its text is the name here.
func setCookieName(line string) string {
	pair, _, _ := strings.Cut(line, ";")
	name, _, _ := strings.Cut(pair, "=")
	return name
}

// modifyResponse is the ReverseProxy's ModifyResponse hook.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	p.ownCookies.stripOwnCookies(resp.Header)
	return nil
}
