package unify

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"unigate/mfa"
)

// sealers are the two uses of the session key here: TOTP secrets, sealed
// exactly as the gateway seals and opens them (mfa.Sealer, the account id as
// associated data), and the stored source lines, under a key of their own
// derived from the session key (HKDF info below), bound to their source and
// record id: a Dedibox line holds a TOTP secret in clear, and a copy of the
// database alone must yield none (ASVS V11.1, V14.2, as for mfa.Sealer).
type sealers struct {
	totp    *mfa.Sealer
	records *mfa.Sealer
}

// recordsKeyInfo names the key of the stored lines (HKDF info, RFC 5869
// §3.2): another purpose, another key.
const recordsKeyInfo = "unigate legacy records v1"

func newSealers(sessionKey []byte, previous ...[]byte) (*sealers, error) {
	totp, err := mfa.NewSealer(sessionKey)
	if err != nil {
		return nil, fmt.Errorf("unify: %w", err)
	}
	sub, err := hkdf.Key(sha256.New, sessionKey, nil, recordsKeyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("unify: %w", err)
	}
	var older [][]byte
	for _, k := range previous {
		old, err := hkdf.Key(sha256.New, k, nil, recordsKeyInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("unify: %w", err)
		}
		older = append(older, old)
	}
	records, err := mfa.NewSealer(sub, older...)
	if err != nil {
		return nil, fmt.Errorf("unify: %w", err)
	}
	return &sealers{totp: totp, records: records}, nil
}

func recordAAD(source, id string) []byte { return []byte(source + "\x00" + id) }

func (s *sealers) sealRecord(source, id string, raw []byte) []byte {
	return s.records.Seal(raw, recordAAD(source, id))
}

func (s *sealers) openRecord(source, id string, sealed []byte) ([]byte, error) {
	return s.records.Open(sealed, recordAAD(source, id))
}
