package session

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testHost = "console.example.test"

var testSessionKey = bytes.Repeat([]byte("k"), 64)

func mustCodec(tb testing.TB, cfg CookieConfig) *CookieCodec {
	tb.Helper()
	if cfg.HashKey == nil {
		cfg.HashKey = testSessionKey
	}
	c, err := NewCookieCodec(cfg)
	if err != nil {
		tb.Fatalf("NewCookieCodec: %v", err)
	}
	return c
}

func mustEncode(tb testing.TB, c *CookieCodec, host, token string) string {
	tb.Helper()
	ck, err := c.Encode(host, token)
	if err != nil {
		tb.Fatalf("Encode(%q): %v", host, err)
	}
	return ck.Value
}

// requestWith is a request carrying each line as one Cookie header.
func requestWith(lines ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://"+testHost+"/", nil)
	for _, l := range lines {
		r.Header.Add("Cookie", l)
	}
	return r
}

func TestNewCookieCodec(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      CookieConfig
		wantName string
		wantErr  string
	}{
		{name: "default name", cfg: CookieConfig{}, wantName: "unigate_session"},
		{name: "secure adds __Host-", cfg: CookieConfig{Secure: true}, wantName: "__Host-unigate_session"},
		{name: "custom", cfg: CookieConfig{Name: "gw"}, wantName: "gw"},
		{name: "custom secure", cfg: CookieConfig{Name: "gw", Secure: true}, wantName: "__Host-gw"},
		{name: "short key", cfg: CookieConfig{HashKey: make([]byte, 31)}, wantErr: "at least 32"},
		{name: "space in name", cfg: CookieConfig{Name: "a b"}, wantErr: "not a valid cookie name"},
		{name: "semicolon in name", cfg: CookieConfig{Name: "a;b"}, wantErr: "not a valid cookie name"},
		{name: "equals in name", cfg: CookieConfig{Name: "a=b"}, wantErr: "not a valid cookie name"},
		{name: "NUL in name", cfg: CookieConfig{Name: "a\x00"}, wantErr: "not a valid cookie name"},
		{name: "non-ASCII name", cfg: CookieConfig{Name: "sessión"}, wantErr: "not a valid cookie name"},
		{name: "prefix given", cfg: CookieConfig{Name: "__Host-x"}, wantErr: "leave the prefix out"},
		{name: "secure prefix given", cfg: CookieConfig{Name: "__secure-x"}, wantErr: "leave the prefix out"},
		{name: "negative max age", cfg: CookieConfig{MaxAge: -time.Second}, wantErr: "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.HashKey == nil {
				tc.cfg.HashKey = testSessionKey
			}
			c, err := NewCookieCodec(tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v", err)
			}
			if c.Name() != tc.wantName {
				t.Fatalf("Name() = %q, want %q", c.Name(), tc.wantName)
			}
		})
	}
}

// TestCookieAttributes checks every attribute of the session cookie and of
// the cookie that clears it (ASVS V3.3.1–V3.3.4, SECURITY.md "Session").
func TestCookieAttributes(t *testing.T) {
	for _, secure := range []bool{true, false} {
		t.Run("secure="+strconv.FormatBool(secure), func(t *testing.T) {
			c := mustCodec(t, CookieConfig{Secure: secure, MaxAge: 12 * time.Hour})
			set, err := c.Encode(testHost, NewToken())
			if err != nil {
				t.Fatal(err)
			}
			clear := c.Clear(testHost)
			for _, tc := range []struct {
				name   string
				ck     *http.Cookie
				maxAge string
			}{
				{"set", set, "Max-Age=43200"},
				{"clear", clear, "Max-Age=0"},
			} {
				// Read the attributes back from the Set-Cookie line a browser gets.
				line := tc.ck.String()
				got, err := http.ParseSetCookie(line)
				if err != nil {
					t.Fatalf("%s: ParseSetCookie(%q): %v", tc.name, line, err)
				}
				wantName := "unigate_session"
				if secure {
					wantName = "__Host-unigate_session"
				}
				if got.Name != wantName {
					t.Errorf("%s: name %q, want %q", tc.name, got.Name, wantName)
				}
				if got.Path != "/" {
					t.Errorf("%s: Path %q, want / (required by __Host-)", tc.name, got.Path)
				}
				if got.Domain != "" || strings.Contains(strings.ToLower(line), "domain=") {
					t.Errorf("%s: has a Domain (%q): the cookie must be host-only", tc.name, line)
				}
				if !got.HttpOnly {
					t.Errorf("%s: not HttpOnly", tc.name)
				}
				if got.SameSite != http.SameSiteLaxMode {
					t.Errorf("%s: SameSite %v, want Lax", tc.name, got.SameSite)
				}
				if got.Secure != secure {
					t.Errorf("%s: Secure %v, want %v", tc.name, got.Secure, secure)
				}
				if !strings.Contains(line, tc.maxAge) {
					t.Errorf("%s: %q lacks %s", tc.name, line, tc.maxAge)
				}
				if err := tc.ck.Valid(); err != nil {
					t.Errorf("%s: Valid: %v", tc.name, err)
				}
			}
			if clear.Value != "" || !clear.Expires.Before(time.Now()) {
				t.Errorf("clear: value %q, expires %v; want empty and in the past", clear.Value, clear.Expires)
			}
			if d := time.Until(set.Expires); d < 11*time.Hour || d > 12*time.Hour {
				t.Errorf("set: Expires in %v, want 12h", d)
			}
			if len(set.Value) > 200 {
				t.Errorf("set: value is %d bytes, want a small cookie", len(set.Value))
			}
		})
	}
}

