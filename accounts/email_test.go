package accounts

import (
	"errors"
	"net/mail"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// emailCases are the SECURITY.md §10 families (case, trailing dot, NFC/NFKC
// forms, homoglyphs, zero-width characters, multiple '@') plus the syntax
// rules. want == "" means the address must be refused.
var emailCases = []struct {
	name, in, want string
}{
	// Accepted, and how.
	{"plain", "alice@example.com", "alice@example.com"},
	{"upper case", "Alice@Example.COM", "alice@example.com"},
	{"surrounding ascii space", " \t alice@example.com \r\n", "alice@example.com"},
	{"surrounding nbsp", "\u00a0alice@example.com\u00a0", "alice@example.com"},
	{"surrounding ideographic space", "\u3000alice@example.com\u2003", "alice@example.com"},
	{"dots kept", "a.l.i.c.e@example.com", "a.l.i.c.e@example.com"},
	{"plus tag kept", "alice+shop@example.com", "alice+shop@example.com"},
	{"subdomain", "bob@mail.example.co.uk", "bob@mail.example.co.uk"},
	{"nfc precomposed", "jos\u00e9@example.com", "jos\u00e9@example.com"},
	{"nfd composed to nfc", "jose\u0301@example.com", "jos\u00e9@example.com"},
	{"nfd upper composed and lowered", "JOSE\u0301@EXAMPLE.COM", "jos\u00e9@example.com"},
	{"idn domain nfc", "x@exa\u0301mple.com", "x@ex\u00e1mple.com"},
	{"kelvin sign is canonically k", "\u212aate@example.com", "kate@example.com"},
	{"ohm sign is canonically omega", "\u2126@example.com", "\u03c9@example.com"},
	{"cyrillic a stays cyrillic", "\u0430lice@example.com", "\u0430lice@example.com"},
	{"cyrillic upper lowered, still cyrillic", "\u0410LICE@example.com", "\u0430lice@example.com"},
	{"fullwidth not folded (no NFKC)", "\uff41lice@example.com", "\uff41lice@example.com"},
	{"fullwidth upper lowered to fullwidth", "\uff21lice@example.com", "\uff41lice@example.com"},
	{"ligature not folded (no NFKC)", "\ufb01le@example.com", "\ufb01le@example.com"},
	{"dotless i stays distinct", "\u0131@example.com", "\u0131@example.com"},
	{"sharp s not expanded", "stra\u00dfe@example.com", "stra\u00dfe@example.com"},
	{"greek upper", "\u03a3\u03a3@example.com", "\u03c3\u03c3@example.com"},
	{"apostrophe is atext", "o'brien@example.com", "o'brien@example.com"},
	{"atext symbols", "a!#$%&*+/=?^_`{|}~-b@example.com", "a!#$%&*+/=?^_`{|}~-b@example.com"},
	{"254 bytes", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com"},

	// Refused.
	{"empty", "", ""},
	{"only spaces", "   ", ""},
	{"no at", "alice.example.com", ""},
	{"two ats", "alice@evil@example.com", ""},
	{"at at", "alice@@example.com", ""},
	{"empty local", "@example.com", ""},
	{"empty domain", "alice@", ""},
	{"domain without dot", "alice@localhost", ""},
	{"trailing dot domain", "a@example.com.", ""},
	{"trailing dot domain upper", "A@EXAMPLE.COM.", ""},
	{"leading dot domain", "a@.example.com", ""},
	{"double dot domain", "a@example..com", ""},
	{"leading dot local", ".alice@example.com", ""},
	{"trailing dot local", "alice.@example.com", ""},
	{"double dot local", "al..ice@example.com", ""},
	{"space inside", "ali ce@example.com", ""},
	{"tab inside", "alice@exa\tmple.com", ""},
	{"nbsp inside", "alice\u00a0@example.com", ""},
	{"line separator inside", "alice\u2028@example.com", ""},
	{"nul", "alice\x00@example.com", ""},
	{"del", "alice\x7f@example.com", ""},
	{"c1 control", "alice\u0085x@example.com", ""},
	{"zero width space", "al\u200bice@example.com", ""},
	{"zero width space at edge", "\u200balice@example.com", ""},
	{"zero width joiner", "alice\u200d@example.com", ""},
	{"zero width non-joiner", "ali\u200cce@example.com", ""},
	{"bom at start", "\ufeffalice@example.com", ""},
	{"word joiner", "alice@exam\u2060ple.com", ""},
	{"soft hyphen", "ali\u00adce@example.com", ""},
	{"rtl override", "alice@\u202eelpmaxe.com", ""},
	{"bidi isolate", "\u2066alice@example.com\u2069", ""},
	{"left to right mark", "alice\u200e@example.com", ""},
	{"tag character", "alice\U000e0041@example.com", ""},
	{"private use", "alice\ue000@example.com", ""},
	{"unassigned", "alice\U0003ffff@example.com", ""},
	{"replacement char", "alice\ufffd@example.com", ""},
	{"invalid utf8", "alice\xff@example.com", ""},
	{"truncated utf8", "alice@example.com\xc3", ""},
	// Not a bare addr-spec (issue 16, finding 4): what a mailer would read
	// as a list, a display name, a comment, a quoted local part or a
	// domain literal.
	{"comma: a list to the mailer", "john,doe@example.com", ""},
	{"two addresses", "a@example.com,b@example.com", ""},
	{"display name and angle address", "victim<attacker@evil.test>", ""},
	{"angle address", "<attacker@evil.test>", ""},
	{"trailing angle", "a@example.com>", ""},
	{"comment in local part", "a(b)@example.com", ""},
	{"trailing comment", "a@example.com(evil)", ""},
	{"quoted local part", "\"a\"@example.com", ""},
	{"quoted local part with at", "\"a@evil.test\"@example.com", ""},
	{"semicolon: group end", "a;b@example.com", ""},
	{"colon: group start", "group:a@example.com", ""},
	{"domain literal", "a@[192.0.2.1]", ""},
	{"bracket in local part", "a[b]@example.com", ""},
	{"backslash", "a\\b@example.com", ""},
	{"255 bytes", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com", ""},
}

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range emailCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeEmail(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("NormalizeEmail(%+q) = %+q, want an error", tc.in, got)
				}
				if !errors.Is(err, ErrInvalidEmail) {
					t.Fatalf("NormalizeEmail(%+q) error = %v, want ErrInvalidEmail", tc.in, err)
				}
				if got != "" {
					t.Errorf("NormalizeEmail(%+q) = %+q with an error, want \"\"", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeEmail(%+q) error = %v, want %+q", tc.in, err, tc.want)
			}
			if got != tc.want {
				t.Errorf("NormalizeEmail(%+q) = %+q, want %+q", tc.in, got, tc.want)
			}
		})
	}
}

