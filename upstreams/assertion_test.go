package upstreams

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const testIssuer = "https://account.example.test"

type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2025, 11, 3, 12, 0, 0, 500_000_000, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func mustKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func mustSigner(tb testing.TB, clock *fakeClock) *Signer {
	tb.Helper()
	var now func() time.Time
	if clock != nil {
		now = clock.Now
	}
	s, err := NewSigner(mustKey(tb), testIssuer, now)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func testIdentity() *Identity {
	return &Identity{
		UserID:           "6f1c1b1e-1111-4a4a-9b9b-000000000001",
		Email:            "alice@example.test",
		Console:          "dedibox",
		ConsoleAccountID: "12345",
		OrganizationID:   "org-1",
		OrganizationRole: "admin",
		MFA:              "totp",
		Prelinked:        true,
		SessionID:        "sess-opaque-1",
		AMR:              []string{"pwd", "otp"},
		AuthTime:         1_780_000_000,
	}
}

// verifyAssertion checks the token against the JWKS, as a console would, and
// returns its claims and header.
func verifyAssertion(tb testing.TB, s *Signer, token string) (map[string]any, jose.Header) {
	tb.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(s.JWKS(), &set); err != nil {
		tb.Fatalf("JWKS: %v", err)
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		tb.Fatalf("ParseSigned: %v", err)
	}
	if len(tok.Headers) != 1 {
		tb.Fatalf("%d headers", len(tok.Headers))
	}
	h := tok.Headers[0]
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		tb.Fatalf("kid %q: %d keys in JWKS", h.KeyID, len(keys))
	}
	claims := map[string]any{}
	var std jwt.Claims
	if err := tok.Claims(keys[0].Key, &claims, &std); err != nil {
		tb.Fatalf("verify: %v", err)
	}
	return claims, h
}

