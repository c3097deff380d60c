package session

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// Errors returned by CookieCodec.Decode. Either way the request has no
// session: the gateway treats both as "not logged in", never as a 500.
var (
	// ErrNoCookie: the request carries no cookie with the codec's name.
	ErrNoCookie = errors.New("session: no session cookie")
	// ErrBadCookie: a cookie with the codec's name is there but none is a
	// valid value for this host (forged, tampered, expired, oversized,
	// issued for another host, or several that disagree).
	ErrBadCookie = errors.New("session: invalid session cookie")
)

// CookieConfig configures a CookieCodec.
type CookieConfig struct {
	// Name is the cookie's name; "" is "unigate_session". With Secure it is
	// sent as "__Host-" + Name, which the browser only accepts from a secure
	// origin, with Path=/ and without Domain: a sibling subdomain cannot plant
	// or overwrite it (cookie tossing, RFC 6265bis §4.1.3.2).
	Name string
	// Secure marks the cookie Secure and adds the __Host- prefix. Set it
	// whenever public_url is https (ASVS V3.3.1).
	Secure bool
	// HashKey is the session key (secrets.session_key_file), at least 32
	// bytes. Separate signing and encryption keys are derived from it with
	// HKDF-SHA256, so one secret serves both without being used twice.
	HashKey []byte
	// MaxAge is the cookie's lifetime, both the browser's Max-Age and the
	// age past which a signed value is refused; set it to the absolute
	// session timeout. 0 is 12h (config's default absolute_timeout).
	MaxAge time.Duration
	// PreviousHashKeys are the session keys HashKey replaced
	// (secrets.previous_session_key_files, CONTRACT §12): cookies they
	// signed are still accepted, and DecodeRotated tells the caller so
	// that it re-issues them under HashKey.
	PreviousHashKeys [][]byte
}

// CookieCodec turns a session token into a host's session cookie and back.
// The cookie holds only the token, signed (HMAC-SHA256) and encrypted
// (AES-256-CTR) by gorilla/securecookie with a timestamp; the signature
// covers the cookie name and the host, so a value copied from one host is
// refused on every other (CONTRACT §5: each host's cookie is its own token).
type CookieCodec struct {
	name string // effective name, with the __Host- prefix when Secure
	sc   *securecookie.SecureCookie
	// previous verify cookies signed under a rotated-out key; never encode.
	previous []*securecookie.SecureCookie
	opts     sessions.Options
	// decoded remembers values already verified (see decodedCookie).
	decoded  sync.Map
	decodedN atomic.Int64
	cacheFor time.Duration // 0: verify every time
}

const (
	defaultCookieName   = "unigate_session"
	defaultCookieMaxAge = 12 * time.Hour
	minSessionKeyLen    = 32
	hostPrefix          = "__Host-"

	// maxCookieValue is the longest value Decode looks at. A genuine value
	// is about 170 bytes; anything longer is refused before any base64 or
	// HMAC work (SECURITY.md family 8: oversized cookies, never a 500).
	maxCookieValue = 512
	// maxCookieCandidates bounds the HMAC checks one request can cause
	// through repeated cookies with our name.
	maxCookieCandidates = 8
)

