package upstreams

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// AssertionLifetime is the life of an assertion (exp - iat); CONTRACT §6
// allows at most five minutes. A cached assertion is reused while more than
// assertionRefresh of it remains; while one caller re-signs, the others may
// still get the current one down to assertionMinLeft, never below, so an
// upstream always has time (and clock-skew room) to verify it.
const (
	AssertionLifetime = 5 * time.Minute
	assertionRefresh  = 60 * time.Second
	assertionMinLeft  = 30 * time.Second
)

// Cache bounds. An entry holds one token (~700 bytes) and a copy of the
// Identity (its strings shared with the caller's), about 1 KiB in all, so
// the cache tops out near assertionCacheMax KiB (32 MiB) whatever the load.
// Beyond that many identities active within five minutes on one replica,
// tokens are re-signed more often; nothing else changes.
const (
	assertionShards   = 64 // power of two
	assertionCacheMax = 1 << 15
	sweepEvery        = 256 // inserts per shard between sweeps of expired entries
)

// Signer signs identity assertions (ES256 JWTs) for the upstreams and
// publishes the public key as a JWKS. It is safe for concurrent use.
//
// An ES256 signature costs tens of microseconds of CPU, as much as the rest
// of the proxying, for a token that stays valid for minutes; so a signed
// token is cached per identity and reused until less than a minute of its
// five remains. The cache is keyed by a seeded (unpredictable) 64-bit
// hash of every identity field; a hit is only taken after comparing every
// field with the cached identity, so two identities can never share a token,
// even on a hash collision.
type Signer struct {
	signer jose.Signer
	issuer string
	now    func() time.Time
	kid    string
	jwks   []byte

	seed        maphash.Seed
	maxPerShard int
	shards      [assertionShards]assertionShard
}

type assertionShard struct {
	mu      sync.RWMutex
	m       map[uint64]*assertionEntry
	inserts uint32
	_       [64]byte // keeps the hot words of neighbouring shards on separate cache lines
}

// assertionEntry is immutable once stored, except for the refreshing flag.
type assertionEntry struct {
	id         Identity
	token      string
	expires    int64 // unix nanoseconds
	refreshing atomic.Bool
}

// NewSigner returns a Signer for an EC P-256 private key. issuer is the
// gateway's public_url (the iss claim); now is the clock (nil: time.Now),
// injected so that expiry is tested without sleeping.
func NewSigner(key *ecdsa.PrivateKey, issuer string, now func() time.Time) (*Signer, error) {
	return NewRotatedSigner(key, nil, issuer, now)
}

// NewRotatedSigner is NewSigner after a key rotation (CONTRACT §12): the
// public keys of previous (secrets.previous_signing_key_files) stay in the
// JWKS, each under its own kid, so that a console still verifies the
// assertions signed before the rotation until they expire; only key signs.
func NewRotatedSigner(key *ecdsa.PrivateKey, previous []*ecdsa.PublicKey, issuer string, now func() time.Time) (*Signer, error) {
	if key == nil {
		return nil, errors.New("upstreams: nil signing key")
	}
	if key.Curve != elliptic.P256() {
		return nil, errors.New("upstreams: signing key must be EC P-256 (ES256)")
	}
	if issuer == "" {
		return nil, errors.New("upstreams: empty assertion issuer")
	}
	if now == nil {
		now = time.Now
	}
	pub := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(jose.ES256), Use: "sig"}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("upstreams: key thumbprint: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(thumb)
	pub.KeyID = kid
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}}
	for _, k := range previous {
		if k == nil || k.Curve != elliptic.P256() {
			return nil, errors.New("upstreams: previous signing keys must be EC P-256 (ES256)")
		}
		old := jose.JSONWebKey{Key: k, Algorithm: string(jose.ES256), Use: "sig"}
		thumb, err := old.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("upstreams: key thumbprint: %w", err)
		}
		if old.KeyID = base64.RawURLEncoding.EncodeToString(thumb); old.KeyID == kid {
			continue // the current key listed as previous too: published once
		}
		set.Keys = append(set.Keys, old)
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("upstreams: JWKS: %w", err)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return nil, fmt.Errorf("upstreams: signer: %w", err)
	}
	s := &Signer{
		signer:      signer,
		issuer:      issuer,
		now:         now,
		kid:         kid,
		jwks:        jwks,
		seed:        maphash.MakeSeed(),
		maxPerShard: assertionCacheMax / assertionShards,
	}
	for i := range s.shards {
		s.shards[i].m = make(map[uint64]*assertionEntry)
	}
	return s, nil
}

// KeyID returns the kid of the signing key: its RFC 7638 JWK thumbprint
// (SHA-256, base64url), stable for a key across restarts and replicas.
func (s *Signer) KeyID() string { return s.kid }

// JWKS returns the JSON Web Key Set served at /.well-known/jwks.json: the
// public keys only (the signing key first, then the previous ones), each
// with kid, "alg":"ES256" and "use":"sig". The slice is a copy that the
// caller may keep.
func (s *Signer) JWKS() []byte { return append([]byte(nil), s.jwks...) }

