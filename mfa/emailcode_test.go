package mfa

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var codeKey = bytes.Repeat([]byte{9}, 32)

func TestNewEmailCode(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		c := NewEmailCode()
		if p, err := ParseEmailCode(c); err != nil || p != c {
			t.Fatalf("NewEmailCode() = %q, not 8 digits", c)
		}
		seen[c] = true
	}
	if len(seen) < 990 {
		t.Errorf("1000 codes gave %d distinct ones", len(seen))
	}
}

// TestNewEmailCodeRejectsBiasedDraws: a 32-bit draw at or above the largest
// multiple of 10^8 below 2^32 is drawn again instead of reduced modulo 10^8
// (which would make codes under 94967296 more likely).
func TestNewEmailCodeRejectsBiasedDraws(t *testing.T) {
	draws := func(vs ...uint32) *bytes.Reader {
		var b []byte
		for _, v := range vs {
			b = binary.BigEndian.AppendUint32(b, v)
		}
		return bytes.NewReader(b)
	}
	for _, tc := range []struct {
		draws []uint32
		want  string
	}{
		{[]uint32{123}, "00000123"},
		{[]uint32{4_199_999_999}, "99999999"},
		{[]uint32{4_200_000_000, 7}, "00000007"},
		{[]uint32{0xffffffff, 4_200_000_001, 100_000_042}, "00000042"},
	} {
		r := draws(tc.draws...)
		if got := newEmailCode(r); got != tc.want || r.Len() != 0 {
			t.Errorf("draws %v: code %q (%d bytes left), want %q using every draw", tc.draws, got, r.Len(), tc.want)
		}
	}
}

func TestHashEmailCode(t *testing.T) {
	h := HashEmailCode(codeKey, "attempt-1", "12345678")
	if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		t.Fatalf("hash %q, want 64 hex digits", h)
	}
	if HashEmailCode(codeKey, "attempt-1", "12345678") != h {
		t.Error("hash not deterministic")
	}
	for name, other := range map[string]string{
		"other code":    HashEmailCode(codeKey, "attempt-1", "12345679"),
		"other attempt": HashEmailCode(codeKey, "attempt-2", "12345678"),
		"other key":     HashEmailCode(bytes.Repeat([]byte{8}, 32), "attempt-1", "12345678"),
		// The binding's length is hashed: moving a character across the
		// boundary makes another hash.
		"shifted boundary": HashEmailCode(codeKey, "attempt-11", "2345678"),
	} {
		if other == h {
			t.Errorf("%s: same hash", name)
		}
	}
	if !CheckEmailCode(codeKey, "attempt-1", "12345678", h) {
		t.Error("CheckEmailCode refuses the right code")
	}
	for _, tc := range []struct{ binding, code, hash string }{
		{"attempt-1", "12345679", h},
		{"attempt-2", "12345678", h},
		{"attempt-1", "12345678", ""},
		{"attempt-1", "12345678", strings.ToUpper(h)},
		{"attempt-1", "12345678", h[:63]},
	} {
		if CheckEmailCode(codeKey, tc.binding, tc.code, tc.hash) {
			t.Errorf("CheckEmailCode(%q, %q, %.8q…) accepted", tc.binding, tc.code, tc.hash)
		}
	}
}

// The email code's life, with an injected clock (SECURITY.md family 6).

var t0 = time.Date(2025, 11, 3, 9, 0, 0, 0, time.UTC)

const ttl = 10 * time.Minute

func issued(code string) *EmailCodeState {
	var s EmailCodeState
	s.Issue(codeKey, "attempt-1", code, t0, ttl)
	return &s
}

func TestEmailCodeCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tries    int
		binding  string
		code     string
		at       time.Duration // after t0
		ok, dead bool
		tries2   int // Tries afterwards
	}{
		{"right", 0, "attempt-1", "12345678", time.Minute, true, false, 0},
		{"right with separators", 0, "attempt-1", "1234 5678", time.Minute, true, false, 0},
		{"right at the last instant", 0, "attempt-1", "12345678", ttl - time.Nanosecond, true, false, 0},
		{"right after four wrong", 4, "attempt-1", "12345678", time.Minute, true, false, 4},
		{"wrong", 0, "attempt-1", "87654321", time.Minute, false, false, 1},
		{"malformed counts as wrong", 0, "attempt-1", "1234", time.Minute, false, false, 1},
		{"another attempt's code", 0, "attempt-2", "12345678", time.Minute, false, false, 1},
		{"fifth wrong kills", 4, "attempt-1", "87654321", time.Minute, false, true, 5},
		{"dead after five", 5, "attempt-1", "12345678", time.Minute, false, true, 5},
		{"expired", 0, "attempt-1", "12345678", ttl, false, true, 0},
		{"expired long ago", 2, "attempt-1", "12345678", 24 * time.Hour, false, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := issued("12345678")
			s.Tries = tc.tries
			ok, dead := s.Check(codeKey, tc.binding, tc.code, t0.Add(tc.at))
			if ok != tc.ok || dead != tc.dead || s.Tries != tc.tries2 {
				t.Errorf("Check = ok %v, dead %v, Tries %d; want %v, %v, %d", ok, dead, s.Tries, tc.ok, tc.dead, tc.tries2)
			}
		})
	}
	var none EmailCodeState
	if ok, dead := none.Check(codeKey, "attempt-1", "12345678", t0); ok || !dead {
		t.Errorf("Check on no code = %v, %v; want dead", ok, dead)
	}
}

