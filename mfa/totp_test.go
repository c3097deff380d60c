package mfa

import (
	"encoding/base32"
	"encoding/base64"
	"errors"
	"github.com/pquerna/otp"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// rfcSecret is RFC 6238 appendix B's SHA-1 key, "12345678901234567890", in base32.
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

// TestVerifyTOTPRFC6238: the RFC's test vectors (8 digits there; an app shows
// the last 6).
func TestVerifyTOTPRFC6238(t *testing.T) {
	for _, tc := range []struct {
		unix int64
		code string
	}{
		{59, "287082"},          // 94287082
		{1111111109, "081804"},  // 07081804
		{1111111111, "050471"},  // 14050471
		{1234567890, "005924"},  // 89005924
		{2000000000, "279037"},  // 69279037
		{20000000000, "353130"}, // 65353130
	} {
		step, ok := VerifyTOTP(rfcSecret, tc.code, time.Unix(tc.unix, 0))
		if !ok || step != tc.unix/30 {
			t.Errorf("VerifyTOTP(%s at %d) = %d, %v; want step %d", tc.code, tc.unix, step, ok, tc.unix/30)
		}
	}
}

// TestVerifyTOTPWindow: with an injected clock, codes of the steps −1, 0, +1
// are accepted and return their own step; −2 and +2 are refused.
func TestVerifyTOTPWindow(t *testing.T) {
	secret, _, _, err := GenerateTOTP("Example", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// Step boundaries and mid-step, so that "now" inside a step does not matter.
	for _, now := range []time.Time{
		time.Date(2025, 11, 3, 9, 15, 0, 0, time.UTC),
		time.Date(2025, 11, 3, 9, 15, 29, 999999999, time.UTC),
		time.Date(2025, 11, 3, 9, 15, 14, 0, time.UTC),
	} {
		current := now.Unix() / 30
		for _, tc := range []struct {
			offset int64
			ok     bool
		}{{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}} {
			code, err := totp.GenerateCodeCustom(secret, time.Unix((current+tc.offset)*30, 0), totpOpts)
			if err != nil {
				t.Fatal(err)
			}
			step, ok := VerifyTOTP(secret, code, now)
			if ok != tc.ok || (ok && step != current+tc.offset) {
				t.Errorf("at %v, code of step %+d: VerifyTOTP = %d, %v; want %v (step %d)",
					now, tc.offset, step, ok, tc.ok, current+tc.offset)
			}
		}
	}
}

func TestVerifyTOTPRefuses(t *testing.T) {
	now := time.Unix(59, 0)
	for _, tc := range []struct{ secret, code string }{
		{rfcSecret, "287083"},
		{rfcSecret, "000000"},
		{rfcSecret, ""},
		{rfcSecret, "28708"},
		{rfcSecret, "2870820"},
		{rfcSecret, "94287082"}, // the 8-digit form
		{rfcSecret, "２８７０８２"},   // fullwidth digits
		{"not base32!", "287082"},
		{"", "287082"},
	} {
		if step, ok := VerifyTOTP(tc.secret, tc.code, now); ok {
			t.Errorf("VerifyTOTP(%q, %q) = %d, true; want refused", tc.secret, tc.code, step)
		}
	}
	// Typed with separators, the right code passes.
	for _, code := range []string{"287 082", "287-082", " 287082\n", "2 8 7 0 8 2"} {
		if _, ok := VerifyTOTP(rfcSecret, code, now); !ok {
			t.Errorf("VerifyTOTP(%q) refused", code)
		}
	}
}

func TestGenerateTOTP(t *testing.T) {
	secret, uri, qr, err := GenerateTOTP("Scaleway / Dedibox", "alice@example.com")
	if err != nil {
		t.Fatalf("GenerateTOTP: %v", err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil || len(raw) != 20 {
		t.Errorf("secret %q decodes to %d bytes (%v), want 20 (160 bits)", secret, len(raw), err)
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatalf("otpauth URI %q: %v", uri, err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Scaleway / Dedibox:alice@example.com" ||
		q.Get("secret") != secret || q.Get("issuer") != "Scaleway / Dedibox" ||
		q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Errorf("otpauth URI %q lacks the issuer, account, secret or parameters", uri)
	}
	const prefix = "data:image/png;base64,"
	if !strings.HasPrefix(qr, prefix) {
		t.Fatalf("QR code %.40q…, want a PNG data: URI", qr)
	}
	pngBytes, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(qr, prefix))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(strings.NewReader(string(pngBytes)))
	if err != nil {
		t.Fatalf("QR code is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != qrSize || b.Dy() != qrSize {
		t.Errorf("QR code %v, want %dx%d", b, qrSize, qrSize)
	}

	other, _, _, err := GenerateTOTP("Scaleway / Dedibox", "alice@example.com")
	if err != nil || other == secret {
		t.Errorf("two secrets drawn alike (%q): %v", other, err)
	}
	for _, bad := range []struct{ issuer, account string }{{"", "a@example.com"}, {"Example", ""}, {"Ex:ample", "a@example.com"}} {
		if _, _, _, err := GenerateTOTP(bad.issuer, bad.account); err == nil {
			t.Errorf("GenerateTOTP(%q, %q) succeeded", bad.issuer, bad.account)
		}
	}
}

var parseCodeCases = []struct {
	in   string
	want string // "" = ErrInvalidCode
}{
	{"123456", "123456"},
	{"000000", "000000"},
	{"123 456", "123456"},
	{"123-456", "123456"},
	{"  123456  ", "123456"},
	{"\t123456\r\n", "123456"},
	{"1 2 3 4 5 6", "123456"},
	{"123\u00a0456", "123456"},
	{"12-34-56", "123456"},
	{"", ""},
	{"12345", ""},
	{"1234567", ""},
	{"12345a", ""},
	{"123.456", ""},
	{"123_456", ""},
	{"+123456", ""},
	{"１２３４５６", ""}, // fullwidth
	{"١٢٣٤٥٦", ""}, // Arabic-Indic
	{"123456\x00", ""},
	{"12345\u200b6", ""}, // zero-width space
	{"\xff123456", ""},
	{strings.Repeat(" ", 60) + "123456", ""}, // longer than any real input
}

func TestParseCode(t *testing.T) {
	for _, tc := range parseCodeCases {
		got, err := ParseCode(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrInvalidCode) {
				t.Errorf("ParseCode(%q) = %q, %v; want ErrInvalidCode", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseCode(f *testing.F) {
	for _, tc := range parseCodeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) { checkParsed(t, s, TOTPDigits, ParseCode) })
}

// checkParsed: a parser's output is exactly n ASCII digits, the digits of
// its input in order, and it refuses with ErrInvalidCode.
func checkParsed(t *testing.T, s string, n int, parse func(string) (string, error)) {
	got, err := parse(s)
	if err != nil {
		if !errors.Is(err, ErrInvalidCode) || got != "" {
			t.Fatalf("parse(%q) = %q, %v; want \"\", ErrInvalidCode", s, got, err)
		}
		return
	}
	if len(got) != n {
		t.Fatalf("parse(%q) = %q, want %d digits", s, got, n)
	}
	var digits strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits.WriteRune(r)
		}
	}
	if digits.String() != got {
		t.Fatalf("parse(%q) = %q, want the input's digits %q", s, got, digits.String())
	}
}

func TestTOTPKeyKeepsTheSecret(t *testing.T) {
	secret, uri, _, err := GenerateTOTP("Issuer", "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	uri2, png, err := TOTPKey("Issuer", "a@example.com", secret)
	if err != nil || !strings.HasPrefix(png, "data:image/png;base64,") {
		t.Fatalf("TOTPKey: %v", err)
	}
	k1, _ := otp.NewKeyFromURL(uri)
	k2, _ := otp.NewKeyFromURL(uri2)
	if k1.Secret() != k2.Secret() || k1.Issuer() != k2.Issuer() || k1.AccountName() != k2.AccountName() || k2.Period() != 30 {
		t.Fatalf("rebuilt key differs: %s vs %s", uri, uri2)
	}
}