// NewCookieCodec validates c and derives the codec's keys.
func NewCookieCodec(c CookieConfig) (*CookieCodec, error) {
	name := c.Name
	if name == "" {
		name = defaultCookieName
	}
	if !isCookieName(name) {
		return nil, fmt.Errorf("session: cookie name %q is not a valid cookie name", name)
	}
	if strings.HasPrefix(strings.ToLower(name), "__host-") || strings.HasPrefix(strings.ToLower(name), "__secure-") {
		return nil, fmt.Errorf("session: cookie name %q: leave the prefix out, Secure adds __Host-", name)
	}
	if len(c.HashKey) < minSessionKeyLen {
		return nil, fmt.Errorf("session: session key is %d bytes, need at least %d", len(c.HashKey), minSessionKeyLen)
	}
	maxAge := c.MaxAge
	switch {
	case maxAge < 0:
		return nil, fmt.Errorf("session: cookie max age %v is negative", maxAge)
	case maxAge == 0:
		maxAge = defaultCookieMaxAge
	}
	// Whole seconds, rounded up: cookies and securecookie count in seconds.
	secs := int((maxAge + time.Second - 1) / time.Second)

	sc, err := newSecureCookie(c.HashKey, secs)
	if err != nil {
		return nil, err
	}
	var previous []*securecookie.SecureCookie
	for _, k := range c.PreviousHashKeys {
		if len(k) < minSessionKeyLen {
			return nil, fmt.Errorf("session: previous session key is %d bytes, need at least %d", len(k), minSessionKeyLen)
		}
		old, err := newSecureCookie(k, secs)
		if err != nil {
			return nil, err
		}
		previous = append(previous, old)
	}

	if c.Secure {
		name = hostPrefix + name
	}
	// A remembered value may outlive its cookie by up to decodedCookieTTL:
	// negligible next to hours, not next to seconds, so cookies that live
	// less than an hour are verified every time.
	var cacheFor time.Duration
	if maxAge >= time.Hour {
		cacheFor = decodedCookieTTL
	}
	codec := &CookieCodec{
		name:     name,
		sc:       sc,
		previous: previous,
		cacheFor: cacheFor,
		opts: sessions.Options{
			Path:     "/", // required by __Host-; one cookie for the whole host
			MaxAge:   secs,
			Secure:   c.Secure,
			HttpOnly: true,                 // no script access (ASVS V3.3.4)
			SameSite: http.SameSiteLaxMode, // no cross-site subrequests (ASVS V3.3.2)
			// No Domain: host-only, never sent to sibling hosts (ASVS V3.3.3).
		},
	}
	// securecookie keeps construction errors for the first call: surface them now.
	if _, err := codec.sc.Encode(name, []byte(NewToken())); err != nil {
		return nil, fmt.Errorf("session: cookie codec: %w", err)
	}
	return codec, nil
}

// newSecureCookie derives the signing and encryption keys of one session key.
func newSecureCookie(sessionKey []byte, maxAgeSecs int) (*securecookie.SecureCookie, error) {
	hashKey, err := hkdf.Key(sha256.New, sessionKey, nil, "unigate session cookie hmac-sha256", 32)
	if err != nil {
		return nil, fmt.Errorf("session: deriving cookie keys: %w", err)
	}
	blockKey, err := hkdf.Key(sha256.New, sessionKey, nil, "unigate session cookie aes-256", 32)
	if err != nil {
		return nil, fmt.Errorf("session: deriving cookie keys: %w", err)
	}
	return securecookie.New(hashKey, blockKey).
		MaxAge(maxAgeSecs).
		MaxLength(maxCookieValue).
		SetSerializer(securecookie.NopEncoder{}), nil
}

// Name returns the cookie's name as sent, with the __Host- prefix on Secure.
func (c *CookieCodec) Name() string { return c.name }

// Encode returns the session cookie carrying token for host (a Host header
// value; the port is ignored, case too).
func (c *CookieCodec) Encode(host, token string) (*http.Cookie, error) {
	h := cookieHost(host)
	if h == "" {
		return nil, errors.New("session: cookie needs a host")
	}
	if !validToken(token) {
		return nil, errors.New("session: not a session token")
	}
	v, err := c.sc.Encode(c.macName(h), []byte(token))
	if err != nil {
		return nil, fmt.Errorf("session: encoding cookie: %w", err)
	}
	return sessions.NewCookie(c.name, v, &c.opts), nil
}

