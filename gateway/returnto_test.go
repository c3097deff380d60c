package gateway

import (
	"bufio"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestParseReturnToAccepted(t *testing.T) {
	h := newHarness(t)
	cases := []struct{ in, want, host, path string }{
		{"/consoles", "/consoles", "", "/consoles"},
		{"/consoles?console=dedibox", "/consoles?console=dedibox", "", "/consoles?console=dedibox"},
		{"/a/b#frag", "/a/b#frag", "", "/a/b#frag"},
		{"http://account.test:8080/settings", "http://account.test:8080/settings", "account.test", "/settings"},
		{"http://console.online.test:8080/servers/1?x=y", "http://console.online.test:8080/servers/1?x=y", "console.online.test", "/servers/1?x=y"},
		{"HTTP://Console.Scaleway.Test:8080/", "http://console.scaleway.test:8080/", "console.scaleway.test", "/"},
		{"http://console.scaleway.test:8080", "http://console.scaleway.test:8080/", "console.scaleway.test", "/"},
	}
	for _, tc := range cases {
		got, ok := h.gw.parseReturnTo(tc.in)
		if !ok || got.URL != tc.want || got.Host != tc.host || got.Path != tc.path {
			t.Errorf("parseReturnTo(%q) = %+v, %v; want %q %q %q", tc.in, got, ok, tc.want, tc.host, tc.path)
		}
	}
}

// readAttackStrings reads a testdata list; "\xHH" escapes become bytes.
func readAttackStrings(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "# ") {
			continue
		}
		out = append(out, decodeEscapes(line))
	}
	return out
}

func decodeEscapes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if n, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestParseReturnToRefusesAttacks(t *testing.T) {
	h := newHarness(t)
	attacks := readAttackStrings(t, "testdata/return_to_refused.txt")
	if len(attacks) < 50 {
		t.Fatalf("only %d attack strings", len(attacks))
	}
	for _, a := range attacks {
		if got, ok := h.gw.parseReturnTo(a); ok {
			t.Errorf("parseReturnTo(%q) accepted as %+v", a, got)
		}
	}
}

// FuzzParseReturnTo: whatever is accepted is a single-slash local path or an
// absolute URL on one of our hosts with our scheme and port.
func FuzzParseReturnTo(f *testing.F) {
	for _, a := range readAttackStrings(f, "testdata/return_to_refused.txt") {
		f.Add(a)
	}
	f.Add("/consoles")
	f.Add("http://console.online.test:8080/x")
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := h.gw.parseReturnTo(in)
		if !ok {
			return
		}
		switch {
		case got.Host == "":
			if !strings.HasPrefix(got.URL, "/") || strings.HasPrefix(got.URL, "//") || strings.ContainsAny(got.URL, "\\\t\r\n\x00 ") {
				t.Fatalf("%q accepted as local %q", in, got.URL)
			}
		default:
			u, err := url.Parse(got.URL)
			if err != nil || u.User != nil || u.Scheme != "http" || u.Port() != "8080" || strings.ContainsAny(got.URL, "\\\t\r\n\x00 ") {
				t.Fatalf("%q accepted as %q", in, got.URL)
			}
			switch u.Hostname() {
			case "account.test", "console.online.test", "console.scaleway.test":
			default:
				t.Fatalf("%q accepted with host %q", in, u.Hostname())
			}
		}
		if again, ok := h.gw.parseReturnTo(got.URL); !ok || again.URL != got.URL {
			t.Fatalf("not stable: %q -> %q -> %q (%v)", in, got.URL, again.URL, ok)
		}
	})
}
