package upstreams

import (
	"net/http"
	"strings"
	"unicode/utf8"
)

// pathError is one reason for ErrBadPath. The reasons are package variables so
// that refusing hostile input allocates nothing.
type pathError struct{ reason string }

func (e *pathError) Error() string { return ErrBadPath.Error() + ": " + e.reason }
func (e *pathError) Unwrap() error { return ErrBadPath }

var (
	errNotAbsolute   = &pathError{`does not start with "/"`}
	errControl       = &pathError{"control character (raw or percent-encoded)"}
	errBadEscape     = &pathError{"invalid percent-escape"}
	errBadUTF8       = &pathError{"invalid UTF-8 after percent-decoding"}
	errBackslash     = &pathError{`backslash (raw or %5C)`}
	errEncodedSlash  = &pathError{"encoded slash %2F"}
	errFragment      = &pathError{`raw "#"`}
	errQuery         = &pathError{`raw "?" (the query is not part of the path)`}
	errDotWithParams = &pathError{`dot segment with ";" parameters (e.g. "..;")`}
)

// Byte classes for CanonicalPath.
const (
	clsKeep       = iota // sub-delims, ":" and "@": legal raw in a path segment
	clsEncode            // printable but not legal raw (space, `"<>[]^{|}` and "`", bytes >= 0x80): percent-encoded
	clsReject            // never acceptable: controls, "\", "#", "?"
	clsPercent           // "%"
	clsSlash             // "/"
	clsUnreserved        // ALPHA DIGIT "-" "." "_" "~": legal raw, and decoded when percent-encoded
)

var pathClass = func() (t [256]uint8) {
	for i := range t {
		t[i] = clsEncode
	}
	for c := 0; c < 0x20; c++ {
		t[c] = clsReject
	}
	t[0x7f] = clsReject
	for _, c := range []byte(`\#?`) {
		t[c] = clsReject
	}
	for _, c := range []byte("!$&'()*+,;=:@") {
		t[c] = clsKeep
	}
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~") {
		t[c] = clsUnreserved
	}
	t['%'] = clsPercent
	t['/'] = clsSlash
	return t
}()

const upperHex = "0123456789ABCDEF"

// CanonicalPath returns the one canonical spelling of an escaped request path
// (r.URL.EscapedPath() or the path of the raw request target), or an error
// wrapping ErrBadPath.
//
// Why: every decision the gateway takes on a path (public or not, which
// console mount) and the path the upstream receives must be the same string,
// decoded exactly once (ASVS V1.1.1; SECURITY family 3, public-path bypass).
// The gateway redirects to the canonical form or refuses; it never proxies
// another spelling.
//
// Refused, because some upstream would read them differently from us:
//   - control characters raw or encoded (%00-%1F, %7F), invalid escapes, and
//     bytes that do not decode to valid UTF-8 (overlong "%C0%AE" is a dot to
//     some decoders);
//   - "\" and %5C (a slash on Windows and to some frameworks), %2F (a slash to
//     upstreams that decode before routing);
//   - raw "#" and "?" (a fragment or a query smuggled inside the path);
//   - any segment whose part before ";" (or "%3B") is "." or ".." in any
//     spelling ("..;", ".;x", "%2e%2e;"): Tomcat-like servers drop ";params"
//     and then resolve the dot segment, so "/public/..;/admin" would reach
//     "/admin" upstream while looking public here.
//
// Normalised (RFC 3986 §6.2.2): escapes of unreserved characters are decoded
// (§6.2.2.2), the hex of the other escapes is upper-cased (§6.2.2.1, only the
// two digits of the triplet: "%252e" stays "%252e", since "e" there is a
// literal character), characters that may not appear raw are percent-encoded,
// runs of "/" collapse to one, dot segments are removed (§5.2.4; ".." above
// the root stays at "/"), and a trailing slash is kept. The result is a fixed
// point: CanonicalPath(CanonicalPath(x)) == CanonicalPath(x).
//
// An already canonical path is returned as is, without allocating.
func CanonicalPath(escaped string) (string, error) {
	if escaped == "" || escaped[0] != '/' {
		return "", errNotAbsolute
	}
	norm, err := normalizeEscapes(escaped)
	if err != nil {
		return "", err
	}
	return normalizeSegments(norm)
}