// Decode returns the token of the request's session cookie for host. It
// never panics and answers ErrNoCookie or ErrBadCookie (wrapped, with a
// reason that holds no cookie value) for anything but one good cookie.
//
// Several cookies with our name (a tossed cookie beside the real one, only
// possible without __Host-): values that fail to verify are skipped, and the
// token is returned only if every valid one names the same token. Two valid
// cookies naming different sessions are refused, so a planted session can
// never be chosen over the victim's own (session fixation, ASVS V7.2.4).
func (c *CookieCodec) Decode(host string, r *http.Request) (string, error) {
	token, _, err := c.DecodeRotated(host, r)
	return token, err
}

// DecodeRotated is Decode that also reports whether the cookie was signed
// under a previous session key only (stale): the caller should then send
// Encode(host, token), the same session under the current key.
func (c *CookieCodec) DecodeRotated(host string, r *http.Request) (token string, stale bool, err error) {
	h := cookieHost(host)
	if h == "" {
		return "", false, fmt.Errorf("%w: no host", ErrBadCookie)
	}
	var (
		candidates int
		current    bool // a valid value under the current key was seen
		reason     = "invalid or expired value"
	)
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, value := splitCookie(part)
			if name != c.name {
				continue
			}
			candidates++
			if candidates > maxCookieCandidates {
				return "", false, fmt.Errorf("%w: more than %d cookies named %s", ErrBadCookie, maxCookieCandidates, c.name)
			}
			t, old, err := c.decodeValue(h, value)
			if err != nil {
				reason = err.Error()
				continue
			}
			if token != "" && t != token {
				return "", false, fmt.Errorf("%w: several valid cookies naming different sessions", ErrBadCookie)
			}
			token = t
			current = current || !old
		}
	}
	switch {
	case candidates == 0:
		return "", false, ErrNoCookie
	case token == "":
		return "", false, fmt.Errorf("%w: %s", ErrBadCookie, reason)
	}
	return token, !current, nil
}

// Clear returns a cookie that deletes this host's session cookie (logout,
// ASVS V7.4.1): same name, path and attributes, Max-Age=0 and an Expires
// in the past.
func (c *CookieCodec) Clear(host string) *http.Cookie {
	opts := c.opts
	opts.MaxAge = -1
	return sessions.NewCookie(c.name, "", &opts)
}

// decodeValue checks one cookie value and returns its token. Each check
// comes before the costlier one after it: length, then alphabet (NUL,
// control bytes, invalid UTF-8 all fail it), then HMAC and age, then the
// token's own shape.
// A value that verifies only under a previous key (old) is not remembered:
// it is re-issued at once, and the few requests before that pay the MAC.
func (c *CookieCodec) decodeValue(host, value string) (token string, old bool, err error) {
	switch {
	case value == "":
		return "", false, errors.New("empty value")
	case len(value) > maxCookieValue:
		return "", false, fmt.Errorf("value of %d bytes is over the %d-byte limit", len(value), maxCookieValue)
	case !isBase64URL(value):
		return "", false, errors.New("value is not base64url")
	}
	key := host + "\x00" + value
	if c.cacheFor > 0 {
		if v, ok := c.decoded.Load(key); ok {
			if e := v.(decodedCookie); time.Now().Before(e.until) {
				return e.token, false, nil
			}
		}
	}
	var b []byte
	name := c.macName(host)
	if err := c.sc.Decode(name, value, &b); err != nil {
		verified := false
		for _, prev := range c.previous {
			if prev.Decode(name, value, &b) == nil {
				verified, old = true, true
				break
			}
		}
		if !verified {
			return "", false, errors.New("bad signature, another host's cookie, or expired")
		}
	}
	t := string(b)
	if !validToken(t) {
		return "", false, errors.New("signed value is not a session token")
	}
	if c.cacheFor > 0 && !old {
		c.remember(key, t)
	}
	return t, old, nil
}

// decodedCookie is a cookie value already verified: the same bytes always
// verify to the same token, so the MAC and decryption (a few microseconds
// on every proxied request) are done once per value and minute. Only
// successes are kept; the session itself is still looked up every time.
type decodedCookie struct {
	token string
	until time.Time
}

