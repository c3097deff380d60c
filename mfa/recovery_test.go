package mfa

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
)

func TestNewRecoveryCodes(t *testing.T) {
	codes := NewRecoveryCodes()
	if len(codes) != RecoveryCodesPerSet {
		t.Fatalf("got %d codes, want %d", len(codes), RecoveryCodesPerSet)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 11 || c[5] != '-' {
			t.Errorf("code %q is not xxxxx-xxxxx", c)
		}
		canon, err := ParseRecoveryCode(c)
		if err != nil || canon != strings.ReplaceAll(c, "-", "") {
			t.Errorf("ParseRecoveryCode(%q) = %q, %v", c, canon, err)
		}
		if seen[canon] {
			t.Errorf("code %q twice in one set", c)
		}
		seen[canon] = true
	}
}

// Every character of the alphabet is drawn about as often as the others.
func TestRecoveryCodeDistribution(t *testing.T) {
	counts := map[rune]int{}
	const sets = 400
	for range sets {
		for _, c := range newRecoveryCodes(rand.Reader) {
			for _, r := range strings.ReplaceAll(c, "-", "") {
				counts[r]++
			}
		}
	}
	if len(counts) != len(RecoveryAlphabet) {
		t.Fatalf("drew %d distinct characters, want %d", len(counts), len(RecoveryAlphabet))
	}
	want := sets * RecoveryCodesPerSet * RecoveryCodeLen / len(RecoveryAlphabet) // 1290
	for r, n := range counts {
		if n < want*7/10 || n > want*13/10 {
			t.Errorf("character %q drawn %d times, want about %d", r, n, want)
		}
	}
}

var recoveryParseCases = []struct {
	in, want string // want "" means refused
}{
	{"abcde-fghjk", "abcdefghjk"},
	{"ABCDE-FGHJK", "abcdefghjk"},
	{"abcdefghjk", "abcdefghjk"},
	{" abcde fghjk ", "abcdefghjk"},
	{"ab-cd-ef-gh-jk", "abcdefghjk"},
	{"AbCdE\tfGhJk", "abcdefghjk"},
	{"23456-789ab", "23456789ab"},
	{"abcde-fghj", ""},   // 9 characters
	{"abcde-fghjkm", ""}, // 11
	{"abcde-fghj0", ""},  // 0 is not in the alphabet
	{"abcde-fghjl", ""},  // nor l
	{"abcde-fghji", ""},  // nor i
	{"abcde-fghj1", ""},  // nor 1
	{"abcde_fghjk", ""},  // underscore
	{"abcdé-fghjk", ""},  // non-ASCII
	{"ＡＢＣＤＥ-fghjk", ""},  // full-width
	{"", ""},
	{"-----", ""},
	{"abcde-fghjk\x00", ""},
	{strings.Repeat(" ", 60) + "abcdefghjk", ""},
}

func TestParseRecoveryCode(t *testing.T) {
	for _, tc := range recoveryParseCases {
		got, err := ParseRecoveryCode(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseRecoveryCode(%q) = %q, want refused", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRecoveryCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestHashRecoveryCode(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	h := HashRecoveryCode(key, "acct-1", "abcdefghjk")
	if !RecoveryCodeMatches(h, HashRecoveryCode(key, "acct-1", "abcdefghjk")) {
		t.Fatal("the same code does not match")
	}
	for name, other := range map[string][]byte{
		"other account": HashRecoveryCode(key, "acct-2", "abcdefghjk"),
		"other code":    HashRecoveryCode(key, "acct-1", "abcdefghjm"),
		"other key":     HashRecoveryCode(bytes.Repeat([]byte{8}, 32), "acct-1", "abcdefghjk"),
		"shifted":       HashRecoveryCode(key, "acct-1a", "bcdefghjk"),
		"short":         h[:16],
	} {
		if RecoveryCodeMatches(h, other) {
			t.Errorf("%s matches", name)
		}
	}
}

// FuzzParseRecoveryCode: never panics; what it accepts is canonical (10
// characters of the alphabet), parses to itself, and is the input without
// spaces, tabs and dashes, lower-cased.
func FuzzParseRecoveryCode(f *testing.F) {
	for _, tc := range recoveryParseCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseRecoveryCode(in)
		if err != nil {
			return
		}
		if len(got) != RecoveryCodeLen || strings.Trim(got, RecoveryAlphabet) != "" {
			t.Fatalf("ParseRecoveryCode(%q) = %q: not canonical", in, got)
		}
		if again, err := ParseRecoveryCode(got); err != nil || again != got {
			t.Fatalf("canonical %q parses to %q, %v", got, again, err)
		}
		stripped := strings.ToLower(strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(in))
		if stripped != got {
			t.Fatalf("ParseRecoveryCode(%q) = %q, want %q", in, got, stripped)
		}
	})
}
