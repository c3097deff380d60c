package mfa

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"time"
)

// One-time codes sent by email (CONTRACT §5, §9): 8 digits, single use,
// short-lived, bound to the login attempt that asked for them, dead after
// five wrong tries, and a resend does not reset the count (ASVS V6.6,
// NIST SP 800-63B §3.1.3.2).
const (
	EmailCodeDigits = 8
	// MaxEmailCodeTries wrong answers kill the attempt's code.
	MaxEmailCodeTries = 5
	// EmailCodeResendInterval is the least time between two codes for one attempt.
	EmailCodeResendInterval = 30 * time.Second
)

// NewEmailCode returns EmailCodeDigits decimal digits drawn uniformly from
// crypto/rand (26.6 bits).
func NewEmailCode() string { return newEmailCode(rand.Reader) }

// newEmailCode draws from r by rejection sampling: a 32-bit value at or
// above the largest multiple of 10^8 is drawn again, so that every code is
// equally likely (a plain modulo would favour the low ones).
func newEmailCode(r io.Reader) string {
	const space = 100_000_000 // 10^EmailCodeDigits
	const limit = (1 << 32) / space * space
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			panic("mfa: random source failed: " + err.Error()) // crypto/rand never fails
		}
		if v := binary.BigEndian.Uint32(b[:]); v < limit {
			return fmt.Sprintf("%0*d", EmailCodeDigits, v%space)
		}
	}
}

// ParseEmailCode reads an email code as typed or pasted: exactly
// EmailCodeDigits ASCII digits, spaces and dashes allowed between them.
func ParseEmailCode(s string) (string, error) { return parseDigits(s, EmailCodeDigits) }

// HashEmailCode is what is kept of a code: HMAC-SHA256 under key of the
// binding (the login attempt's id) and the code, in hex. The code itself is
// stored nowhere, and a code checked under another binding does not match.
func HashEmailCode(key []byte, binding, code string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("unigate email code v1\x00"))
	// The binding's length first, so that no other (binding, code) pair
	// hashes the same bytes.
	mac.Write(binary.AppendUvarint(nil, uint64(len(binding))))
	mac.Write([]byte(binding))
	mac.Write([]byte(code))
	return hex.EncodeToString(mac.Sum(nil))
}

// CheckEmailCode compares code with hash in constant time.
func CheckEmailCode(key []byte, binding, code, hash string) bool {
	want := HashEmailCode(key, binding, code)
	return subtle.ConstantTimeCompare([]byte(want), []byte(hash)) == 1
}

// EmailCodeState is one login attempt's email code, kept in its session.
// The zero value holds no code.
type EmailCodeState struct {
	Hash      string    `json:"hash"` // HashEmailCode of the code last sent
	ExpiresAt time.Time `json:"expires_at"`
	SentAt    time.Time `json:"sent_at"`
	// Tries counts wrong answers over every code of the attempt: a resend
	// keeps it (800-63B §3.1.3.2).
	Tries int `json:"tries"`
}

// Issue records a newly sent code, valid for ttl (at most 10 minutes:
// SECURITY.md). Tries is kept: asking for another code does not buy guesses.
func (s *EmailCodeState) Issue(key []byte, binding, code string, now time.Time, ttl time.Duration) {
	s.Hash = HashEmailCode(key, binding, code)
	s.SentAt = now
	s.ExpiresAt = now.Add(ttl)
}

// CanResend reports whether another code may be sent: EmailCodeResendInterval
// after the last one.
func (s *EmailCodeState) CanResend(now time.Time) bool {
	return s.SentAt.IsZero() || now.Sub(s.SentAt) >= EmailCodeResendInterval
}

// Check answers one attempt at the code. ok: the code is right; the caller
// must then clear the state (single use). dead: the code can no longer be
// used (none issued, expired, or MaxEmailCodeTries wrong answers, this one
// included); the caller may drop it. A wrong answer adds one to Tries, so
// the caller must store the state back after every Check. code may be raw
// input: anything ParseEmailCode refuses is a wrong answer.
func (s *EmailCodeState) Check(key []byte, binding, code string, now time.Time) (ok, dead bool) {
	if s.Hash == "" || !now.Before(s.ExpiresAt) || s.Tries >= MaxEmailCodeTries {
		return false, true
	}
	if c, err := ParseEmailCode(code); err == nil && CheckEmailCode(key, binding, c, s.Hash) {
		return true, false
	}
	s.Tries++
	return false, s.Tries >= MaxEmailCodeTries
}