func TestSignerKeyAndJWKS(t *testing.T) {
	key := mustKey(t)
	s, err := NewSigner(key, testIssuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 7638 §3.2: required members in lexicographic order, no spaces.
	b64 := base64.RawURLEncoding
	x := b64.EncodeToString(key.PublicKey.X.FillBytes(make([]byte, 32)))
	y := b64.EncodeToString(key.PublicKey.Y.FillBytes(make([]byte, 32)))
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	if want := b64.EncodeToString(sum[:]); s.KeyID() != want {
		t.Errorf("KeyID() = %q, want %q", s.KeyID(), want)
	}

	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(s.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("%d keys", len(doc.Keys))
	}
	k := doc.Keys[0]
	want := map[string]any{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": s.KeyID(), "x": x, "y": y}
	for name, v := range want {
		if k[name] != v {
			t.Errorf("JWKS %s = %v, want %v", name, k[name], v)
		}
	}
	if _, ok := k["d"]; ok {
		t.Error("JWKS holds the private key")
	}
	j := s.JWKS()
	j[0] = 'X'
	if s.JWKS()[0] != '{' {
		t.Error("JWKS() returns shared memory")
	}
}

func TestNewSignerRejects(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigner(nil, testIssuer, nil); err == nil {
		t.Error("nil key accepted")
	}
	if _, err := NewSigner(p384, testIssuer, nil); err == nil {
		t.Error("P-384 key accepted for ES256")
	}
	if _, err := NewSigner(mustKey(t), "", nil); err == nil {
		t.Error("empty issuer accepted")
	}
}

func TestAssertionClaims(t *testing.T) {
	clock := newFakeClock()
	s := mustSigner(t, clock)
	id := testIdentity()
	token, err := s.Assertion(id)
	if err != nil {
		t.Fatal(err)
	}
	claims, h := verifyAssertion(t, s, token)
	if h.KeyID != s.KeyID() {
		t.Errorf("kid %q, want %q", h.KeyID, s.KeyID())
	}
	if h.Algorithm != "ES256" {
		t.Errorf("alg %q", h.Algorithm)
	}
	if typ := h.ExtraHeaders["typ"]; typ != "JWT" {
		t.Errorf("typ %v, want JWT", typ)
	}
	now := clock.Now()
	want := map[string]any{
		"iss":                testIssuer,
		"sub":                id.UserID,
		"aud":                id.Console,
		"email":              id.Email,
		"console_account_id": id.ConsoleAccountID,
		"org_id":             id.OrganizationID,
		"role":               id.OrganizationRole,
		"sid":                id.SessionID,
		"auth_time":          float64(id.AuthTime),
		"iat":                float64(now.Unix()),
		"exp":                float64(now.Unix() + 300),
	}
	for name, v := range want {
		if claims[name] != v {
			t.Errorf("claim %s = %v, want %v", name, claims[name], v)
		}
	}
	amr, _ := claims["amr"].([]any)
	if len(amr) != 2 || amr[0] != "pwd" || amr[1] != "otp" {
		t.Errorf("amr = %v", claims["amr"])
	}
	if len(claims) != len(want)+1 {
		t.Errorf("claims %v: unexpected extra claims", claims)
	}
	exp := time.Unix(int64(claims["exp"].(float64)), 0)
	iat := time.Unix(int64(claims["iat"].(float64)), 0)
	if exp.Sub(iat) > 5*time.Minute || exp.After(now.Add(5*time.Minute)) {
		t.Errorf("exp %v, iat %v, now %v: more than 5 minutes", exp, iat, now)
	}

	// The standard validation a console would run.
	tok, _ := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	var std jwt.Claims
	var set jose.JSONWebKeySet
	_ = json.Unmarshal(s.JWKS(), &set)
	if err := tok.Claims(set.Keys[0].Key, &std); err != nil {
		t.Fatal(err)
	}
	if err := std.Validate(jwt.Expected{Issuer: testIssuer, AnyAudience: jwt.Audience{"dedibox"}, Time: now}); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if err := std.Validate(jwt.Expected{Issuer: testIssuer, AnyAudience: jwt.Audience{"scaleway"}, Time: now}); err == nil {
		t.Error("token for dedibox valid for scaleway")
	}
	if err := std.Validate(jwt.Expected{Time: now.Add(6 * time.Minute)}); err == nil {
		t.Error("token valid after 6 minutes")
	}
}

func TestAssertionWithoutOrganization(t *testing.T) {
	s := mustSigner(t, newFakeClock())
	id := testIdentity()
	id.OrganizationID = ""
	id.OrganizationRole = "owner" // ignored without an organization
	id.AMR = nil
	id.AuthTime = 0
	token, err := s.Assertion(id)
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := verifyAssertion(t, s, token)
	for _, name := range []string{"org_id", "role", "amr", "auth_time"} {
		if v, ok := claims[name]; ok {
			t.Errorf("claim %s = %v, want absent", name, v)
		}
	}
	if claims["console_account_id"] != id.ConsoleAccountID || claims["sid"] != id.SessionID {
		t.Errorf("claims %v", claims)
	}
}

func TestAssertionCache(t *testing.T) {
	clock := newFakeClock()
	s := mustSigner(t, clock)
	id := testIdentity()
	first, err := s.Assertion(id)
	if err != nil {
		t.Fatal(err)
	}
	same := *id // an equal identity in another struct
	same.AMR = []string{"pwd", "otp"}
	for _, d := range []time.Duration{0, time.Second, time.Minute, 3*time.Minute + 58*time.Second} {
		clock.ns.Store(0)
		clock.ns.Store(newFakeClock().ns.Load() + int64(d))
		got, err := s.Assertion(&same)
		if err != nil {
			t.Fatal(err)
		}
		if got != first {
			t.Errorf("after %v: a new token, want the cached one", d)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := s.Assertion(&same); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("cache hit: %v allocs, want 0", allocs)
	}

	// Less than a minute left: re-signed, with a fresh expiry.
	clock.ns.Store(newFakeClock().ns.Load() + int64(4*time.Minute+time.Second))
	second, err := s.Assertion(id)
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatal("token with less than 60 s left was reused")
	}
	claims, _ := verifyAssertion(t, s, second)
	if got, want := int64(claims["exp"].(float64)), clock.Now().Unix()+300; got != want {
		t.Errorf("re-signed exp %d, want %d", got, want)
	}
	third, _ := s.Assertion(id)
	if third != second {
		t.Error("re-signed token not cached")
	}
	// Long after expiry: a new one again.
	clock.Advance(time.Hour)
	fourth, _ := s.Assertion(id)
	if fourth == second {
		t.Error("expired token reused")
	}
}

// TestAssertionRefreshGrace: while one caller re-signs, the others keep the
// current token if it still has a safe margin, never one under 30 s.
func TestAssertionRefreshGrace(t *testing.T) {
	clock := newFakeClock()
	s := mustSigner(t, clock)
	id := testIdentity()
	first, _ := s.Assertion(id)
	key := s.hashIdentity(id)
	sh := &s.shards[key&(assertionShards-1)]
	sh.mu.RLock()
	e := sh.m[key]
	sh.mu.RUnlock()
	e.refreshing.Store(true) // someone else is re-signing

	clock.Advance(4*time.Minute + 10*time.Second) // 50 s left
	if got, _ := s.Assertion(id); got != first {
		t.Error("with a refresh in flight and 50 s left, want the current token")
	}
	clock.Advance(25 * time.Second) // 25 s left
	if got, _ := s.Assertion(id); got == first {
		t.Error("token with 25 s left handed out")
	}
}

func TestAssertionDistinctIdentities(t *testing.T) {
	s := mustSigner(t, newFakeClock())
	variants := map[string]func(*Identity){
		"base":              func(*Identity) {},
		"user":              func(id *Identity) { id.UserID = "u2" },
		"email":             func(id *Identity) { id.Email = "bob@example.test" },
		"console":           func(id *Identity) { id.Console = "scaleway" },
		"console account":   func(id *Identity) { id.ConsoleAccountID = "12346" },
		"org":               func(id *Identity) { id.OrganizationID = "org-2" },
		"role":              func(id *Identity) { id.OrganizationRole = "member" },
		"no org":            func(id *Identity) { id.OrganizationID = "" },
		"mfa":               func(id *Identity) { id.MFA = "passkey" },
		"prelinked":         func(id *Identity) { id.Prelinked = false },
		"session":           func(id *Identity) { id.SessionID = "sess-opaque-2" },
		"amr order":         func(id *Identity) { id.AMR = []string{"otp", "pwd"} },
		"amr shorter":       func(id *Identity) { id.AMR = []string{"pwd"} },
		"amr none":          func(id *Identity) { id.AMR = nil },
		"boundary shift 1":  func(id *Identity) { id.Email, id.Console = "alice@example.testd", "edibox" },
		"boundary shift 2":  func(id *Identity) { id.AMR = []string{"pwdotp"} },
		"boundary shift 3":  func(id *Identity) { id.ConsoleAccountID, id.OrganizationID = "12345org-1", "" },
		"amr split":         func(id *Identity) { id.AMR = []string{"pw", "dotp"} },
		"email case":        func(id *Identity) { id.Email = "Alice@example.test" },
		"mfa empty vs none": func(id *Identity) { id.MFA = "" },
		"auth time":         func(id *Identity) { id.AuthTime++ },
		"no auth time":      func(id *Identity) { id.AuthTime = 0 },
	}
	seen := map[string]string{}
	for name, mutate := range variants {
		id := testIdentity()
		mutate(id)
		tok, err := s.Assertion(id)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if other, dup := seen[tok]; dup {
			t.Errorf("%s and %s share a token", name, other)
		}
		seen[tok] = name
		claims, _ := verifyAssertion(t, s, tok)
		if claims["sub"] != id.UserID || claims["aud"] != id.Console || claims["email"] != id.Email || claims["sid"] != id.SessionID {
			t.Errorf("%s: claims %v do not match identity", name, claims)
		}
		// Asked again, each gets its own token back.
		again, _ := s.Assertion(id)
		if again != tok {
			t.Errorf("%s: not cached", name)
		}
	}
}

// TestAssertionCallerMutatesAMR: the cache keeps its own copy of AMR.
func TestAssertionCallerMutatesAMR(t *testing.T) {
	s := mustSigner(t, newFakeClock())
	amr := []string{"pwd", "otp"}
	id := testIdentity()
	id.AMR = amr
	first, _ := s.Assertion(id)
	amr[1] = "hwk"
	second, _ := s.Assertion(id)
	if second == first {
		t.Fatal("mutated AMR got the old token")
	}
	claims, _ := verifyAssertion(t, s, second)
	if got := fmt.Sprint(claims["amr"]); got != "[pwd hwk]" {
		t.Errorf("amr %s", got)
	}
	orig := testIdentity()
	if got, _ := s.Assertion(orig); got != first && got == second {
		t.Error("original identity got the mutated one's token")
	}
}

func TestAssertionRejectsBadIdentity(t *testing.T) {
	s := mustSigner(t, newFakeClock())
	if _, err := s.Assertion(nil); !errors.Is(err, ErrBadIdentity) {
		t.Errorf("nil identity: %v", err)
	}
	for name, mutate := range map[string]func(*Identity){
		"no user":    func(id *Identity) { id.UserID = "" },
		"no console": func(id *Identity) { id.Console = "" },
		"crlf email": func(id *Identity) { id.Email = "a@b.test\r\nX-Auth-User-Id: admin" },
		"nul":        func(id *Identity) { id.SessionID = "s\x00" },
		"lf role":    func(id *Identity) { id.OrganizationRole = "owner\n" },
		"bad mfa":    func(id *Identity) { id.MFA = "sms" },
		"empty amr":  func(id *Identity) { id.AMR = []string{""} },
		"ctl amr":    func(id *Identity) { id.AMR = []string{"pwd\r"} },
	} {
		id := testIdentity()
		mutate(id)
		if tok, err := s.Assertion(id); !errors.Is(err, ErrBadIdentity) || tok != "" {
			t.Errorf("%s: got %q, %v; want ErrBadIdentity", name, tok, err)
		}
	}
}

func TestAssertionCacheBounded(t *testing.T) {
	clock := newFakeClock()
	s := mustSigner(t, clock)
	s.maxPerShard = 4 // 256 entries in all
	limit := 4 * assertionShards
	for i := range 3000 {
		id := testIdentity()
		id.SessionID = fmt.Sprintf("s-%d", i)
		if _, err := s.Assertion(id); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.cacheLen(); n > limit {
		t.Errorf("cache holds %d entries, limit %d", n, limit)
	}
	// A full shard drops its expired entries first: after ten minutes,
	// nothing of the first round survives the second.
	clock.Advance(10 * time.Minute)
	for i := range 3000 {
		id := testIdentity()
		id.UserID = "other"
		id.SessionID = fmt.Sprintf("t-%d", i)
		if _, err := s.Assertion(id); err != nil {
			t.Fatal(err)
		}
	}
	for i := range s.shards {
		for _, e := range s.shards[i].m {
			if e.id.UserID != "other" {
				t.Fatal("expired entry kept in a full shard")
			}
		}
	}
	if n := s.cacheLen(); n > limit {
		t.Errorf("cache holds %d entries, limit %d", n, limit)
	}
}

func TestAssertionShardSweep(t *testing.T) {
	now := time.Now().UnixNano()
	sh := assertionShard{m: map[uint64]*assertionEntry{}}
	for i := range 10 {
		// Entries 0-4 expired or within 30 s of it, 5-9 fresh.
		exp := now + int64(i-5)*int64(10*time.Second)
		if i >= 5 {
			exp = now + int64(time.Duration(i)*time.Minute)
		}
		sh.m[uint64(i)] = &assertionEntry{expires: exp}
	}
	sh.sweep(now, 100)
	if len(sh.m) != 5 {
		t.Errorf("%d entries after sweep, want the 5 fresh ones", len(sh.m))
	}
	for k := range sh.m {
		if k < 5 {
			t.Errorf("entry %d kept", k)
		}
	}
	sh.sweep(now, 5) // still full: an eighth (at least one) goes
	if len(sh.m) >= 5 {
		t.Errorf("%d entries in a full shard after sweep", len(sh.m))
	}
}

func TestAssertionConcurrent(t *testing.T) {
	clock := newFakeClock()
	s := mustSigner(t, clock)
	ids := make([]*Identity, 8)
	for i := range ids {
		ids[i] = testIdentity()
		ids[i].SessionID = fmt.Sprintf("s-%d", i)
	}
	var wg sync.WaitGroup
	var bad atomic.Int32
	for g := range 16 {
		wg.Go(func() {
			for i := range 300 {
				if g == 0 && i%50 == 0 {
					clock.Advance(time.Minute)
				}
				id := ids[(g+i)%len(ids)]
				tok, err := s.Assertion(id)
				if err != nil {
					bad.Add(1)
					continue
				}
				if i%100 == 0 {
					claims, _ := verifyAssertion(t, s, tok)
					if claims["sid"] != id.SessionID {
						bad.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d bad assertions", bad.Load())
	}
}

func BenchmarkAssertionCached(b *testing.B) {
	s := mustSigner(b, nil)
	id := testIdentity()
	if _, err := s.Assertion(id); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tok, err := s.Assertion(id)
			if err != nil || tok == "" {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAssertionSign(b *testing.B) {
	s := mustSigner(b, nil)
	id := testIdentity()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		id.SessionID = "s" + strings.Repeat("x", i%8) + fmt.Sprint(i)
		if _, err := s.Assertion(id); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRotatedSigner: after a rotation the JWKS holds the new key and the
// previous ones, each under its kid; an assertion signed before the
// rotation and one signed after both verify with it, and only the new key
// signs (CONTRACT §12 "Key rotation").
func TestRotatedSigner(t *testing.T) {
	oldKey, newKey := mustKey(t), mustKey(t)
	before, err := NewSigner(oldKey, testIssuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, err := NewRotatedSigner(newKey, []*ecdsa.PublicKey{&oldKey.PublicKey, &newKey.PublicKey}, testIssuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(after.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
		if !k.IsPublic() {
			t.Errorf("JWKS key %s is not public", k.KeyID)
		}
	}
	if want := []string{after.KeyID(), before.KeyID()}; fmt.Sprint(kids) != fmt.Sprint(want) {
		t.Fatalf("got JWKS kids %v, want %v (the signing key first, the current key once)", kids, want)
	}
	for name, signer := range map[string]*Signer{"before": before, "after": after} {
		tok, err := signer.Assertion(testIdentity())
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		if kid := parsed.Headers[0].KeyID; kid != signer.KeyID() {
			t.Errorf("%s: got kid %q, want %q", name, kid, signer.KeyID())
		}
		var claims jwt.Claims
		if err := parsed.Claims(set, &claims); err != nil {
			t.Errorf("%s: the assertion does not verify with the rotated JWKS: %v", name, err)
		}
	}
	bad, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := NewRotatedSigner(newKey, []*ecdsa.PublicKey{&bad.PublicKey}, testIssuer, nil); err == nil {
		t.Error("got no error for a P-384 previous key")
	}
}
