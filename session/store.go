package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// What both stores share: argument checks, the stored forms of sessions and
// handoffs. Keeping them here is what makes the two stores behave alike.

// tokenLen is the length of a token from NewToken: 32 bytes in unpadded base64url.
const tokenLen = 43

// handleLen is the length of a handle from HandleOf: hex of a SHA-256.
const handleLen = 2 * sha256.Size

// validHandle reports whether h can be a handle. Anything else is answered
// with ErrNotFound without asking the backend: handles come from cookies and
// from the session-revocation API, i.e. from clients.
func validHandle(h string) bool {
	if len(h) != handleLen {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// validToken reports whether t has the shape NewToken gives: 43 characters of
// base64url without padding that decode to exactly 32 bytes (the last
// character's unused bits must be zero, so one token has one spelling).
func validToken(t string) bool {
	if len(t) != tokenLen {
		return false
	}
	var b [32]byte
	n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(t))
	return err == nil && n == len(b)
}

// sessionTTL is how long a session key may live: the idle timeout, cut short
// by the absolute expiry so that no key outlives its session (ASVS V7.3.1,
// V7.3.2). ok is false when the session is already past its absolute expiry.
func sessionTTL(s *Session, idle time.Duration, now time.Time) (ttl time.Duration, ok bool) {
	left := s.ExpiresAt.Sub(now)
	if left <= 0 {
		return 0, false
	}
	return min(idle, left), true
}

// checkSession rejects what no store may keep: a session without an absolute
// expiry would live as long as it is used (ASVS V7.3.2), and a non-positive
// TTL would make a key without expiry.
func checkSession(s *Session, ttl time.Duration) error {
	switch {
	case s == nil:
		return errors.New("session: nil session")
	case ttl <= 0:
		return fmt.Errorf("session: idle ttl must be positive, got %v", ttl)
	case s.ExpiresAt.IsZero():
		return errors.New("session: ExpiresAt (absolute timeout) must be set")
	}
	return nil
}

// prepareNew fills the timestamps of a session being created and returns its
// stored form and key TTL. It fails if the session is already expired.
func prepareNew(s *Session, ttl time.Duration, now time.Time) ([]byte, time.Duration, error) {
	if err := checkSession(s, ttl); err != nil {
		return nil, 0, err
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	if s.LastSeenAt.IsZero() {
		s.LastSeenAt = now
	}
	keyTTL, ok := sessionTTL(s, ttl, now)
	if !ok {
		return nil, 0, errors.New("session: ExpiresAt is in the past")
	}
	data, err := json.Marshal(s)
	if err != nil {
		return nil, 0, fmt.Errorf("session: encoding session: %w", err)
	}
	return data, keyTTL, nil
}

// decodeSession reads a stored session and reports whether it is still
// within its absolute lifetime.
func decodeSession(handle string, data []byte, now time.Time) (s *Session, live bool, err error) {
	s = new(Session)
	if err := json.Unmarshal(data, s); err != nil {
		return nil, false, fmt.Errorf("session: decoding stored session: %w", err)
	}
	s.Handle = handle
	return s, now.Before(s.ExpiresAt), nil
}

// indexTTLSlack keeps an account's session index alive a while after the
// absolute expiry of its longest-lived session, so that clock skew between
// replicas and Redis can never leave a live session out of the index (and
// so out of reach of "end my other sessions", ASVS V7.5.2).
const indexTTLSlack = time.Hour

// Handoff records carry a session token. They are stored sealed with
// AES-256-GCM under a key derived from the code itself, and keyed by the
// code's SHA-256, so a dump of the store yields neither a usable code nor
// the token (the same promise as for sessions, ASVS V7.2.3).
const handoffInfo = "unigate session handoff v1"

// sealHandoff encrypts h so that only the holder of code can read it.
func sealHandoff(code string, h Handoff) ([]byte, error) {
	aead, err := handoffAEAD(code)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("session: encoding handoff: %w", err)
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	rand.Read(nonce) // never fails (crypto/rand since Go 1.24)
	return aead.Seal(nonce, nonce, plain, nil), nil
}

// openHandoff is the inverse of sealHandoff. A record that does not open is
// treated as absent: it cannot have been written for this code.
func openHandoff(code string, sealed []byte) (Handoff, error) {
	aead, err := handoffAEAD(code)
	if err != nil {
		return Handoff{}, err
	}
	n := aead.NonceSize()
	if len(sealed) < n {
		return Handoff{}, ErrNotFound
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return Handoff{}, ErrNotFound
	}
	var h Handoff
	if err := json.Unmarshal(plain, &h); err != nil {
		return Handoff{}, fmt.Errorf("session: decoding handoff: %w", err)
	}
	return h, nil
}

func handoffAEAD(code string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(code), nil, handoffInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("session: handoff key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("session: handoff key: %w", err)
	}
	return cipher.NewGCM(block)
}

// checkWindow rejects a counter window that would make a counter without expiry.
func checkWindow(window time.Duration) error {
	if window <= 0 {
		return fmt.Errorf("session: counter window must be positive, got %v", window)
	}
	return nil
}
