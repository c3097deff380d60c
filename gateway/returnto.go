package gateway

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// maxReturnTo bounds a return_to; longer ones are ignored.
const maxReturnTo = 2048

// returnTarget is a return_to that passed validation.
type returnTarget struct {
	// URL is the cleaned form to redirect to: a local path ("/x?y") or an absolute URL.
	URL string
	// Host is the lower-case host when URL is absolute ("" for a local path).
	Host string
	// Path is the path with query (and fragment) on that host.
	Path string
}

// parseReturnTo validates a return_to (CONTRACT §5): a relative path starting
// with a single "/", or an absolute URL with the configured scheme on the
// account host or a console host (and public_url's port). Anything else is
// ignored (ok == false). It defends against open redirects (SECURITY family 1,
// ASVS V15 / V3.7): protocol-relative and backslash forms, control
// characters that browsers strip ("/\t/evil"), userinfo tricks
// ("https://account@evil"), encoded slashes, other schemes and look-alike hosts.
func (s *Server) parseReturnTo(raw string) (returnTarget, bool) {
	if raw == "" || len(raw) > maxReturnTo || !utf8.ValidString(raw) {
		return returnTarget{}, false
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		// Browsers drop tab/CR/LF inside URLs and read "\" as "/": any of them
		// could turn "/\t/evil.test" into "//evil.test". Spaces have no place either.
		if c < 0x21 || c == 0x7f || c == '\\' {
			return returnTarget{}, false
		}
	}
	if strings.HasPrefix(raw, "/") {
		if !safeLocalPath(raw) {
			return returnTarget{}, false
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
			return returnTarget{}, false
		}
		return returnTarget{URL: u.String(), Path: u.String()}, true
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return returnTarget{}, false
	}
	if u.Scheme != s.public.Scheme { // url.Parse lower-cases the scheme
		return returnTarget{}, false
	}
	if u.Port() != s.public.Port() {
		return returnTarget{}, false
	}
	host := strings.ToLower(u.Hostname())
	if host != s.accountHost && s.consoleHosts[host] == nil {
		return returnTarget{}, false
	}
	local := u.EscapedPath()
	if local == "" {
		local = "/"
	}
	if !safeLocalPath(local) {
		return returnTarget{}, false
	}
	if u.RawQuery != "" || u.ForceQuery {
		local += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		local += "#" + u.EscapedFragment()
	}
	clean := s.siteURL(host) + local
	return returnTarget{URL: clean, Host: host, Path: local}, true
}

// safeLocalPath accepts a path that starts with exactly one "/" and whose
// decoded form cannot become protocol-relative or carry control characters.
func safeLocalPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return false
	}
	pathPart := p
	if i := strings.IndexAny(pathPart, "?#"); i >= 0 {
		pathPart = pathPart[:i]
	}
	// Double and single decoding must not produce "//", "/\" or controls either:
	// some servers and browsers decode once more on the way.
	dec := pathPart
	for range 2 {
		d, err := url.PathUnescape(dec)
		if err != nil {
			return false
		}
		dec = d
		if strings.HasPrefix(dec, "//") || strings.ContainsAny(dec, "\\\x00") {
			return false
		}
		for i := 0; i < len(dec); i++ {
			if dec[i] < 0x20 || dec[i] == 0x7f {
				return false
			}
		}
	}
	return true
}
