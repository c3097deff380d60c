package upstreams

import (
	"net/http"
	"net/netip"
	"strings"
)

// authHeaderPrefix is the reserved header namespace of the gateway (CONTRACT §6).
const authHeaderPrefix = "x-auth-"

// StripAuthHeaders removes every header whose name, compared
// case-insensitively and with "_" read as "-", starts with "X-Auth-".
//
// Why the underscore: many upstream stacks (CGI, WSGI, PHP, Rack, nginx with
// underscores_in_headers) map both "X-Auth-User-Id" and "X_Auth_User_Id" to
// the same variable HTTP_X_AUTH_USER_ID, so a client-sent underscore form
// could shadow the header the gateway sets. The client can never set a header
// the gateway sets (ASVS V4.1.3; SECURITY family 2). Every value of every
// matching name goes, so duplicated or comma-joined values cannot survive.
func StripAuthHeaders(h http.Header) {
	for name := range h {
		if isAuthHeaderName(name) {
			delete(h, name)
		}
	}
}

func isAuthHeaderName(name string) bool {
	if len(name) < len(authHeaderPrefix) {
		return false
	}
	for i := 0; i < len(authHeaderPrefix); i++ {
		if foldHeaderByte(name[i]) != authHeaderPrefix[i] {
			return false
		}
	}
	return true
}

// spoofableHeaders are request headers that some upstream framework believes
// about the client or about the path, and that only a proxy should set. The
// gateway sets X-Forwarded-For/-Host/-Proto itself and none of these, so any
// incoming value is the client's invention. X-Original-URL and X-Rewrite-URL
// make Symfony/Laminas/IIS route on a path other than the request's (a
// public-path bypass, SECURITY family 3); the others forge the client
// address, scheme or port.
var spoofableHeaders = []string{
	"Forwarded",
	// The three the gateway sets: ReverseProxy removes only their exact
	// spellings; "X_Forwarded_For" reaches a CGI-style stack as the same
	// variable (the Puma CVE-2024-45614 class). setForwarded sets them anew.
	"X-Forwarded-For",
	"X-Forwarded-Host",
	"X-Forwarded-Proto",
	"X-Forwarded-Port",
	"X-Forwarded-Prefix",
	"X-Forwarded-Server",
	"X-Forwarded-Ssl",
	"X-Forwarded-Scheme",
	"X-Url-Scheme",
	"Front-End-Https",
	"X-Real-Ip",
	"X-Client-Ip",
	"True-Client-Ip",
	"Cf-Connecting-Ip",
	"X-Cluster-Client-Ip",
	"X-Original-Url",
	"X-Original-Uri",
	"X-Rewrite-Url",
}

// foreignIdentityHeaders are the identity headers of other authenticating
// proxies (issue 16, finding 16): Authelia and Authentik (Remote-*),
// oauth2-proxy (X-Forwarded-User and the rest), Apache and nginx auth
// modules (X-Remote-User), Grafana's auth proxy (X-Webauth-*). A console
// built for one of them takes these as the signed-in user, and the gateway
// sets none of them, so any incoming value is the client's invention (ASVS
// V4.1.3; SECURITY family 2). Authorization is not among them: consoles'
// APIs take their own tokens in it. oauth2-proxy's X-Auth-Request-* go with
// X-Auth-* (StripAuthHeaders).
var foreignIdentityHeaders = []string{
	"Remote-User",
	"Remote-Email",
	"Remote-Groups",
	"Remote-Name",
	"X-Forwarded-User",
	"X-Forwarded-Email",
	"X-Forwarded-Groups",
	"X-Forwarded-Preferred-Username",
	"X-Forwarded-Access-Token",
	"X-Remote-User",
	"X-Webauth-User",
	"X-Webauth-Email",
	"X-Webauth-Name",
}

// stripSpoofableHeaders deletes spoofableHeaders and foreignIdentityHeaders
// in any case and with "_" for "-" (the same CGI-style aliasing as for
// X-Auth-*).
func stripSpoofableHeaders(h http.Header) {
	for name := range h {
		if isListedHeader(name, spoofableHeaders) || isListedHeader(name, foreignIdentityHeaders) {
			delete(h, name)
		}
	}
}

func isListedHeader(name string, list []string) bool {
	for _, s := range list {
		if sameHeaderName(name, s) {
			return true
		}
	}
	return false
}

