package accounts

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// maxEmailBytes is the longest address SMTP can carry: a 256-octet path minus
// its angle brackets (RFC 5321 §4.5.3.1.3, erratum 1690).
const maxEmailBytes = 254

// NormalizeEmail returns the one canonical form of an address, the form every
// lookup, uniqueness check and unification match uses (SECURITY.md §10), or an
// error wrapping ErrInvalidEmail with the reason.
//
// The canonical form is: surrounding white space trimmed, Unicode NFC, then
// lower case. Only canonically equivalent spellings merge (a precomposed "é"
// and "e" + U+0301; the Kelvin sign and "k"). Nothing else is folded: no NFKC,
// no homoglyph mapping, no removal of dots or "+tags", because each of those
// would merge distinct mailboxes, and an attacker who registers the look-alike
// would then be matched to the victim's account (ASVS V6.4, account
// unification by email).
//
// Addresses that cannot be typed or seen reliably are refused rather than
// repaired: control and format characters (zero-width space and joiner, BOM,
// bidi controls), white space inside, unassigned and private-use code points
// (whose case mapping could change with a later Unicode version, and with it
// the canonical form), several '@', empty, leading, trailing or doubled dots
// in either part, and a domain without a dot or with a trailing root dot.
//
// And the result is a bare addr-spec that a mailer uses as it is: one that
// net/mail.ParseAddress gives back unchanged, without a display name,
// comment, quoted local part or domain literal (RFC 5322 §3.4.1). An address
// such as "victim<attacker@evil.test>" would otherwise be an account's
// identity while its codes went to attacker@evil.test, and "john,doe@…" a
// recipient list the mailer refuses (ASVS V5.1.3, V6.4).
func NormalizeEmail(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalidEmail("not valid UTF-8")
	}
	s = strings.TrimFunc(s, unicode.IsSpace)
	s = norm.NFC.String(s)
	s = strings.ToLower(s)
	// Lower-casing maps one composed letter to another, but re-check so that
	// the result is NFC whatever the tables say: the output must be a fixed
	// point of this function.
	if !norm.NFC.IsNormalString(s) {
		s = norm.NFC.String(s)
	}
	if err := validateEmail(s); err != nil {
		return "", err
	}
	return s, nil
}

// checkNormalized refuses an email that is not NormalizeEmail's output: the
// store keeps one spelling per address, so that no second form can slip past
// a unique index or a lookup (SECURITY.md §10).
func checkNormalized(email string) error {
	if plainASCII(email) {
		// NormalizeEmail's trimming, NFC and lower-casing leave it as it
		// is: only its checks remain (a million times in a unification).
		return validateEmail(email)
	}
	if n, err := NormalizeEmail(email); err != nil {
		return err
	} else if n != email {
		return fmt.Errorf("%w: not in normalised form", ErrInvalidEmail)
	}
	return nil
}

// plainASCII reports whether s is ASCII without upper-case letters and
// without white space at either end.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return s == "" || !asciiSpace(s[0]) && !asciiSpace(s[len(s)-1])
}

func asciiSpace(c byte) bool { return c == ' ' || '\t' <= c && c <= '\r' }

// validateEmail checks an already trimmed, NFC, lower-cased address.
func validateEmail(s string) error {
	if s == "" {
		return invalidEmail("empty")
	}
	if len(s) > maxEmailBytes {
		return invalidEmail("longer than 254 bytes")
	}
	ascii := true
	for _, r := range s {
		if reason := badRune(r); reason != "" {
			return invalidEmail(reason)
		}
		ascii = ascii && r < utf8.RuneSelf
	}
	if i := strings.IndexAny(s, addrSpecSpecials); i >= 0 {
		return invalidEmail(fmt.Sprintf("%q not allowed in an address", s[i]))
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok {
		return invalidEmail("no @")
	}
	if strings.Contains(domain, "@") {
		return invalidEmail("more than one @")
	}
	if local == "" {
		return invalidEmail("empty local part")
	}
	if domain == "" {
		return invalidEmail("empty domain")
	}
	if reason := badDots(local); reason != "" {
		return invalidEmail("local part: " + reason)
	}
	if strings.HasSuffix(domain, ".") {
		// "a@example.com." names the same host as "a@example.com"; refusing
		// it keeps one spelling per address.
		return invalidEmail("domain ends with a dot")
	}
	if !strings.Contains(domain, ".") {
		return invalidEmail("domain has no dot")
	}
	if reason := badDots(domain); reason != "" {
		return invalidEmail("domain: " + reason)
	}
	if ascii {
		// What is left of printable ASCII without the specials is atext and
		// ".", and both parts were checked for empty labels: a dot-atom
		// "@" dot-atom, which net/mail gives back unchanged
		// (TestAddrSpecASCIIShortcut). Skipping it here keeps a
		// unification's million checks at a fifth of the cost.
		return nil
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Name != "" || a.Address != s {
		return invalidEmail("not a bare address (RFC 5322 addr-spec)")
	}
	return nil
}

// addrSpecSpecials are the RFC 5322 specials (§3.2.3) besides '@' and '.',
// which validateEmail checks on their own: none may appear in a bare
// dot-atom address. net/mail would accept some of them in a quoted local
// part or a domain literal ("[" "]"), forms that mailers and people read
// differently.
const addrSpecSpecials = `()<>[]:;\,"`

// badRune says why r may not appear in an address, or "" when it may. Only
// letters, marks, numbers, punctuation and symbols are allowed, which leaves
// out spaces (Z*), controls (Cc), format characters (Cf), surrogates (Cs),
// private use (Co) and unassigned code points (Cn).
func badRune(r rune) string {
	if r < utf8.RuneSelf { // ASCII, what most addresses are made of: the same answers, without the tables
		switch {
		case r < 0x20 || r == 0x7F:
			return "control character"
		case r == ' ':
			return "white space"
		}
		return ""
	}
	switch {
	case r == utf8.RuneError:
		return "replacement character (U+FFFD)"
	case unicode.Is(unicode.Cc, r):
		return "control character"
	case unicode.Is(unicode.Cf, r):
		return "invisible format character"
	case unicode.IsSpace(r) || unicode.In(r, unicode.Z):
		return "white space"
	case unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S):
		return ""
	default:
		return "unassigned or private-use character"
	}
}

// badDots reports an empty dot-separated label: a leading, trailing or doubled
// dot.
func badDots(s string) string {
	switch {
	case strings.HasPrefix(s, "."):
		return "starts with a dot"
	case strings.HasSuffix(s, "."):
		return "ends with a dot"
	case strings.Contains(s, ".."):
		return "consecutive dots"
	}
	return ""
}

func invalidEmail(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidEmail, reason)
}