const (
	decodedCookieTTL = time.Minute
	maxDecodedCookie = 50_000
)

func (c *CookieCodec) remember(key, token string) {
	if c.decodedN.Add(1) > maxDecodedCookie {
		// Bounded memory: start over rather than track ages.
		c.decoded.Clear()
		c.decodedN.Store(1)
	}
	c.decoded.Store(key, decodedCookie{token: token, until: time.Now().Add(c.cacheFor)})
}

// macName is the name the signature covers: the cookie name and the host.
// The cookie name never varies per codec, so "name|host" is unambiguous.
func (c *CookieCodec) macName(host string) string { return c.name + "|" + host }

// StripCookie removes every cookie named name from the request's Cookie
// header(s), so the gateway's session cookie never reaches an upstream
// (DESIGN.md request path, step 4). Pairs are split and names trimmed as
// net/http parses them, so what Decode would read as our cookie is exactly
// what is removed; every other pair is kept byte for byte, in order, with
// its separator (only the whitespace at the ends of an edited line is
// trimmed).
//
// Multiple Cookie header lines are edited one by one and never merged; a
// line left with no pair is removed, and the header with it when no line is
// left. (Go's HTTP/2 server already joins cookie crumbs into one line,
// RFC 9113 §8.2.3.) Header keys that are not in canonical form ("cookie")
// are treated the same, since the transport would send them as they are.
func StripCookie(r *http.Request, name string) {
	if name == "" {
		return
	}
	for key, lines := range r.Header {
		if key != "Cookie" && !strings.EqualFold(key, "Cookie") {
			continue
		}
		var out []string
		changed := false
		for i, line := range lines {
			kept, did := stripLine(line, name)
			if did && !changed {
				changed = true
				out = append(make([]string, 0, len(lines)), lines[:i]...)
			}
			if !changed {
				continue
			}
			if did && kept == "" {
				continue
			}
			out = append(out, kept)
		}
		switch {
		case !changed:
		case len(out) == 0:
			delete(r.Header, key)
		default:
			r.Header[key] = out
		}
	}
}

// stripLine removes the pairs named name from one Cookie line. It reports
// whether it removed any; if not, the line is returned untouched.
func stripLine(line, name string) (string, bool) {
	if !strings.Contains(line, name) {
		return line, false
	}
	var b strings.Builder
	removed, first := false, true
	rest := line
	for {
		part, more, found := strings.Cut(rest, ";")
		if n, _ := splitCookie(part); n == name {
			removed = true
		} else {
			if !first {
				b.WriteByte(';')
			}
			b.WriteString(part)
			first = false
		}
		if !found {
			break
		}
		rest = more
	}
	if !removed {
		return line, false
	}
	return textproto.TrimString(b.String()), true
}

// splitCookie splits one "name=value" pair and trims both, as net/http's
// cookie parser does.
func splitCookie(part string) (name, value string) {
	name, value, _ = strings.Cut(part, "=")
	return textproto.TrimString(name), textproto.TrimString(value)
}

// cookieHost is the host a cookie is bound to: the Host header without its
// port, lower-cased. Browsers scope host-only cookies to the host alone, so
// the port is no part of the binding. "" for an empty host.
func cookieHost(host string) string {
	switch {
	case strings.HasPrefix(host, "["): // [v6]:port or [v6]
		if i := strings.IndexByte(host, ']'); i > 0 {
			host = host[1:i]
		}
	case strings.Count(host, ":") == 1:
		host = host[:strings.IndexByte(host, ':')]
	}
	return strings.ToLower(host)
}

// isBase64URL reports whether v uses only the alphabet securecookie writes
// (base64url with '=' padding).
func isBase64URL(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '=') {
			return false
		}
	}
	return true
}

// isCookieName reports whether n is an RFC 6265 cookie-name (an RFC 9110 token).
func isCookieName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
