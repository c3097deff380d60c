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
type Sealer struct {
	aead cipher.AEAD
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
// least MinSealerKeyBytes of random bytes) with HKDF-SHA256. Rotating key
// makes every sealed secret unreadable: TOTP must then be enrolled again.
func NewSealer(key []byte) (*Sealer, error) {
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
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad (the account id).
func (s *Sealer) Seal(plaintext, aad []byte) []byte {
	out := make([]byte, 1, 1+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion1
	return s.aead.Seal(out, nil, plaintext, associatedData(sealVersion1, aad))
}

// Open decrypts what Seal returned for the same aad; ErrSealed otherwise.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1+s.aead.Overhead() {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrSealed, len(sealed))
	}
	if sealed[0] != sealVersion1 {
		return nil, fmt.Errorf("%w: unknown version %d", ErrSealed, sealed[0])
	}
	plain, err := s.aead.Open(nil, nil, sealed[1:], associatedData(sealed[0], aad))
	if err != nil {
		return nil, errors.Join(ErrSealed, err)
	}
	return plain, nil
}

func associatedData(version byte, aad []byte) []byte {
	return append([]byte{version}, aad...)
}