// normalizeEscapes validates every byte and rewrites escapes and raw
// characters to their normal form. It returns s itself when nothing changes,
// and allocates once otherwise.
func normalizeEscapes(s string) (string, error) {
	var (
		out lazyCopy // untouched until the first byte that changes
		u   utf8Check
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch pathClass[c] {
		case clsUnreserved, clsKeep, clsSlash:
			if u.pending() {
				return "", errBadUTF8
			}
			out.byte(c)
		case clsReject:
			switch c {
			case '\\':
				return "", errBackslash
			case '#':
				return "", errFragment
			case '?':
				return "", errQuery
			}
			return "", errControl
		case clsEncode:
			if c >= utf8.RuneSelf {
				if !u.add(c) {
					return "", errBadUTF8
				}
			} else if u.pending() {
				return "", errBadUTF8
			}
			out.start(s, i)
			out.escape(c)
		case clsPercent:
			if i+2 >= len(s) {
				return "", errBadEscape
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", errBadEscape
			}
			v := hi<<4 | lo
			switch {
			case v < 0x20 || v == 0x7f:
				return "", errControl
			case v == '/':
				return "", errEncodedSlash
			case v == '\\':
				return "", errBackslash
			case v >= utf8.RuneSelf:
				if !u.add(v) {
					return "", errBadUTF8
				}
			case u.pending():
				return "", errBadUTF8
			}
			switch {
			case pathClass[v] == clsUnreserved:
				out.start(s, i)
				out.byte(v)
			case s[i+1] != upperHex[hi] || s[i+2] != upperHex[lo]:
				out.start(s, i)
				out.escape(v)
			default:
				out.escape(v)
			}
			i += 2
		}
	}
	if u.pending() {
		return "", errBadUTF8
	}
	if !out.on {
		return s, nil
	}
	return out.b.String(), nil
}

// lazyCopy builds a changed copy of a string only from the first change on.
type lazyCopy struct {
	b  strings.Builder
	on bool
}

// start begins the copy with s[:i], once.
func (l *lazyCopy) start(s string, i int) {
	if !l.on {
		l.on = true
		l.b.Grow(len(s) + 16)
		l.b.WriteString(s[:i])
	}
}

func (l *lazyCopy) byte(c byte) {
	if l.on {
		l.b.WriteByte(c)
	}
}

