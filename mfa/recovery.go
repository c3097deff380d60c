package mfa

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"strings"
)

// Recovery codes (CONTRACT §10): a set of 10 single-use codes handed out
// when the first second factor is enrolled, for the day the phone or the
// security key is lost. Each is 10 characters of an alphabet without the
// look-alikes 0/o, 1/l/i, shown as xxxxx-xxxxx: 31^10 ≈ 2^49.5 per code,
// which with the failure counters is far beyond guessing (800-63B §5.1.2.2
// asks 64 bits for codes a verifier stores unhashed; these are stored only
// as keyed hashes and each guess is counted).

const (
	// RecoveryAlphabet is the characters a recovery code is made of.
	RecoveryAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"
	// RecoveryCodeLen is the number of characters of a code, dash excluded.
	RecoveryCodeLen = 10
	// RecoveryCodesPerSet is how many codes a set holds.
	RecoveryCodesPerSet = 10
)

// ErrNotRecoveryCode: the input is not the shape of a recovery code.
var ErrNotRecoveryCode = errors.New("mfa: not a recovery code")

// NewRecoveryCodes draws a set of RecoveryCodesPerSet codes from crypto/rand,
// in their display form (xxxxx-xxxxx), all different.
func NewRecoveryCodes() []string { return newRecoveryCodes(rand.Reader) }

func newRecoveryCodes(r io.Reader) []string {
	seen := make(map[string]bool, RecoveryCodesPerSet)
	out := make([]string, 0, RecoveryCodesPerSet)
	for len(out) < RecoveryCodesPerSet {
		c := newRecoveryCode(r)
		if !seen[c] {
			seen[c] = true
			out = append(out, c[:5]+"-"+c[5:])
		}
	}
	return out
}

// newRecoveryCode draws RecoveryCodeLen characters by rejection sampling
// (bytes at or above 248 = 8*31 are drawn again), so that every character
// is equally likely.
func newRecoveryCode(r io.Reader) string {
	const n = len(RecoveryAlphabet)
	const limit = 256 / n * n
	var code [RecoveryCodeLen]byte
	var b [1]byte
	for i := 0; i < RecoveryCodeLen; {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			panic("mfa: random source failed: " + err.Error()) // crypto/rand never fails
		}
		if int(b[0]) < limit {
			code[i] = RecoveryAlphabet[int(b[0])%n]
			i++
		}
	}
	return string(code[:])
}

// ParseRecoveryCode reads a recovery code as typed or pasted: any case, with
// or without the dash, spaces anywhere; it answers the canonical form (10
// lower-case characters, no dash) that is hashed. Anything else, including
// a character outside the alphabet, is ErrNotRecoveryCode.
func ParseRecoveryCode(s string) (string, error) {
	if len(s) > 64 { // a code with generous spacing fits; a paste of a page does not
		return "", ErrNotRecoveryCode
	}
	var b strings.Builder
	b.Grow(RecoveryCodeLen)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == '\t':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if strings.IndexByte(RecoveryAlphabet, c) < 0 || b.Len() == RecoveryCodeLen {
			return "", ErrNotRecoveryCode
		}
		b.WriteByte(c)
	}
	if b.Len() != RecoveryCodeLen {
		return "", ErrNotRecoveryCode
	}
	return b.String(), nil
}

// HashRecoveryCode is what the store keeps of a code: HMAC-SHA256 under key
// of the account id and the canonical code. Keyed, so that a stolen table
// cannot be searched offline without the key; bound to the account, so
// that one account's hashes are useless for another.
func HashRecoveryCode(key []byte, accountID, canonical string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("unigate recovery code v1\x00"))
	mac.Write([]byte(accountID))
	mac.Write([]byte{0})
	mac.Write([]byte(canonical))
	return mac.Sum(nil)
}

// RecoveryCodeMatches compares a stored keyed hash with the hash of a
// presented code in constant time.
func RecoveryCodeMatches(stored, presented []byte) bool {
	return len(stored) == len(presented) && subtle.ConstantTimeCompare(stored, presented) == 1
}