// TestEmailCodeFiveTriesDeath: five wrong answers in a row, then even the
// right code is refused.
func TestEmailCodeFiveTriesDeath(t *testing.T) {
	s := issued("12345678")
	for i := 1; i <= MaxEmailCodeTries; i++ {
		ok, dead := s.Check(codeKey, "attempt-1", "00000000", t0.Add(time.Second))
		if ok || dead != (i == MaxEmailCodeTries) {
			t.Fatalf("wrong answer %d: ok %v, dead %v", i, ok, dead)
		}
	}
	if ok, dead := s.Check(codeKey, "attempt-1", "12345678", t0.Add(time.Second)); ok || !dead {
		t.Errorf("right code after five wrong: ok %v, dead %v; want refused, dead", ok, dead)
	}
}

// TestEmailCodeResendKeepsTries: a new code does not reset the failures
// (800-63B §3.1.3.2), the old code stops working, and resends are 30 s apart.
func TestEmailCodeResendKeepsTries(t *testing.T) {
	s := issued("11111111")
	now := t0
	for range 3 {
		now = now.Add(time.Second)
		s.Check(codeKey, "attempt-1", "00000000", now)
	}
	if s.CanResend(t0.Add(EmailCodeResendInterval - time.Nanosecond)) {
		t.Error("CanResend before the interval")
	}
	now = t0.Add(EmailCodeResendInterval)
	if !s.CanResend(now) {
		t.Fatal("CanResend refused after the interval")
	}
	s.Issue(codeKey, "attempt-1", "22222222", now, ttl)
	if s.Tries != 3 || !s.SentAt.Equal(now) || !s.ExpiresAt.Equal(now.Add(ttl)) {
		t.Fatalf("after resend: %+v; want Tries 3, sent now, expiring in %v", s, ttl)
	}
	if s.CanResend(now.Add(time.Second)) {
		t.Error("CanResend right after a resend")
	}
	if ok, _ := s.Check(codeKey, "attempt-1", "11111111", now.Add(time.Second)); ok {
		t.Error("the replaced code still works")
	}
	if ok, dead := s.Check(codeKey, "attempt-1", "00000000", now.Add(2*time.Second)); ok || !dead {
		t.Errorf("fifth wrong answer over two codes: ok %v, dead %v; want dead", ok, dead)
	}
	if ok, _ := s.Check(codeKey, "attempt-1", "22222222", now.Add(3*time.Second)); ok {
		t.Error("the new code works after five wrong answers in all")
	}
	var fresh EmailCodeState
	if !fresh.CanResend(t0) {
		t.Error("CanResend refuses the first code")
	}
}

func TestEmailCodeStateJSON(t *testing.T) {
	s := issued("12345678")
	s.Tries = 2
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"hash"`, `"expires_at"`, `"sent_at"`, `"tries":2`} {
		if !strings.Contains(string(raw), key) {
			t.Errorf("JSON %s lacks %s", raw, key)
		}
	}
	if strings.Contains(string(raw), "12345678") {
		t.Errorf("JSON %s holds the code itself", raw)
	}
	var back EmailCodeState
	if err := json.Unmarshal(raw, &back); err != nil || back != *s {
		t.Errorf("round trip = %+v, %v; want %+v", back, err, *s)
	}
}

var parseEmailCodeCases = []struct {
	in   string
	want string
}{
	{"12345678", "12345678"},
	{"1234 5678", "12345678"},
	{"1234-5678", "12345678"},
	{" 12 34 56 78 ", "12345678"},
	{"00000000", "00000000"},
	{"123456", ""},
	{"1234567", ""},
	{"123456789", ""},
	{"1234567a", ""},
	{"１２３４５６７８", ""},
	{"", ""},
}

func TestParseEmailCode(t *testing.T) {
	for _, tc := range parseEmailCodeCases {
		got, err := ParseEmailCode(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrInvalidCode) {
				t.Errorf("ParseEmailCode(%q) = %q, %v; want ErrInvalidCode", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseEmailCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseEmailCode(f *testing.F) {
	for _, tc := range parseEmailCodeCases {
		f.Add(tc.in)
	}
	for _, tc := range parseCodeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) { checkParsed(t, s, EmailCodeDigits, ParseEmailCode) })
}