// escape writes c as an upper-case percent-escape.
func (l *lazyCopy) escape(c byte) {
	if l.on {
		l.b.WriteByte('%')
		l.b.WriteByte(upperHex[c>>4])
		l.b.WriteByte(upperHex[c&0xf])
	}
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// utf8Check validates, byte by byte, the UTF-8 sequences formed by the
// decoded path, whether their bytes came raw or percent-encoded.
type utf8Check struct {
	buf [utf8.UTFMax]byte
	n   int
}

func (u *utf8Check) pending() bool { return u.n > 0 }

// add feeds one byte >= 0x80 and reports whether the sequence so far can
// still be (or is) valid.
func (u *utf8Check) add(c byte) bool {
	u.buf[u.n] = c
	u.n++
	if !utf8.FullRune(u.buf[:u.n]) {
		return true
	}
	r, size := utf8.DecodeRune(u.buf[:u.n])
	valid := size == u.n && !(r == utf8.RuneError && size == 1)
	u.n = 0
	return valid
}

// normalizeSegments collapses empty segments and removes dot segments on a
// path whose escapes are already normal (so "." is always a raw dot). It
// returns p itself when nothing changes.
func normalizeSegments(p string) (string, error) {
	// First pass: does anything need to change? It also refuses dot
	// segments with parameters before any allocation.
	change := false
	for i := 1; i <= len(p); {
		end := segmentEnd(p, i)
		seg := p[i:end]
		switch segmentKind(seg) {
		case segBad:
			return "", errDotWithParams
		case segDot, segDotDot:
			change = true
		case segEmpty:
			// A trailing empty segment is the trailing slash; any other
			// is a "//" run.
			if end < len(p) {
				change = true
			}
		}
		i = end + 1
	}
	if !change {
		return p, nil
	}

	out := make([]byte, 0, len(p))
	trailing := false
	for i := 1; i <= len(p); {
		end := segmentEnd(p, i)
		seg := p[i:end]
		last := end == len(p)
		switch segmentKind(seg) {
		case segEmpty, segDot:
			trailing = last
		case segDotDot:
			// RFC 3986 §5.2.4 step 2C: drop the last output segment;
			// above the root there is nothing to drop.
			if j := lastSlash(out); j >= 0 {
				out = out[:j]
			}
			trailing = last
		default:
			out = append(out, '/')
			out = append(out, seg...)
		}
		i = end + 1
	}
	if len(out) == 0 {
		return "/", nil
	}
	if trailing {
		out = append(out, '/')
	}
	return string(out), nil
}

// readableAsAnother reports whether a canonical path holds a spelling that an
// upstream may read as another path than the gateway does (issue 16, finding
// 12): a "%25" (an upstream that decodes once more sees the escape it
// encodes, so "/api/%252e%252e/admin" is "/api/../admin" to it), or a
// segment whose part before ";" parameters is made only of dots and spaces
// ("...", "..%20", ". .": Windows and IIS drop trailing dots and spaces from
// a name, and then read ".."). CanonicalPath keeps these, which are names
// to RFC 3986 and may be a console's own; under a public prefix, where no
// session is asked, they are not public (PublicPaths.Match): a path-based
// rule of the upstream's could otherwise be passed without signing in
// (SECURITY family 3).
func readableAsAnother(canonical string) bool {
	if strings.Contains(canonical, "%25") {
		return true
	}
	for i := 1; i <= len(canonical); {
		end := segmentEnd(canonical, i)
		if onlyDotsAndSpaces(canonical[i:end]) {
			return true
		}
		i = end + 1
	}
	return false
}

// onlyDotsAndSpaces reports whether seg's part before its ";" parameters is
// made of "." and "%20" alone (a canonical path spells a space "%20"), and
// holds at least one of them.
func onlyDotsAndSpaces(seg string) bool {
	if j := strings.IndexByte(seg, ';'); j >= 0 {
		seg = seg[:j]
	}
	if j := strings.Index(seg, "%3B"); j >= 0 {
		seg = seg[:j]
	}
	if seg == "" {
		return false
	}
	for seg != "" {
		switch {
		case seg[0] == '.':
			seg = seg[1:]
		case strings.HasPrefix(seg, "%20"):
			seg = seg[3:]
		default:
			return false
		}
	}
	return true
}

// RequestPath returns the path of r's request target exactly as the client
// sent it, still escaped: the input CanonicalPath should get. It is preferred
// over r.URL.EscapedPath(), which is a re-encoding of the decoded path
// whenever the raw one holds a character net/url would escape ("|", "{"),
// and that re-encoding has already turned "%2F" into "/" and "%2e" into ".".
// The canonical form is safe either way (it is what is checked and
// forwarded), but from the raw target a "%2F" is refused as it should be.
// The query is cut off; an origin-form, absolute-form (RFC 9112 §3.2.2) or
// asterisk-form target is read as such, and a request built in a test
// (empty RequestURI) falls back to r.URL.EscapedPath().
func RequestPath(r *http.Request) string {
	uri := r.RequestURI
	if uri == "" {
		return r.URL.EscapedPath()
	}
	if uri[0] != '/' {
		i := strings.Index(uri, "://")
		if i < 0 {
			return uri // "*" or garbage: CanonicalPath refuses it
		}
		rest := uri[i+3:]
		j := strings.IndexAny(rest, "/?")
		if j < 0 || rest[j] == '?' {
			return "/"
		}
		uri = rest[j:]
	}
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	return uri
}

func segmentEnd(p string, i int) int {
	if j := strings.IndexByte(p[i:], '/'); j >= 0 {
		return i + j
	}
	return len(p)
}

func lastSlash(b []byte) int {
	for j := len(b) - 1; j >= 0; j-- {
		if b[j] == '/' {
			return j
		}
	}
	return -1
}

const (
	segName = iota
	segEmpty
	segDot
	segDotDot
	segBad // "." or ".." followed by ";" parameters
)

// segmentKind classifies one segment of a path with normal escapes. The part
// before the first ";" or "%3B" is what a parameter-stripping server resolves
// (Tomcat reads "..;x" as ".."), so a dot core with parameters is refused
// rather than guessed at. "%3B" is included because some servers decode
// before they strip parameters.
func segmentKind(seg string) int {
	if seg == "" {
		return segEmpty
	}
	if seg[0] != '.' {
		return segName // escapes are normal: a dot core starts with a raw "."
	}
	core := seg
	if j := strings.IndexByte(core, ';'); j >= 0 {
		core = core[:j]
	}
	if j := strings.Index(core, "%3B"); j >= 0 {
		core = core[:j]
	}
	if core != "." && core != ".." {
		return segName
	}
	if len(core) != len(seg) {
		return segBad
	}
	if core == "." {
		return segDot
	}
	return segDotDot
}
