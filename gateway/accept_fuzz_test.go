package gateway

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"unigate/web"
)

// acceptCases are Accept headers with whether a GET asking with them wants
// a page (wantsHTML); they seed FuzzAccept.
var acceptCases = []struct {
	accept string
	html   bool
}{
	{"text/html", true},
	{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},
	{"application/xhtml+xml", true},
	{"Text/HTML; charset=utf-8", true},
	{"application/json", false},
	{"*/*", false},
	{"", false},
	{"text/htmlx", false},
	{"text/plain, text/html;q=0.1", true},
	{"text/html;;;", false},
	{",,,", false},
}

func TestWantsHTML(t *testing.T) {
	for _, tc := range acceptCases {
		for _, method := range []string{"GET", "HEAD", "POST"} {
			r := httptest.NewRequest(method, "/", nil)
			r.Header.Set("Accept", tc.accept)
			want := tc.html && method != "POST"
			if got := wantsHTML(r); got != want {
				t.Errorf("wantsHTML(%s, Accept %q) = %v, want %v", method, tc.accept, got, want)
			}
		}
	}
}

func TestAcceptsHTML(t *testing.T) {
	for _, tc := range []struct {
		accept string
		want   bool
	}{
		{"text/html", true},
		{"Text/HTML", true},
		{"TEXT/HTML; q=0.9", true},
		{"application/json, text/html", true},
		{"application/json", false},
		{"text/htmlx", false},
		{"*/*", false},
		{"", false},
	} {
		for _, method := range []string{"GET", "POST"} {
			r := httptest.NewRequest(method, "/", nil)
			r.Header.Set("Accept", tc.accept)
			if got := acceptsHTML(r); got != tc.want {
				t.Errorf("acceptsHTML(%s, Accept %q) = %v, want %v", method, tc.accept, got, tc.want)
			}
		}
	}
}

// FuzzAccept: wantsHTML and acceptsHTML never panic; a page is wanted only
// by a GET or HEAD that names an HTML type (media types are
// case-insensitive, RFC 9110 §8.3.1), and a header naming text/html, in
// any case, is a page for both.
func FuzzAccept(f *testing.F) {
	for _, tc := range acceptCases {
		f.Add("GET", tc.accept)
	}
	f.Add("POST", "text/html")
	f.Fuzz(func(t *testing.T, method, accept string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Method = method
		r.Header.Set("Accept", accept)
		wants, accepts := wantsHTML(r), acceptsHTML(r)
		lower := strings.ToLower(accept)
		if wants && method != "GET" && method != "HEAD" {
			t.Fatalf("wantsHTML(%q, %q): a page for a %s", method, accept, method)
		}
		if wants && !strings.Contains(lower, "text/html") && !strings.Contains(lower, "application/xhtml+xml") {
			t.Fatalf("wantsHTML(%q, %q): no HTML type named", method, accept)
		}
		if (method == "GET" || method == "HEAD") && slices.Contains(strings.Split(lower, ","), "text/html") && !(wants && accepts) {
			t.Fatalf("Accept %q names text/html: wantsHTML %v, acceptsHTML %v", accept, wants, accepts)
		}
	})
}

// FuzzAcceptLanguage: acceptLanguage never panics and always picks a page
// language; it picks one other than the default only when the header names
// it, and a header of one supported tag picks that tag.
func FuzzAcceptLanguage(f *testing.F) {
	for _, h := range []string{"", "fr", "FR-ca", "en", "de", "de, fr", "fr;q=0, en;q=0.1", "en;q=0.5, fr;q=0.8",
		"en, fr", "fr;q=1.5, en;q=0.3", "fr;q=abc", "fr_FR", "  fr-FR ; q=0.9 ,en ; q=0.8 ", "french",
		"fr;q=NaN", "fr;q=1e-400", "fr;q=0x1p-2", "fr;Q=0.5;q=0"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got := acceptLanguage(header)
		if !web.Supported(got) {
			t.Fatalf("acceptLanguage(%q) = %q: not a page language", header, got)
		}
		if got != web.DefaultLocale && !strings.Contains(strings.ToLower(header), got) {
			t.Fatalf("acceptLanguage(%q) = %q: not named in the header", header, got)
		}
		if loc := localeOf(header); loc != "" && !strings.ContainsAny(header, ",;") && got != loc {
			t.Fatalf("acceptLanguage(%q) = %q, want %q, the one tag it names", header, got, loc)
		}
	})
}