func sameHeaderName(name, canonical string) bool {
	if len(name) != len(canonical) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if foldHeaderByte(name[i]) != foldHeaderByte(canonical[i]) {
			return false
		}
	}
	return true
}

// foldHeaderByte lower-cases an ASCII letter and reads "_" as "-".
func foldHeaderByte(c byte) byte {
	switch {
	case c == '_':
		return '-'
	case 'A' <= c && c <= 'Z':
		return c + ('a' - 'A')
	}
	return c
}

// RemoveCookie removes the cookie called name from every Cookie line of h,
// keeping all other cookies and their order, and deletes a line that is left
// empty; the Cookie value slice of h is rewritten in place. The gateway's
// session cookie must never reach an upstream: a console
// that logs or reflects cookies would otherwise leak a live session token.
// Names are compared after trimming blanks, since some upstream parsers trim
// them; cookie names are otherwise case-sensitive (RFC 6265 §5.4).
func RemoveCookie(h http.Header, name string) {
	lines, ok := h["Cookie"]
	if !ok || name == "" {
		return
	}
	n := 0
	changed := false
	for _, line := range lines {
		nl, lineChanged := removeCookieFromLine(line, name)
		changed = changed || lineChanged
		if nl != "" {
			lines[n] = nl // in place: the slice is h's own value
			n++
		}
	}
	if !changed {
		return
	}
	if n == 0 {
		delete(h, "Cookie")
		return
	}
	clear(lines[n:])
	h["Cookie"] = lines[:n:n]
}

// removeCookieFromLine returns line without the pairs called name, and
// whether anything was removed. An unchanged line is returned as is.
func removeCookieFromLine(line, name string) (string, bool) {
	if !strings.Contains(line, name) {
		return line, false
	}
	var b strings.Builder
	removed := false
	rest := line
	for rest != "" {
		var part string
		if i := strings.IndexByte(rest, ';'); i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		} else {
			part, rest = rest, ""
		}
		part = strings.Trim(part, " \t")
		if part == "" {
			continue
		}
		n := part
		if i := strings.IndexByte(n, '='); i >= 0 {
			n = n[:i]
		}
		if strings.Trim(n, " \t") == name {
			removed = true
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(part)
	}
	if !removed {
		return line, false
	}
	return b.String(), true
}

// ClientIP returns the address of the client that sent r.
//
// The peer (r.RemoteAddr) is the answer unless it is one of the trusted
// proxies. Only then is X-Forwarded-For read (every header line, each a
// comma-separated list), from the right, skipping trusted addresses: the
// first untrusted address is the client. Entries left of it were written by
// the client and are never believed, so a forged X-Forwarded-For cannot
// dodge per-IP limits (ASVS V6.3.1, SECURITY family 5).
//
// A malformed entry (not an IP, or "ip:port") stops the walk: the answer is
// then the last trusted hop reached, the proxy that handed over the garbage.
// Attributing to a proxy errs toward rate-limiting the proxy, never toward
// believing an address nobody vouched for. If every entry is trusted, the
// leftmost one is the answer. Addresses are returned unmapped (::ffff:1.2.3.4
// is 1.2.3.4) and without zone. An unparsable RemoteAddr gives the zero Addr.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parsePeer(r.RemoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trusted) {
		return peer
	}
	hop := peer
	lines := r.Header["X-Forwarded-For"]
	for li := len(lines) - 1; li >= 0; li-- {
		rest := lines[li]
		for {
			entry := rest
			more := false
			if i := strings.LastIndexByte(rest, ','); i >= 0 {
				entry, rest = rest[i+1:], rest[:i]
				more = true
			}
			entry = strings.Trim(entry, " \t")
			if entry == "" && !more {
				// An empty header line contributes nothing.
				break
			}
			addr, ok := parseForwardedAddr(entry)
			if !ok {
				return hop
			}
			if !isTrusted(addr, trusted) {
				return addr
			}
			hop = addr
			if !more {
				break
			}
		}
	}
	return hop
}

// parsePeer reads "ip:port" (as net/http sets RemoteAddr) or a bare IP.
func parsePeer(remoteAddr string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(remoteAddr); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}

// parseForwardedAddr reads one X-Forwarded-For entry: a bare IPv4 or IPv6
// address (a bracketed IPv6 is accepted). Ports are not part of the format
// and are refused.
func parseForwardedAddr(s string) (netip.Addr, bool) {
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
