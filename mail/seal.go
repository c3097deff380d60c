package mail

import (
	"bytes"
	"errors"
)

// Sealer encrypts the message bodies the outbox keeps until they are sent
// (an mfa.Sealer under a key of its own, see OutboxKeyInfo). A body holds a
// one-time code or an invitation link: sealed, a copy of the database alone
// yields neither, while the message waits, nor after it was given up
// (issue 16, finding 18; ASVS V11.1, V14.2).
type Sealer interface {
	Seal(plaintext, aad []byte) []byte
	Open(sealed, aad []byte) ([]byte, error)
}

// OutboxKeyInfo names the outbox's key (HKDF info, RFC 5869 §3.2): the
// caller derives it from the session key for this purpose alone, as unify
// derives the key of its stored records, and makes an mfa.Sealer of it.
// Rotating the session key makes the bodies still queued unreadable: they
// are given up, and a code is asked for again.
const OutboxKeyInfo = "unigate outbox bodies v1"

// sealedPrefix marks a sealed body in the outbox. No RFC 5322 message
// begins with a NUL byte, so a body stored in clear (queued before sealing,
// or by an Outbox without a Sealer) is told apart and still sent.
const sealedPrefix = "\x00unigate-sealed-v1\x00"

// errSealedNoKey: a sealed body and no Sealer to open it.
var errSealedNoKey = errors.New("mail: the body is sealed and the sender has no key to open it")

// sealAAD binds a sealed body to its message: copied to another row or
// recipient, it does not open.
func sealAAD(key, to string) []byte { return []byte("outbox\x00" + key + "\x00" + to) }

// sealBody is raw sealed for the message key to to.
func sealBody(s Sealer, key, to string, raw []byte) []byte {
	sealed := s.Seal(raw, sealAAD(key, to))
	return append([]byte(sealedPrefix), sealed...)
}

// openBody is the message as sealBody had it, or stored itself when it is
// in clear.
func openBody(s Sealer, key, to string, stored []byte) ([]byte, error) {
	sealed, ok := bytes.CutPrefix(stored, []byte(sealedPrefix))
	if !ok {
		return stored, nil
	}
	if s == nil {
		return nil, errSealedNoKey
	}
	return s.Open(sealed, sealAAD(key, to))
}