// TestCookieHostBinding: each host's cookie is its own (CONTRACT §5); the
// port and the case of the host do not matter, anything else does.
func TestCookieHostBinding(t *testing.T) {
	c := mustCodec(t, CookieConfig{Secure: true})
	for _, tc := range []struct {
		encodeHost, decodeHost string
		ok                     bool
	}{
		{testHost, testHost, true},
		{"Console.Example.TEST:443", testHost, true},
		{testHost + ":8443", testHost + ":9000", true},
		{"[::1]:8080", "[::1]", true},
		{"[::1]", "::1", true},
		{"127.0.0.1:8080", "127.0.0.1", true},
		{"a.example.test", "b.example.test", false},
		{"example.test", testHost, false},
		{testHost, "example.test", false},
		{testHost, testHost + ".", false},
		{testHost, testHost + ".evil.test", false},
		{testHost, "evil.test", false},
		{testHost, "", false},
		{"127.0.0.1", "127.0.0.2", false},
	} {
		token := NewToken()
		r := requestWith(c.Name() + "=" + mustEncode(t, c, tc.encodeHost, token))
		got, err := c.Decode(tc.decodeHost, r)
		switch {
		case tc.ok && (err != nil || got != token):
			t.Errorf("encoded for %q, decoded on %q: got %q, %v; want the token", tc.encodeHost, tc.decodeHost, got, err)
		case !tc.ok && (err == nil || got != "" || !errors.Is(err, ErrBadCookie)):
			t.Errorf("encoded for %q, decoded on %q: got %q, %v; want ErrBadCookie", tc.encodeHost, tc.decodeHost, got, err)
		}
	}
}

func TestCookieEncodeRejects(t *testing.T) {
	c := mustCodec(t, CookieConfig{})
	for _, tc := range []struct{ host, token string }{
		{"", NewToken()},
		{testHost, ""},
		{testHost, "short"},
		{testHost, NewToken() + "A"},
		{testHost, strings.Repeat("+", 43)},
		{testHost, HandleOf(NewToken())}, // a handle is not a token
	} {
		if ck, err := c.Encode(tc.host, tc.token); err == nil {
			t.Errorf("Encode(%q, %q): got cookie %v, want an error", tc.host, tc.token, ck)
		}
	}
}