// TestNormalizeEmailLookalikesStayDistinct: look-alike spellings never collapse
// onto the address they imitate (SECURITY.md §10: look-alikes never merge).
func TestNormalizeEmailLookalikesStayDistinct(t *testing.T) {
	victim := mustNormalizeEmail(t, "alice@example.com")
	for _, lookalike := range []string{
		"\u0430lice@example.com",              // Cyrillic a
		"\uff41lice@example.com",              // fullwidth a
		"alice@ex\u0430mple.com",              // Cyrillic a in the domain
		"al\u0456ce@example.com",              // Cyrillic i
		"alice@example.c\u03bfm",              // Greek omicron
		"alice+x@example.com",                 // tag: another mailbox
		"a.lice@example.com",                  // dots: another mailbox
		"alice@example.com.evil.test",         // suffix
		"alice@exampIe.com",                   // capital I for l, lowered to i
		"\U0001d41a\U0001d425ice@example.com", // mathematical bold a, l (NFKC would fold them)
	} {
		got, err := NormalizeEmail(lookalike)
		if err != nil {
			continue // refused is also distinct
		}
		if got == victim {
			t.Errorf("NormalizeEmail(%+q) = %+q, the victim's address", lookalike, got)
		}
	}
}

func TestNormalizeEmailErrorHasReason(t *testing.T) {
	_, err := NormalizeEmail("a@example.com.")
	if err == nil || !strings.Contains(err.Error(), "dot") {
		t.Fatalf("error = %v, want a reason mentioning the dot", err)
	}
}

func mustNormalizeEmail(tb testing.TB, s string) string {
	tb.Helper()
	n, err := NormalizeEmail(s)
	if err != nil {
		tb.Fatalf("NormalizeEmail(%+q): %v", s, err)
	}
	return n
}

