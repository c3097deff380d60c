package upstreams

import (
	"bufio"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

type pathCase struct {
	in, want string // want "ERROR": refused with ErrBadPath
}

// rawPathCases hold the inputs that a text file cannot: raw control bytes and
// raw invalid UTF-8.
var rawPathCases = []pathCase{
	{"/api\x00/", "ERROR"},
	{"/api/\x00", "ERROR"},
	{"/api/x\r\nSet-Cookie: a=b", "ERROR"},
	{"/api/\n", "ERROR"},
	{"/api/\r", "ERROR"},
	{"/api/\t", "ERROR"},
	{"/api/\x1f", "ERROR"},
	{"/api/\x7f", "ERROR"},
	{"/api/\x01..", "ERROR"},
	{"/api/\xff", "ERROR"},
	{"/api/\xc0\xae\xc0\xae/admin", "ERROR"},
	{"/api/\xc3", "ERROR"},
	{"/api/\xc3/", "ERROR"},
	{"/api/\xed\xa0\x80", "ERROR"},
	{"/api/\x80", "ERROR"},
	{"/api/\xc3%a9", "/api/%C3%A9"}, // raw lead byte, encoded continuation
	{"/api/%c3\xa9", "/api/%C3%A9"}, // encoded lead byte, raw continuation
	{"/api/%c3\xa9x", "/api/%C3%A9x"},
	{"/api/\xe2\x82\xac/", "/api/%E2%82%AC/"},
	{"", "ERROR"},
}

func readPathCases(tb testing.TB) []pathCase {
	tb.Helper()
	f, err := os.Open("testdata/paths.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var cases []pathCase
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" || line == "#" || strings.HasPrefix(line, "# ") {
			continue
		}
		in, want, ok := strings.Cut(line, "\t")
		if !ok || strings.Contains(want, "\t") {
			tb.Fatalf("testdata/paths.txt:%d: want input<TAB>expected, got %q", n, line)
		}
		cases = append(cases, pathCase{in, want})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(cases) < 150 {
		tb.Fatalf("testdata/paths.txt: only %d cases", len(cases))
	}
	return cases
}

func allPathCases(tb testing.TB) []pathCase {
	return append(readPathCases(tb), rawPathCases...)
}

func TestCanonicalPath(t *testing.T) {
	for _, tc := range allPathCases(t) {
		t.Run(tc.in, func(t *testing.T) {
			got, err := CanonicalPath(tc.in)
			if tc.want == "ERROR" {
				if err == nil {
					t.Fatalf("CanonicalPath(%q) = %q, want ErrBadPath", tc.in, got)
				}
				if !errors.Is(err, ErrBadPath) {
					t.Fatalf("CanonicalPath(%q) error %v, want one wrapping ErrBadPath", tc.in, err)
				}
				if got != "" {
					t.Fatalf("CanonicalPath(%q) = %q with error, want \"\"", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("CanonicalPath(%q) error %v, want %q", tc.in, err, tc.want)
			}
			if got != tc.want {
				t.Fatalf("CanonicalPath(%q) = %q, want %q", tc.in, got, tc.want)
			}
			checkCanonicalInvariants(t, tc.in, got)
			checkSameAsPathClean(t, tc.in, got)
		})
	}
}

// TestCanonicalPathErrorReasons checks that the reason names the problem.
func TestCanonicalPathErrorReasons(t *testing.T) {
	tests := []struct{ in, reason string }{
		{"api", "start"},
		{"/a%00", "control"},
		{"/a\n", "control"},
		{"/a%zz", "percent-escape"},
		{"/a%c3", "UTF-8"},
		{"/a\\b", "backslash"},
		{"/a%5cb", "backslash"},
		{"/a%2fb", "%2F"},
		{"/a#b", "#"},
		{"/a?b", "?"},
		{"/a/..;/b", "dot segment"},
	}
	for _, tc := range tests {
		_, err := CanonicalPath(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("CanonicalPath(%q) error %v, want it to mention %q", tc.in, err, tc.reason)
		}
	}
}

// TestCanonicalPathNoAllocWhenCanonical: the hot path (an already canonical
// path) must not allocate.
func TestCanonicalPathNoAllocWhenCanonical(t *testing.T) {
	for _, p := range []string{"/", "/api/v1/servers/123", "/api/x;jsessionid=1", "/a/%C3%A9/b/"} {
		allocs := testing.AllocsPerRun(100, func() {
			if got, err := CanonicalPath(p); err != nil || got != p {
				t.Fatalf("CanonicalPath(%q) = %q, %v", p, got, err)
			}
		})
		if allocs != 0 {
			t.Errorf("CanonicalPath(%q): %v allocs, want 0", p, allocs)
		}
	}
	allocs := testing.AllocsPerRun(100, func() { _, _ = CanonicalPath("/api/..;/x") })
	if allocs != 0 {
		t.Errorf("refusing a path: %v allocs, want 0", allocs)
	}
}

// TestCanonicalPathFromNetURL runs the cases through net/url the way the
// gateway gets them (r.URL.EscapedPath()) and checks that whatever Go's
// parser does first, the result obeys the same invariants.
func TestCanonicalPathFromNetURL(t *testing.T) {
	for _, tc := range allPathCases(t) {
		u, err := url.ParseRequestURI(tc.in)
		if err != nil {
			continue
		}
		got, err := CanonicalPath(u.EscapedPath())
		if err != nil {
			continue
		}
		checkCanonicalInvariants(t, tc.in, got)
	}
}

// checkCanonicalInvariants are the properties every accepted output has.
func checkCanonicalInvariants(tb testing.TB, in, got string) {
	tb.Helper()
	if !strings.HasPrefix(got, "/") {
		tb.Fatalf("CanonicalPath(%q) = %q: does not start with /", in, got)
	}
	for _, bad := range []string{"/../", "/./", "//", "%2F", "%5C", "\\", "\x00", "#", "?"} {
		if strings.Contains(got, bad) {
			tb.Fatalf("CanonicalPath(%q) = %q: contains %q", in, got, bad)
		}
	}
	if strings.HasSuffix(got, "/..") || strings.HasSuffix(got, "/.") {
		tb.Fatalf("CanonicalPath(%q) = %q: ends in a dot segment", in, got)
	}
	for i := 0; i < len(got); i++ {
		if c := got[i]; c < 0x21 || c >= 0x7f {
			tb.Fatalf("CanonicalPath(%q) = %q: raw byte %#x", in, got, c)
		}
	}
	again, err := CanonicalPath(got)
	if err != nil || again != got {
		tb.Fatalf("not idempotent: CanonicalPath(%q) = %q, then %q, %v", in, got, again, err)
	}
	dec, err := url.PathUnescape(got)
	if err != nil {
		tb.Fatalf("CanonicalPath(%q) = %q: does not unescape: %v", in, got, err)
	}
	if !utf8.ValidString(dec) {
		tb.Fatalf("CanonicalPath(%q) = %q: decodes to invalid UTF-8", in, got)
	}
	// After one decoding, no segment is a dot segment, with or without
	// ";params": what any upstream resolves is what we matched.
	for _, seg := range strings.Split(dec, "/") {
		core, _, _ := strings.Cut(seg, ";")
		if core == "." || core == ".." {
			tb.Fatalf("CanonicalPath(%q) = %q: decoded segment %q", in, got, seg)
		}
	}
}

func FuzzCanonicalPath(f *testing.F) {
	for _, tc := range allPathCases(f) {
		f.Add(tc.in)
	}
	for _, tc := range readPublicCases(f) {
		f.Add(tc.in)
	}
	pp := testPublicPaths(f)
	f.Fuzz(func(t *testing.T, in string) {
		got, err := CanonicalPath(in)
		if err != nil {
			if !errors.Is(err, ErrBadPath) || got != "" {
				t.Fatalf("CanonicalPath(%q) = %q, %v", in, got, err)
			}
			return
		}
		checkCanonicalInvariants(t, in, got)
		checkSameAsPathClean(t, in, got)
		if pp.Match(got) {
			checkPublicStaysPublic(t, in, got)
		}
	})
}

// checkSameAsPathClean is a differential oracle: decoded once, the input and
// the canonical path name the same resource for path.Clean (which also
// collapses "//" and resolves dot segments), and the canonical one is
// already clean (but for its trailing slash).
func checkSameAsPathClean(tb testing.TB, in, got string) {
	tb.Helper()
	din, err := url.PathUnescape(in)
	if err != nil {
		// Only raw characters that url.PathUnescape refuses can get here.
		return
	}
	dout, _ := url.PathUnescape(got)
	if path.Clean(din) != path.Clean(dout) {
		tb.Fatalf("CanonicalPath(%q) = %q: path.Clean %q vs %q", in, got, path.Clean(din), path.Clean(dout))
	}
	if c := path.Clean(dout); c != strings.TrimSuffix(dout, "/") && c != dout {
		tb.Fatalf("CanonicalPath(%q) = %q: decoded %q is not clean (%q)", in, got, dout, c)
	}
}

func TestPublicPaths(t *testing.T) {
	pp, err := NewPublicPaths([]string{"/api/", "/static", "/health", "/v1/public/"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want bool
	}{
		{"/api/", true},
		{"/api/x", true},
		{"/api/x/y/", true},
		{"/api", false}, // "/api/" matches below it only
		{"/apix", false},
		{"/api;/x", false},
		{"/API/x", false}, // case-sensitive: the safe direction
		{"/static", true},
		{"/static/", true},
		{"/static/app.js", true},
		{"/staticx", false},
		{"/static;x", false},
		{"/static.js", false},
		{"/health", true},
		{"/healthz", false},
		{"/v1/public/a", true},
		{"/v1/public", false},
		{"/v1/private", false},
		{"/", false},
		{"/admin", false},
		{"/private", false}, // "/private?/api/" has path "/private"
		{"/x/api/", false},
	}
	for _, tc := range tests {
		if got := pp.Match(tc.path); got != tc.want {
			t.Errorf("Match(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
	if got := pp.Prefixes(); len(got) != 4 || got[0] != "/api/" {
		t.Errorf("Prefixes() = %q", got)
	}
	var zero PublicPaths
	if zero.Match("/api/") {
		t.Error("zero PublicPaths matches /api/")
	}
}

// TestPublicPathsBypass runs every path case through the whole chain the
// gateway uses (canonicalise, then match): no spelling of a non-public path
// is ever public.
func TestPublicPathsBypass(t *testing.T) {
	pp, err := NewPublicPaths([]string{"/api/", "/public"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range allPathCases(t) {
		got, err := CanonicalPath(tc.in)
		if err != nil {
			continue
		}
		dec, _ := url.PathUnescape(got)
		public := pp.Match(got)
		under := strings.HasPrefix(dec, "/api/") || dec == "/public" || strings.HasPrefix(dec, "/public/")
		if public && !under {
			t.Errorf("%q → %q is public but decodes to %q", tc.in, got, dec)
		}
	}
	for _, in := range []string{"/api/../admin", "/api/%2e%2e/admin", "/api/.%2e/admin", "//api/../admin", "/public/../admin", "/public/%2E%2E/admin"} {
		got, err := CanonicalPath(in)
		if err != nil || pp.Match(got) {
			t.Errorf("%q → %q, %v: want a non-public canonical path", in, got, err)
		}
	}
}

func TestNewPublicPathsRejects(t *testing.T) {
	for _, bad := range [][]string{
		{""},
		{"api/"},
		{"/api/../x"},
		{"//api/"},
		{"/%61pi/"},
		{"/api/%2f"},
		{"/api/..;/"},
		{"/api/", "/x/./"},
	} {
		if _, err := NewPublicPaths(bad); err == nil {
			t.Errorf("NewPublicPaths(%q) accepted", bad)
		}
	}
}

var sinkString string

func BenchmarkCanonicalPath(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"canonical", "/api/v1/servers/1234/interfaces"},
		{"escapes", "/api/v1/%7euser/%c3%a9t%c3%a9/x"},
		{"dots", "/api/v1/../v2/./servers//1234/"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s, err := CanonicalPath(bc.in)
				if err != nil {
					b.Fatal(err)
				}
				sinkString = s
			}
		})
	}
}

func TestRequestPath(t *testing.T) {
	tests := []struct {
		name, requestURI, url, want string
	}{
		{"origin form", "/api/x?q=1", "", "/api/x"},
		{"keeps encoded slash", "/api%2F..%2Fadmin|x?q", "", "/api%2F..%2Fadmin|x"},
		{"no query", "/a/b", "", "/a/b"},
		{"empty query", "/a?", "", "/a"},
		{"query with slash", "/private?/api/", "", "/private"},
		{"absolute form", "http://console.test/api/x?q=1", "", "/api/x"},
		{"absolute form, no path", "http://console.test", "", "/"},
		{"absolute form, query only", "http://console.test?x=/api/", "", "/"},
		{"absolute form, https", "https://console.test:8443/a%2fb", "", "/a%2fb"},
		{"asterisk", "*", "", "*"},
		{"authority form", "console.test:443", "", "console.test:443"},
		{"test request", "", "http://h/a%2Fb/c?d", "/a%2Fb/c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RequestURI: tc.requestURI, URL: &url.URL{Path: "/"}}
			if tc.url != "" {
				r.URL, _ = url.Parse(tc.url)
			}
			if got := RequestPath(r); got != tc.want {
				t.Errorf("RequestPath = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRequestPathVersusEscapedPath shows why RequestPath exists: with a
// character net/url re-escapes, EscapedPath has lost the %2F, RequestPath
// keeps it (and CanonicalPath refuses it).
func TestRequestPathVersusEscapedPath(t *testing.T) {
	var fromRaw, fromURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fromRaw, fromURL = RequestPath(r), r.URL.EscapedPath()
	}))
	defer srv.Close()
	rawRequest(t, srv.Listener.Addr().String(), "GET /api%2F..%2Fadmin|x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	if fromRaw != "/api%2F..%2Fadmin|x" {
		t.Errorf("RequestPath = %q", fromRaw)
	}
	if _, err := CanonicalPath(fromRaw); !errors.Is(err, ErrBadPath) {
		t.Errorf("CanonicalPath(%q) accepted", fromRaw)
	}
	if got, err := CanonicalPath(fromURL); err != nil || got != "/admin%7Cx" {
		// Still safe: the canonical form is what is checked and forwarded.
		t.Errorf("CanonicalPath(EscapedPath %q) = %q, %v", fromURL, got, err)
	}
}

// publicCase is a line of testdata/public_paths.txt.
type publicCase struct{ in, want string }

func readPublicCases(tb testing.TB) []publicCase {
	tb.Helper()
	b, err := os.ReadFile("testdata/public_paths.txt")
	if err != nil {
		tb.Fatal(err)
	}
	var cases []publicCase
	for n, line := range strings.Split(string(b), "\n") {
		if line == "" || line == "#" || strings.HasPrefix(line, "# ") {
			continue
		}
		in, want, ok := strings.Cut(line, "\t")
		if !ok || (want != "public" && want != "private" && want != "ERROR") {
			tb.Fatalf("testdata/public_paths.txt:%d: want input<TAB>public|private|ERROR, got %q", n+1, line)
		}
		cases = append(cases, publicCase{in, want})
	}
	return cases
}

func testPublicPaths(tb testing.TB) PublicPaths {
	tb.Helper()
	pp, err := NewPublicPaths([]string{"/api/", "/public"})
	if err != nil {
		tb.Fatal(err)
	}
	return pp
}

// TestPublicPathsReadableAsAnother (issue 16, finding 12): under a public
// prefix, the spellings an upstream may decode again or trim ("%25", a
// segment of dots and spaces) are not public; the attack strings are in
// testdata/public_paths.txt.
func TestPublicPathsReadableAsAnother(t *testing.T) {
	pp := testPublicPaths(t)
	for _, tc := range readPublicCases(t) {
		got, err := CanonicalPath(tc.in)
		verdict := "ERROR"
		if err == nil {
			verdict = "private"
			if pp.Match(got) {
				verdict = "public"
			}
		}
		if verdict != tc.want {
			t.Errorf("%q → %q, %v: %s, want %s", tc.in, got, err, verdict, tc.want)
		}
		if err == nil && verdict == "public" {
			checkPublicStaysPublic(t, tc.in, got)
		}
	}
}

// checkPublicStaysPublic: a public canonical path is under a public prefix
// still for an upstream that decodes it again, any number of times, and
// drops the trailing dots and spaces of each segment before it resolves
// the dot segments.
func checkPublicStaysPublic(tb testing.TB, in, canonical string) {
	tb.Helper()
	p := canonical
	for range 8 {
		dec, err := url.PathUnescape(p)
		if err != nil || dec == p {
			break
		}
		p = dec
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		core, params, hasParams := strings.Cut(seg, ";")
		trimmed := strings.TrimRight(core, ". ")
		if trimmed == "" && core != "" {
			trimmed = ".." // all dots and spaces: at worst the parent
		}
		if hasParams {
			trimmed += ";" + params
		}
		segs[i] = trimmed
	}
	read := path.Clean(strings.Join(segs, "/"))
	if read != "/public" && !strings.HasPrefix(read+"/", "/api/") && !strings.HasPrefix(read, "/public/") {
		tb.Fatalf("CanonicalPath(%q) = %q is public, but an upstream may read it as %q", in, canonical, read)
	}
}
