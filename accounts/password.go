package accounts

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"runtime"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// MaxPasswordBytes is the longest password accepted: long enough for any
// passphrase, short enough to bound the work per attempt (ASVS V6.2.9: at least
// 64 characters allowed; NIST SP 800-63B §3.1.1.2). Longer passwords are never
// truncated: Hash refuses them and Verify reports no match.
const MaxPasswordBytes = 256

// bcryptMaxBytes is where bcrypt stops reading its input.
const bcryptMaxBytes = 72

// Hasher hashes new passwords with argon2id and verifies stored ones, whether
// ours or imported from the legacy consoles (bcrypt, argon2id with other
// parameters). It is safe for concurrent use.
//
// Every hash and verification holds one of a fixed number of slots, so a flood
// of login attempts queues instead of allocating argon2's memory (19 MiB each)
// without limit (ASVS V6.3.1 defends the account; this defends the process).
// Make one with NewHasher; the zero Hasher is not usable.
type Hasher struct {
	params argonParams
	slots  chan struct{}
	// dummy is an unmatchable hash in our own format, verified in place of an
	// account's hash when there is no account (VerifyDummy).
	dummy string
	// derive computes argon2id; tests swap it to observe concurrency.
	derive func(password, salt []byte, p argonParams) []byte
}

// NewHasher returns a Hasher with OWASP's argon2id parameters that runs at most
// maxConcurrent hashes or verifications at once; 0 or less means
// runtime.NumCPU(), as more in parallel only adds memory, not throughput.
func NewHasher(maxConcurrent int) *Hasher {
	return newHasher(maxConcurrent, owaspParams)
}

// newHasher lets tests use cheaper parameters; production always gets
// owaspParams through NewHasher.
func newHasher(maxConcurrent int, p argonParams) *Hasher {
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.NumCPU()
	}
	h := &Hasher{
		params: p,
		slots:  make(chan struct{}, maxConcurrent),
		derive: argon2Key,
	}
	// A random "hash" with a random salt: same format and parameters as a real
	// one, so verifying against it costs the same, and no password matches it.
	h.dummy = encodeArgon2(p, randomBytes(p.saltLen), randomBytes(p.keyLen))
	return h
}

// Hash returns the PHC string of password under the Hasher's argon2id
// parameters with a fresh 16-byte salt from crypto/rand (ASVS V6.2.x, V11.4.2).
// Password policy (minimum length, breached lists) is the caller's.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	salt := randomBytes(h.params.saltLen)
	key := h.derive([]byte(password), salt, h.params)
	return encodeArgon2(h.params, salt, key), nil
}

// Verify reports whether password matches encoded, and whether encoded should
// be replaced by a fresh Hash of the password after this successful login:
// true for imported bcrypt hashes and for argon2id with parameters other than
// the Hasher's. A malformed or out-of-bounds hash is an error wrapping
// ErrInvalidHash; a cancelled ctx while waiting for a slot is ctx's error.
//
// Passwords over MaxPasswordBytes never match. For bcrypt hashes only the
// first 72 bytes of the password count, exactly as when the legacy console
// created the hash; the hash is replaced by an argon2id one over the whole
// password at that login, which ends the truncation for that account.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, needsRehash bool, err error) {
	parsed, err := parseHash(encoded)
	if err != nil {
		return false, false, err
	}
	if len(password) > MaxPasswordBytes {
		return false, false, nil
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	switch p := parsed.(type) {
	case argon2Hash:
		key := h.derive([]byte(password), p.salt, p.params)
		ok = subtle.ConstantTimeCompare(key, p.key) == 1
		return ok, ok && p.params != h.params, nil
	case bcryptHash:
		pw := []byte(password)
		if len(pw) > bcryptMaxBytes {
			pw = pw[:bcryptMaxBytes]
		}
		// CompareHashAndPassword compares with crypto/subtle.
		ok = bcrypt.CompareHashAndPassword(p.encoded, pw) == nil
		return ok, ok, nil
	default:
		return false, false, fmt.Errorf("%w: unsupported scheme", ErrInvalidHash)
	}
}

// VerifyDummy does the work of a Verify that fails, for logins naming no
// account, so that the answer time does not tell whether an email is registered
// (ASVS V6.3.8). It costs one verification under the Hasher's own parameters;
// accounts still holding an imported bcrypt hash take bcrypt's time instead
// until their first login rehashes them.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, h.dummy, password)
	return err
}

// ValidHashFormat reports whether s is a hash Verify accepts: argon2id in PHC
// form within the bounds of argon2Limits, or bcrypt $2a$/$2b$/$2y$ with a cost
// of at most bcryptMaxCost. It does no hashing. The error wraps ErrInvalidHash.
func ValidHashFormat(s string) error {
	_, err := parseHash(s)
	return err
}

// acquire takes a slot, or gives up when ctx ends first.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

func argon2Key(password, salt []byte, p argonParams) []byte {
	return argon2.IDKey(password, salt, p.time, p.memory, p.threads, uint32(p.keyLen))
}

// randomBytes reads n bytes from crypto/rand, which cannot fail on supported
// platforms (it crashes the program rather than return short).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