// FuzzNormalizeEmail: whatever the input, an accepted address is a fixed point
// (normalising it again changes nothing), valid UTF-8, at most 254 bytes, and
// free of control (Cc) and format (Cf) characters; a refusal wraps
// ErrInvalidEmail.
func FuzzNormalizeEmail(f *testing.F) {
	for _, tc := range emailCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeEmail(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidEmail) {
				t.Fatalf("NormalizeEmail(%+q) error %v does not wrap ErrInvalidEmail", in, err)
			}
			return
		}
		again, err := NormalizeEmail(out)
		if err != nil {
			t.Fatalf("NormalizeEmail(%+q) = %+q, which is then refused: %v", in, out, err)
		}
		if again != out {
			t.Fatalf("not idempotent: %+q -> %+q -> %+q", in, out, again)
		}
		if !utf8.ValidString(out) || len(out) > maxEmailBytes {
			t.Fatalf("NormalizeEmail(%+q) = %+q: invalid UTF-8 or too long", in, out)
		}
		for _, r := range out {
			if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("NormalizeEmail(%+q) = %+q contains %U", in, out, r)
			}
		}
		if strings.Count(out, "@") != 1 {
			t.Fatalf("NormalizeEmail(%+q) = %+q: not exactly one @", in, out)
		}
		if a, err := mail.ParseAddress(out); err != nil || a.Name != "" || a.Address != out {
			t.Fatalf("NormalizeEmail(%+q) = %+q, which net/mail does not give back as it is: %+v, %v", in, out, a, err)
		}
		if strings.ContainsAny(out, addrSpecSpecials) {
			t.Fatalf("NormalizeEmail(%+q) = %+q contains an RFC 5322 special", in, out)
		}
	})
}

// TestBadRuneASCIIFastPath: the ASCII shortcut of badRune answers as the
// Unicode tables do for every ASCII character.
func TestBadRuneASCIIFastPath(t *testing.T) {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		want := ""
		switch {
		case unicode.Is(unicode.Cc, r):
			want = "control character"
		case unicode.IsSpace(r) || unicode.In(r, unicode.Z):
			want = "white space"
		case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S):
			want = "unassigned or private-use character"
		}
		if got := badRune(r); got != want {
			t.Errorf("badRune(%U) = %q, want %q", r, got, want)
		}
	}
}

// TestCheckNormalizedFastPath: the ASCII shortcut of checkNormalized says
// what NormalizeEmail says, for every ASCII character at each end and in
// the middle of an address.
func TestCheckNormalizedFastPath(t *testing.T) {
	var inputs []string
	for c := range 128 {
		ch := string(rune(c))
		inputs = append(inputs, ch+"a@example.com", "a@example.com"+ch, "a"+ch+"b@example.com", ch)
	}
	inputs = append(inputs, "", "A@example.com", "a@EXAMPLE.com", "élodie@example.com", "a@example.com\u00a0")
	for _, in := range inputs {
		n, err := NormalizeEmail(in)
		want := err == nil && n == in
		if got := checkNormalized(in) == nil; got != want {
			t.Errorf("checkNormalized(%q) accepts: %v, want %v (NormalizeEmail: %q, %v)", in, got, want, n, err)
		}
	}
}

// TestAddrSpecASCIIShortcut: for ASCII addresses validateEmail does not ask
// net/mail; it must accept exactly those that net/mail gives back unchanged
// (among those its other rules accept), for every ASCII character at each
// end and in the middle of either part.
func TestAddrSpecASCIIShortcut(t *testing.T) {
	var inputs []string
	for c := 0x21; c < 0x7f; c++ {
		ch := string(rune(c))
		for _, in := range []string{ch + "a@example.com", "a" + ch + "@example.com", "a" + ch + "b@example.com",
			"a@" + ch + "example.com", "a@exa" + ch + "mple.com", "a@example.com" + ch, "a@example.c" + ch + "m"} {
			inputs = append(inputs, in)
		}
	}
	for _, in := range inputs {
		if validateEmail(in) != nil {
			continue
		}
		if a, err := mail.ParseAddress(in); err != nil || a.Name != "" || a.Address != in {
			t.Errorf("validateEmail(%q) accepts what net/mail reads as %+v, %v", in, a, err)
		}
	}
}
