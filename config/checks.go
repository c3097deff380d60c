package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// checkHostPort says what is wrong with a listen or dial address, or "".
// Port 0 is allowed only when zeroOK (a listener on a free port, in tests).
func checkHostPort(addr string, zeroOK bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("want host:port such as 127.0.0.1:8080, got %q", addr)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || (n == 0 && !zeroOK) {
		return fmt.Sprintf("port %q is not a number from 1 to 65535", port)
	}
	if host != "" && !validHost(host) {
		return fmt.Sprintf("%q is not an IP address or host name", host)
	}
	return ""
}

// validHost accepts an IP address (without zone) or a host name.
func validHost(h string) bool {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Zone() == ""
	}
	return validHostname(h)
}

// validHostname accepts a DNS name of letters, digits and hyphens (RFC 1123
// §2.1), no trailing dot: the gateway compares Host headers against it.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// urlRule says which parts of an absolute URL a key allows.
type urlRule struct {
	schemes   []string // allowed schemes, lower case
	allowPath bool     // a path beyond "/" (an upstream's base, an issuer's tenant)
}

// checkURL parses s as an absolute URL with a host, one of the rule's
// schemes, and no credentials, query or fragment; it returns the URL or what
// is wrong with it. Credentials are refused because they would end up in
// logs and Referer headers.
func checkURL(s string, r urlRule) (*url.URL, string) {
	u, err := url.Parse(s)
	switch {
	case err != nil || !slices.Contains(r.schemes, u.Scheme):
		return nil, fmt.Sprintf("want an absolute %s URL, got %q", strings.Join(r.schemes, " or "), s)
	case u.Opaque != "" || u.Host == "":
		return nil, fmt.Sprintf("%q has no host", s)
	case u.User != nil:
		return nil, "must not hold credentials (user:password@)"
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Sprintf("%q must not have a query", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return nil, fmt.Sprintf("%q must not have a fragment", s)
	case !validHost(u.Hostname()):
		return nil, fmt.Sprintf("%q is not a valid host", u.Hostname())
	case !r.allowPath && u.Path != "" && u.Path != "/":
		return nil, fmt.Sprintf("%q must not have a path", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return nil, fmt.Sprintf("port %q is not a number from 1 to 65535", p)
		}
	}
	return u, ""
}

// checkPath says what is wrong with a URL path used for matching (public
// paths, prefixes), or "". The gateway matches canonical paths only
// (CONTRACT §3), so a path that is not canonical would never match.
func checkPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return fmt.Sprintf("%q must start with /", p)
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`?#%\`, r) {
			return fmt.Sprintf("%q must be a plain path, without spaces, ?, #, %% or \\", p)
		}
	}
	if strings.Contains(p, "//") {
		return fmt.Sprintf("%q must not contain //", p)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return fmt.Sprintf("%q must not contain . or .. segments", p)
		}
	}
	return ""
}

// validCookieName accepts an RFC 6265 §4.1.1 cookie-name: an RFC 2616 token.
func validCookieName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return true
}