// TestDecodeCookies covers everything but the attack strings: which of
// several cookies counts, keys, names and the shape of what is signed.
func TestDecodeCookies(t *testing.T) {
	c := mustCodec(t, CookieConfig{Secure: true})
	insecure := mustCodec(t, CookieConfig{})
	other := mustCodec(t, CookieConfig{Secure: true, HashKey: bytes.Repeat([]byte("o"), 32)})
	tokA, tokB := NewToken(), NewToken()
	a1, a2 := mustEncode(t, c, testHost, tokA), mustEncode(t, c, testHost, tokA)
	b := mustEncode(t, c, testHost, tokB)
	n := c.Name()
	notToken, err := c.sc.Encode(c.macName(testHost), []byte("not-a-token"))
	if err != nil {
		t.Fatal(err)
	}
	oddToken, err := c.sc.Encode(c.macName(testHost), []byte(tokA[:42]+"B")) // non-zero trailing bits
	if err != nil {
		t.Fatal(err)
	}
	garbage := n + "=garbage"

	for _, tc := range []struct {
		name    string
		lines   []string
		want    string
		wantErr error
	}{
		{"no header", nil, "", ErrNoCookie},
		{"empty header", []string{""}, "", ErrNoCookie},
		{"other cookies only", []string{"a=1; b=2"}, "", ErrNoCookie},
		{"one valid", []string{n + "=" + a1}, tokA, nil},
		{"among others", []string{"a=1; " + n + "=" + a1 + "; b=2"}, tokA, nil},
		{"garbage then valid", []string{garbage + "; " + n + "=" + a1}, tokA, nil},
		{"valid then garbage", []string{n + "=" + a1 + "; " + garbage}, tokA, nil},
		{"same token twice", []string{n + "=" + a1 + "; " + n + "=" + a2}, tokA, nil},
		{"two sessions", []string{n + "=" + a1 + "; " + n + "=" + b}, "", ErrBadCookie},
		{"two sessions on two lines", []string{n + "=" + a1, n + "=" + b}, "", ErrBadCookie},
		{"valid on second line", []string{"a=1; " + garbage, n + "=" + a1}, tokA, nil},
		{"seven bad then valid", []string{strings.Repeat(garbage+"; ", 7) + n + "=" + a1}, tokA, nil},
		{"too many", []string{strings.Repeat(garbage+"; ", 8) + n + "=" + a1}, "", ErrBadCookie},
		{"another key", []string{n + "=" + mustEncode(t, other, testHost, tokA)}, "", ErrBadCookie},
		{"insecure cookie under the secure name", []string{n + "=" + mustEncode(t, insecure, testHost, tokA)}, "", ErrBadCookie},
		{"valid value under the unprefixed name", []string{"unigate_session=" + a1}, "", ErrNoCookie},
		{"signed but not a token", []string{n + "=" + notToken}, "", ErrBadCookie},
		{"signed token with a second spelling", []string{n + "=" + oddToken}, "", ErrBadCookie},
		{"4097 bytes", []string{n + "=" + strings.Repeat("A", 4097)}, "", ErrBadCookie},
		{"quoted", []string{n + "=\"" + a1 + "\""}, "", ErrBadCookie},
		{"spaces around", []string{"  " + n + " = " + a1 + " "}, tokA, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Decode(testHost, requestWith(tc.lines...))
			if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// attackLines reads testdata/cookie-attacks.txt with its placeholders filled in for codec c.
func attackLines(tb testing.TB, c *CookieCodec) []string {
	tb.Helper()
	f, err := os.Open("testdata/cookie-attacks.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	other := mustCodec(tb, CookieConfig{Secure: strings.HasPrefix(c.Name(), hostPrefix), HashKey: bytes.Repeat([]byte("o"), 32)})
	valid := mustEncode(tb, c, testHost, NewToken())
	mid := len(valid) / 2
	flip := byte('A')
	if valid[mid] == 'A' {
		flip = 'B'
	}
	repl := strings.NewReplacer(
		"{name}", c.Name(),
		"{upper}", strings.ToUpper(c.Name()),
		"{foreign}", mustEncode(tb, c, "evil.example.test", NewToken()),
		"{otherkey}", mustEncode(tb, other, testHost, NewToken()),
		"{valid}", valid,
		"{truncated}", valid[:len(valid)-4],
		"{flipped}", valid[:mid]+string(flip)+valid[mid+1:],
		"{huge}", strings.Repeat("A", 4097),
		"{long}", strings.Repeat("A", 600),
	)
	var out []string
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := strconv.Unquote(line)
		if err != nil {
			tb.Fatalf("cookie-attacks.txt:%d: %v", ln, err)
		}
		out = append(out, repl.Replace(s))
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestDecodeAttackStrings: no attack string yields a session, and none is
// answered with anything but ErrNoCookie / ErrBadCookie.
func TestDecodeAttackStrings(t *testing.T) {
	for _, secure := range []bool{true, false} {
		c := mustCodec(t, CookieConfig{Secure: secure})
		lines := attackLines(t, c)
		if len(lines) < 50 {
			t.Fatalf("only %d attack strings", len(lines))
		}
		for i, line := range lines {
			got, err := c.Decode(testHost, requestWith(line))
			if got != "" || err == nil || !(errors.Is(err, ErrNoCookie) || errors.Is(err, ErrBadCookie)) {
				t.Errorf("secure=%v attack %d %q: got %q, %v; want no token and ErrNoCookie/ErrBadCookie", secure, i, line, got, err)
			}
			// The error never echoes the value.
			if err != nil && len(line) > 20 && strings.Contains(err.Error(), line[len(line)-20:]) {
				t.Errorf("attack %d: error %q repeats the cookie value", i, err)
			}
		}
	}
}

// TestDecodeExpired: a value older than MaxAge is refused even if the
// browser kept it (ASVS V7.3.2; securecookie counts whole seconds).
func TestDecodeExpired(t *testing.T) {
	t.Parallel()
	c := mustCodec(t, CookieConfig{MaxAge: time.Second})
	token := NewToken()
	r := requestWith(c.Name() + "=" + mustEncode(t, c, testHost, token))
	if got, err := c.Decode(testHost, r); err != nil || got != token {
		t.Fatalf("fresh cookie: got %q, %v", got, err)
	}
	time.Sleep(2100 * time.Millisecond)
	if got, err := c.Decode(testHost, r); !errors.Is(err, ErrBadCookie) {
		t.Fatalf("cookie older than MaxAge: got %q, %v; want ErrBadCookie", got, err)
	}
}

func TestStripCookie(t *testing.T) {
	const n = "__Host-unigate_session"
	for _, tc := range []struct {
		name  string
		key   string // header key, "Cookie" if empty
		lines []string
		want  []string // nil: header removed
	}{
		{name: "middle", lines: []string{"a=1; " + n + "=x; b=2"}, want: []string{"a=1; b=2"}},
		{name: "first", lines: []string{n + "=x; a=1; b=2"}, want: []string{"a=1; b=2"}},
		{name: "last", lines: []string{"a=1; b=2; " + n + "=x"}, want: []string{"a=1; b=2"}},
		{name: "only", lines: []string{n + "=x"}, want: nil},
		{name: "only, no value", lines: []string{n}, want: nil},
		{name: "only, trailing separator", lines: []string{n + "=x;"}, want: nil},
		{name: "repeated", lines: []string{n + "=x; a=1; " + n + "=y; " + n + "=z"}, want: []string{"a=1"}},
		{name: "whitespace around the name", lines: []string{"a=1;  \t" + n + " =x ;b=2"}, want: []string{"a=1;b=2"}},
		{name: "others byte for byte", lines: []string{`a="q v";b=;  c ; ` + n + `=x;d=1=2;;e`}, want: []string{`a="q v";b=;  c ;d=1=2;;e`}},
		{name: "look-alike names kept", lines: []string{n + "2=x; x" + n + "=y; " + strings.ToLower(n) + "=z; unigate_session=w"},
			want: []string{n + "2=x; x" + n + "=y; " + strings.ToLower(n) + "=z; unigate_session=w"}},
		{name: "name inside a value kept", lines: []string{"a=" + n + "; b=" + n + "=x"}, want: []string{"a=" + n + "; b=" + n + "=x"}},
		{name: "several lines", lines: []string{"a=1; " + n + "=x", n + "=y", "b=2", "c=3; " + n + "=z; d=4"},
			want: []string{"a=1", "b=2", "c=3; d=4"}},
		{name: "several lines, all ours", lines: []string{n + "=x", n + "=y"}, want: nil},
		{name: "non-canonical key", key: "cookie", lines: []string{"a=1; " + n + "=x"}, want: []string{"a=1"}},
		{name: "untouched", lines: []string{"a=1;b=2 ;  c=3"}, want: []string{"a=1;b=2 ;  c=3"}},
		{name: "no header", lines: nil, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			if key == "" {
				key = "Cookie"
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.lines != nil {
				r.Header[key] = slices.Clone(tc.lines)
			}
			r.Header.Set("X-Other", "kept")
			StripCookie(r, n)
			got, ok := r.Header[key]
			if tc.want == nil && ok {
				t.Fatalf("got header %q, want it removed", got)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if len(r.CookiesNamed(n)) != 0 {
				t.Fatalf("net/http still reads our cookie")
			}
			if r.Header.Get("X-Other") != "kept" {
				t.Fatalf("another header was touched")
			}
		})
	}
}

// TestStripThenDecode: what Decode reads as ours is exactly what Strip removes.
func TestStripThenDecode(t *testing.T) {
	c := mustCodec(t, CookieConfig{Secure: true})
	v := mustEncode(t, c, testHost, NewToken())
	r := requestWith("a=1; "+c.Name()+"="+v, " "+c.Name()+" = "+v+" ;b=2")
	if _, err := c.Decode(testHost, r); err != nil {
		t.Fatal(err)
	}
	StripCookie(r, c.Name())
	if _, err := c.Decode(testHost, r); !errors.Is(err, ErrNoCookie) {
		t.Fatalf("Decode after StripCookie: got %v, want ErrNoCookie", err)
	}
	if got := r.Header["Cookie"]; !slices.Equal(got, []string{"a=1", "b=2"}) {
		t.Fatalf("got %q", got)
	}
}

// fuzzTokens are the only tokens the fuzz seeds carry: deterministic, so
// that every fuzz worker knows them. A decode that yields any other token
// would be a forgery.
func fuzzTokens() []string {
	var out []string
	for _, s := range []string{"one", "two", "three"} {
		sum := sha256.Sum256([]byte(s))
		out = append(out, base64.RawURLEncoding.EncodeToString(sum[:]))
	}
	return out
}

// FuzzDecodeCookie: for any Cookie header, Decode never panics, answers only
// ErrNoCookie/ErrBadCookie on failure, and yields a token only if a value
// Encode made for this host is in the header: the token is one of the seeds'
// and the same header is refused on another host.
func FuzzDecodeCookie(f *testing.F) {
	c := mustCodec(f, CookieConfig{Secure: true})
	tokens := fuzzTokens()
	for _, line := range attackLines(f, c) {
		f.Add(line)
	}
	for _, tok := range tokens {
		v := mustEncode(f, c, testHost, tok)
		f.Add(c.Name() + "=" + v)
		f.Add("a=1; " + c.Name() + "=" + v + "; b=2")
		f.Add(c.Name() + "=" + v + "; " + c.Name() + "=" + mustEncode(f, c, testHost, tokens[0]))
		f.Add(c.Name() + "=" + mustEncode(f, c, "other.example.test", tok))
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := requestWith(header)
		got, err := c.Decode(testHost, r)
		if err != nil {
			if got != "" || !(errors.Is(err, ErrNoCookie) || errors.Is(err, ErrBadCookie)) {
				t.Fatalf("Decode: got %q, %v", got, err)
			}
			return
		}
		if !slices.Contains(tokens, got) {
			t.Fatalf("Decode yielded token %q that no seed encoded: forgery", got)
		}
		if other, err := c.Decode("other.example.test", r); err == nil {
			t.Fatalf("the same header also decodes on another host (to %q)", other)
		}
	})
}

// cookieParts lists the non-empty trimmed pairs of Cookie lines not named
// name, in order: what StripCookie must keep.
func cookieParts(lines []string, name string) (kept []string, ours int) {
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			if n, _ := splitCookie(part); n == name {
				ours++
				continue
			}
			if p := strings.TrimSpace(part); p != "" {
				kept = append(kept, p)
			}
		}
	}
	return kept, ours
}

// FuzzStripCookie: never panics, our cookie never survives (by our parser
// or net/http's), every other pair is kept in order, and lines without our
// cookie are left byte for byte.
func FuzzStripCookie(f *testing.F) {
	for _, s := range []struct{ a, b string }{
		{"a=1; __Host-unigate_session=x; b=2", ""},
		{"__Host-unigate_session=x", "unigate_session=y"},
		{" __Host-unigate_session =x;;", "a=1"},
		{"a=\"q\"; b", "__Host-unigate_session"},
		{"unigate_session=1; __Host-unigate_session2=2", "x=__Host-unigate_session"},
		{"\x00;\xff=\r\n;__Host-unigate_session\t=\t", ";"},
	} {
		f.Add(s.a, s.b, true)
		f.Add(s.a, s.b, false)
	}
	f.Fuzz(func(t *testing.T, line1, line2 string, secure bool) {
		name := "unigate_session"
		if secure {
			name = hostPrefix + name
		}
		lines := []string{line1, line2}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Cookie"] = slices.Clone(lines)
		StripCookie(r, name)
		after := r.Header["Cookie"]

		wantKept, _ := cookieParts(lines, name)
		gotKept, ours := cookieParts(after, name)
		if ours != 0 || len(r.CookiesNamed(name)) != 0 {
			t.Fatalf("our cookie survived: %q", after)
		}
		if !slices.Equal(gotKept, wantKept) {
			t.Fatalf("other cookies changed: got %q, want %q (from %q)", gotKept, wantKept, lines)
		}
		for _, l := range lines {
			if _, n := cookieParts([]string{l}, name); n == 0 && !slices.Contains(after, l) {
				t.Fatalf("line without our cookie %q was changed: %q", l, after)
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	c := mustCodec(b, CookieConfig{Secure: true})
	r := requestWith("_ga=GA1.2.3; lang=fr; " + c.Name() + "=" + mustEncode(b, c, testHost, NewToken()) + "; theme=dark")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode(testHost, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	c := mustCodec(b, CookieConfig{Secure: true})
	token := NewToken()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encode(testHost, token); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStripCookie(b *testing.B) {
	c := mustCodec(b, CookieConfig{Secure: true})
	line := "_ga=GA1.2.3; lang=fr; " + c.Name() + "=" + mustEncode(b, c, testHost, NewToken()) + "; theme=dark"
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		r.Header["Cookie"] = []string{line}
		StripCookie(r, c.Name())
	}
}

// TestCookieKeyRotation: a cookie signed under a previous session key is
// still accepted and reported stale; one under the current key is not; the
// previous key never signs, and without it the old cookie is refused
// (CONTRACT §12 "Key rotation").
func TestCookieKeyRotation(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte("o"), 64), bytes.Repeat([]byte("n"), 64)
	before := mustCodec(t, CookieConfig{HashKey: oldKey})
	rotated := mustCodec(t, CookieConfig{HashKey: newKey, PreviousHashKeys: [][]byte{oldKey}})
	withoutOld := mustCodec(t, CookieConfig{HashKey: newKey})
	tok, tok2 := NewToken(), NewToken()
	oldValue := mustEncode(t, before, testHost, tok)
	newValue := mustEncode(t, rotated, testHost, tok)
	name := before.Name()

	tests := []struct {
		name      string
		codec     *CookieCodec
		lines     []string
		wantToken string
		wantStale bool
		wantErr   error
	}{
		{"previous key: accepted, stale", rotated, []string{name + "=" + oldValue}, tok, true, nil},
		{"current key: accepted", rotated, []string{name + "=" + newValue}, tok, false, nil},
		{"both spellings of one session: not stale", rotated, []string{name + "=" + oldValue, name + "=" + newValue}, tok, false, nil},
		{"two sessions under two keys: refused", rotated, []string{name + "=" + oldValue, name + "=" + mustEncode(t, rotated, testHost, tok2)}, "", false, ErrBadCookie},
		{"previous key no longer configured: refused", withoutOld, []string{name + "=" + oldValue}, "", false, ErrBadCookie},
		{"previous key's cookie of another host: refused", rotated, []string{name + "=" + mustEncode(t, before, "other.example", tok)}, "", false, ErrBadCookie},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, stale, err := tt.codec.DecodeRotated(testHost, requestWith(tt.lines...))
			if !errors.Is(err, tt.wantErr) || got != tt.wantToken || stale != tt.wantStale {
				t.Fatalf("got %q stale=%v err=%v, want %q stale=%v err=%v", got, stale, err, tt.wantToken, tt.wantStale, tt.wantErr)
			}
		})
	}
	if _, _, err := before.DecodeRotated(testHost, requestWith(name+"="+newValue)); err == nil {
		t.Error("the old codec accepted a cookie of the new key: the previous key must not sign")
	}
	if _, err := NewCookieCodec(CookieConfig{HashKey: newKey, PreviousHashKeys: [][]byte{[]byte("short")}}); err == nil {
		t.Error("got no error for a short previous key")
	}
}