// assertionClaims is the JWT body (CONTRACT §6).
type assertionClaims struct {
	Issuer           string   `json:"iss"`
	Subject          string   `json:"sub"`
	Audience         string   `json:"aud"`
	Email            string   `json:"email"`
	ConsoleAccountID string   `json:"console_account_id"`
	OrgID            string   `json:"org_id,omitempty"`
	Role             string   `json:"role,omitempty"`
	AMR              []string `json:"amr,omitempty"`
	AuthTime         int64    `json:"auth_time,omitempty"`
	SessionID        string   `json:"sid"`
	IssuedAt         int64    `json:"iat"`
	Expiry           int64    `json:"exp"`
}

// Assertion returns a signed JWT for id: ES256 with kid and typ JWT; iss,
// sub (user id), aud (console id), email, console_account_id, org_id and
// role (when an organization is selected), amr and auth_time (the method and
// Unix time of the session's last proof, CONTRACT §11), sid, iat, exp
// (iat + 5 min).
//
// The token is cached per identity: the hit path takes a read lock, hashes
// and compares the identity, and allocates nothing. Near expiry one caller
// re-signs while concurrent callers keep getting the old, still valid token.
func (s *Signer) Assertion(id *Identity) (string, error) {
	if id == nil {
		return "", fmt.Errorf("%w: nil", ErrBadIdentity)
	}
	key := s.hashIdentity(id)
	sh := &s.shards[key&(assertionShards-1)]
	now := s.now()

	sh.mu.RLock()
	e := sh.m[key]
	sh.mu.RUnlock()
	if e != nil && e.id.equal(id) {
		left := time.Duration(e.expires - now.UnixNano())
		if left > assertionRefresh {
			return e.token, nil
		}
		// Near expiry: the first caller re-signs; the others keep using
		// the current token while it still has a safe margin.
		if !e.refreshing.CompareAndSwap(false, true) && left > assertionMinLeft {
			return e.token, nil
		}
	}
	return s.signAndStore(id, key, sh, now)
}

func (s *Signer) signAndStore(id *Identity, key uint64, sh *assertionShard, now time.Time) (string, error) {
	if err := id.Validate(); err != nil {
		return "", err
	}
	iat := now.Truncate(time.Second)
	exp := iat.Add(AssertionLifetime)
	claims := assertionClaims{
		Issuer:           s.issuer,
		Subject:          id.UserID,
		Audience:         id.Console,
		Email:            id.Email,
		ConsoleAccountID: id.ConsoleAccountID,
		AMR:              id.AMR,
		AuthTime:         id.AuthTime,
		SessionID:        id.SessionID,
		IssuedAt:         iat.Unix(),
		Expiry:           exp.Unix(),
	}
	if id.OrganizationID != "" {
		claims.OrgID = id.OrganizationID
		claims.Role = id.OrganizationRole
	}
	payload, err := json.Marshal(&claims)
	if err != nil {
		return "", fmt.Errorf("upstreams: assertion claims: %w", err)
	}
	jws, err := s.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("upstreams: signing assertion: %w", err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("upstreams: serializing assertion: %w", err)
	}

	e := &assertionEntry{id: *id, token: token, expires: exp.UnixNano()}
	e.id.AMR = append([]string(nil), id.AMR...) // the caller may reuse its slice
	nowNs := now.UnixNano()
	sh.mu.Lock()
	sh.inserts++
	if sh.inserts%sweepEvery == 0 || len(sh.m) >= s.maxPerShard {
		sh.sweep(nowNs, s.maxPerShard)
	}
	sh.m[key] = e
	sh.mu.Unlock()
	return token, nil
}

// sweep drops expired entries and, if the shard is still full, an arbitrary
// eighth of it (map order is random), so memory stays bounded under any mix
// of identities. Called with the write lock held.
func (sh *assertionShard) sweep(nowNs int64, max int) {
	for k, e := range sh.m {
		if e.expires-nowNs <= int64(assertionMinLeft) {
			delete(sh.m, k)
		}
	}
	if len(sh.m) < max {
		return
	}
	drop := max/8 + 1
	for k := range sh.m {
		if drop == 0 {
			break
		}
		delete(sh.m, k)
		drop--
	}
}

// hashIdentity hashes every field that goes into the assertion, each
// followed by a separator so that field boundaries cannot shift.
func (s *Signer) hashIdentity(id *Identity) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	for _, f := range [...]string{
		id.UserID, id.Email, id.Console, id.ConsoleAccountID,
		id.OrganizationID, id.OrganizationRole, id.MFA, id.SessionID,
	} {
		h.WriteString(f)
		h.WriteByte(0)
	}
	if id.Prelinked {
		h.WriteByte(1)
	} else {
		h.WriteByte(0)
	}
	var at [8]byte
	binary.LittleEndian.PutUint64(at[:], uint64(id.AuthTime))
	h.Write(at[:])
	for _, m := range id.AMR {
		h.WriteString(m)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// cacheLen reports the number of cached assertions (tests).
func (s *Signer) cacheLen() int {
	n := 0
	for i := range s.shards {
		s.shards[i].mu.RLock()
		n += len(s.shards[i].m)
		s.shards[i].mu.RUnlock()
	}
	return n
}
