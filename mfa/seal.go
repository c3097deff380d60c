package mfa

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Sealer encrypts secrets kept at rest in the account store (TOTP secrets)
// with AES-256-GCM, so that a copy of the database alone yields none of them
// (ASVS V11.1, V14.2). Safe for concurrent use.
//
// A sealed value is: one version byte, a random 96-bit nonce, the ciphertext
// and the 128-bit tag. The associated data is the version byte and the
// caller's aad: the account id, so that a sealed secret copied to another
// account's row does not open there.
//
// Key rotation (CONTRACT §12): a Sealer may also hold the keys it replaced.
// It seals under the current key only, and opens under any of them; Reopen
// tells the caller when a value was sealed under a previous key, so that it
// is sealed again under the current one when next used.
type Sealer struct {
	aead     cipher.AEAD
	previous []cipher.AEAD // older keys, most recent first
}

const (
	sealVersion1 = 1
	// sealInfo names the derived key's purpose (HKDF info, RFC 5869 §3.2): the
	// session key never encrypts anything itself, and a key derived for
	// another purpose is another key.
	sealInfo = "unigate totp secret v1"
	// MinSealerKeyBytes is the least key material NewSealer accepts.
	MinSealerKeyBytes = 32
)

// NewSealer derives the sealing key from key (the gateway's session key, at
// least MinSealerKeyBytes of random bytes) with HKDF-SHA256. previous are
// the session keys key replaced (secrets.previous_session_key_files): what
// was sealed under them still opens, so rotating the session key locks no
// TOTP user out.
func NewSealer(key []byte, previous ...[]byte) (*Sealer, error) {
	aead, err := newSealAEAD(key)
	if err != nil {
		return nil, err
	}
	s := &Sealer{aead: aead}
	for _, k := range previous {
		old, err := newSealAEAD(k)
		if err != nil {
			return nil, fmt.Errorf("mfa: previous key: %w", err)
		}
		s.previous = append(s.previous, old)
	}
	return s, nil
}

func newSealAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) < MinSealerKeyBytes {
		return nil, fmt.Errorf("mfa: sealer key of %d bytes, want at least %d", len(key), MinSealerKeyBytes)
	}
	derived, err := hkdf.Key(sha256.New, key, nil, sealInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("mfa: sealer key: %w", err)
	}
	block, err := aes.NewCipher(derived)
	if err != nil {
		return nil, fmt.Errorf("mfa: sealer: %w", err)
	}
	// Random nonces: at most a few secrets per account are ever sealed, far
	// below the 2^32 messages a random 96-bit nonce allows under one key.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("mfa: sealer: %w", err)
	}
	return aead, nil
}

// Seal encrypts plaintext bound to aad (the account id).
func (s *Sealer) Seal(plaintext, aad []byte) []byte {
	out := make([]byte, 1, 1+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion1
	return s.aead.Seal(out, nil, plaintext, associatedData(sealVersion1, aad))
}

// Open decrypts what Seal returned for the same aad, under the current key
// or a previous one; ErrSealed otherwise.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	plain, _, err := s.Reopen(sealed, aad)
	return plain, err
}

// Reopen is Open that also reports whether the value was sealed under a
// previous key (stale): the caller should then store Seal(plain, aad).
func (s *Sealer) Reopen(sealed, aad []byte) (plain []byte, stale bool, err error) {
	if len(sealed) < 1+s.aead.Overhead() {
		return nil, false, fmt.Errorf("%w: %d bytes is too short", ErrSealed, len(sealed))
	}
	if sealed[0] != sealVersion1 {
		return nil, false, fmt.Errorf("%w: unknown version %d", ErrSealed, sealed[0])
	}
	ad := associatedData(sealed[0], aad)
	plain, err = s.aead.Open(nil, nil, sealed[1:], ad)
	if err == nil {
		return plain, false, nil
	}
	for _, old := range s.previous {
		if p, oerr := old.Open(nil, nil, sealed[1:], ad); oerr == nil {
			return p, true, nil
		}
	}
	return nil, false, errors.Join(ErrSealed, err)
}

func associatedData(version byte, aad []byte) []byte {
	return append([]byte{version}, aad...)
}
