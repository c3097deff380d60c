package accounts

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// cheapParams keep the tests fast; only NewHasher's own test pays OWASP's cost.
var cheapParams = argonParams{memory: 64, time: 1, threads: 1, saltLen: 16, keyLen: 32}

func newCheapHasher(maxConcurrent int) *Hasher { return newHasher(maxConcurrent, cheapParams) }

// Known answers from other implementations: the PHC reference argon2 (Debian's
// argon2 CLI), libxcrypt's bcrypt (glibc crypt(3)) and PHP's password_hash
// documentation. Hashes made elsewhere must verify here.
const (
	katPassword   = "correct horse battery staple"
	katArgonOWASP = "$argon2id$v=19$m=19456,t=2,p=1$c2l4dGVlbi1ieXRlLXNsdA$s4uJVDMLUUGER8dUIekIz7mmMoSISescIkMfjJepr4k"
	katArgonOther = "$argon2id$v=19$m=65536,t=3,p=4$dW5pZ2F0ZS1rYXQtc2FsdA$o4N/z7N0N8vj19BU0b9Q37Jk1SSRM6nZvSakURw8pcg"
	katArgonP4    = "$argon2id$v=19$m=256,t=3,p=4$dW5pZ2F0ZS1rYXQtc2FsdA$9SQ078503wdCHazNEyejSdePovAtIg5vjyTE4SRzo18"
	katArgonCheap = "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70" // "password", salt "somesalt"
	katBcryptPHP  = "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"                        // "rasmuslerdorf"
	katBcrypt2y   = "$2y$04$Unigate.KAT.salt.for.Oiz1KDx4g25XMagkHYMw.QYKSgkJMFem"                        // "rasmuslerdorf"
	katBcrypt2b   = "$2b$05$Unigate.KAT.salt.for.OdACrJnkzB96t/8RQ1WAdd7WuVrtiH46"                        // "rasmuslerdorf"
)

func TestNewHasherUsesOWASPParameters(t *testing.T) {
	h := NewHasher(0)
	if cap(h.slots) < 1 {
		t.Fatalf("slots = %d, want NumCPU", cap(h.slots))
	}
	ctx := context.Background()
	enc, err := h.Hash(ctx, katPassword)
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(enc, want) {
		t.Fatalf("Hash = %q, want prefix %q", enc, want)
	}
	parsed, err := parseArgon2(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got := parsed.params; got != owaspParams {
		t.Fatalf("params = %+v, want %+v", got, owaspParams)
	}
	ok, rehash, err := h.Verify(ctx, enc, katPassword)
	if !ok || rehash || err != nil {
		t.Fatalf("Verify(own hash) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = h.Verify(ctx, katArgonOWASP, katPassword)
	if !ok || rehash || err != nil {
		t.Fatalf("Verify(reference OWASP hash) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	h := newCheapHasher(4)
	own := mustHash(t, h, "s3cret passphrase")
	other := mustHash(t, newHasher(1, argonParams{memory: 128, time: 2, threads: 2, saltLen: 16, keyLen: 32}), "s3cret passphrase")
	long80 := strings.Repeat("x", 72) + "12345678"
	cases := []struct {
		name        string
		encoded     string
		password    string
		ok, rehash  bool
		wantErrHash bool
	}{
		{"own", own, "s3cret passphrase", true, false, false},
		{"own wrong password", own, "s3cret passphrasE", false, false, false},
		{"own empty password", own, "", false, false, false},
		{"argon2id other parameters", other, "s3cret passphrase", true, true, false},
		{"argon2id other parameters wrong", other, "nope", false, false, false},
		{"reference argon2id m=64, 8-byte salt", katArgonCheap, "password", true, true, false},
		{"reference argon2id m=256 t=3 p=4", katArgonP4, katPassword, true, true, false},
		{"reference argon2id wrong", katArgonP4, katPassword + " ", false, false, false},
		{"bcrypt 2a", mustBcrypt(t, "$2a$", "hunter2hunter2"), "hunter2hunter2", true, true, false},
		{"bcrypt 2b", mustBcrypt(t, "$2b$", "hunter2hunter2"), "hunter2hunter2", true, true, false},
		{"bcrypt 2y", mustBcrypt(t, "$2y$", "hunter2hunter2"), "hunter2hunter2", true, true, false},
		{"bcrypt 2b wrong", mustBcrypt(t, "$2b$", "hunter2hunter2"), "hunter2hunter3", false, false, false},
		{"bcrypt libxcrypt 2y", katBcrypt2y, "rasmuslerdorf", true, true, false},
		{"bcrypt libxcrypt 2y wrong", katBcrypt2y, "rasmuslerdorF", false, false, false},
		{"bcrypt libxcrypt 2b", katBcrypt2b, "rasmuslerdorf", true, true, false},
		// Legacy semantics: the hash was made from the first 72 bytes.
		{"bcrypt over 72 bytes matches its prefix", mustBcrypt(t, "$2b$", long80[:72]), long80, true, true, false},
		{"bcrypt exactly 72 bytes", mustBcrypt(t, "$2b$", long80[:72]), long80[:72], true, true, false},
		{"bcrypt 71 of 72 bytes", mustBcrypt(t, "$2b$", long80[:72]), long80[:71], false, false, false},
		{"password over 256 bytes never matches", mustHash(t, h, strings.Repeat("p", 256)), strings.Repeat("p", 257), false, false, false},
		{"password of 256 bytes", mustHash(t, h, strings.Repeat("p", 256)), strings.Repeat("p", 256), true, false, false},
		{"empty hash", "", "x", false, false, true},
		{"unknown scheme", "$1$abc$def", "x", false, false, true},
		{"argon2i refused", "$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70", "password", false, false, true},
		{"plain text", "password", "password", false, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, tc.encoded, tc.password)
			if tc.wantErrHash {
				if !errors.Is(err, ErrInvalidHash) {
					t.Fatalf("Verify error = %v, want ErrInvalidHash", err)
				}
			} else if err != nil {
				t.Fatalf("Verify error = %v", err)
			}
			if ok != tc.ok || rehash != tc.rehash {
				t.Fatalf("Verify = %v, %v; want %v, %v", ok, rehash, tc.ok, tc.rehash)
			}
		})
	}
}

// malformedHashes must each be refused by ValidHashFormat and Verify, without
// panicking and without computing anything (the bounds stop DoS hashes).
var malformedHashes = []string{
	"",
	"$",
	"$argon2id",
	"$argon2id$",
	"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ",
	"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70$",
	"$argon2id$m=64,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=16$m=64,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=019$m=64,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=19$t=1,m=64,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=19$m=64,t=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=19$m=64,t=1,p=1,keyid=x$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=19$m=0,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=19$m=7,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=19$m=64,t=1,p=9$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",      // m < 8p
	"$argon2id$v=19$m=1048577,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70", // > 1 GiB
	"$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=19$m=4294967296,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=19$m=1048576,t=5,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70", // work bound
	"$argon2id$v=19$m=64,t=0,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=19$m=64,t=17,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=19$m=64,t=1,p=0$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=19$m=256,t=1,p=17$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=19$m=064,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=19$m=+64,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=19$m=-64,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ=$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70", // padding
	"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70=",
	"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHR$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70", // non-zero trailing bits
	"$argon2id$v=19$m=64,t=1,p=1$c29t_XNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70", // url alphabet
	"$argon2id$v=19$m=64,t=1,p=1$c29tZQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",      // salt 4 bytes
	"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAA",                                 // key 8 bytes
	"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$" + strings.Repeat("A", 88),                  // key 66 bytes
	"$argon2id$v=19$m=64,t=1,p=1$$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$argon2d$v=19$m=64,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	" $argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	"$2a$",
	"$2a$10$",
	"$2a$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1",   // 59
	"$2a$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1aa", // 61
	"$2a$03$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a",
	"$2a$17$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a",
	"$2a$31$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a",
	"$2a$1x$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a",
	"$2a$10x.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a",
	"$2a$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1+",
	"$2a$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1\x00",
	"$2x$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a",
	"$2$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1aa",
	"$3a$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a",
	"{SSHA}abcdef",
}

func TestMalformedHashes(t *testing.T) {
	h := newCheapHasher(1)
	for _, s := range malformedHashes {
		t.Run(s, func(t *testing.T) {
			if err := ValidHashFormat(s); !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("ValidHashFormat error = %v, want ErrInvalidHash", err)
			}
			ok, rehash, err := h.Verify(context.Background(), s, "password")
			if ok || rehash || !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("Verify = %v, %v, %v; want false, false, ErrInvalidHash", ok, rehash, err)
			}
		})
	}
}

func TestValidHashFormatAccepts(t *testing.T) {
	for _, s := range []string{
		katArgonOWASP, katArgonOther, katArgonP4, katArgonCheap, katBcryptPHP, katBcrypt2y, katBcrypt2b,
		"$2b$04$abcdefghijklmnopqrstuughE8Ev8uGFaUgY2cNEySvxngrb/Jzdm",
		"$2a$16$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a",
		"$argon2id$v=19$m=1048576,t=4,p=4$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70",
	} {
		if err := ValidHashFormat(s); err != nil {
			t.Errorf("ValidHashFormat(%q) = %v, want nil", s, err)
		}
	}
}

func TestHashPasswordLength(t *testing.T) {
	h := newCheapHasher(1)
	ctx := context.Background()
	if _, err := h.Hash(ctx, strings.Repeat("a", MaxPasswordBytes+1)); !errors.Is(err, ErrPasswordTooLong) {
		t.Fatalf("Hash(257 bytes) error = %v, want ErrPasswordTooLong", err)
	}
	if _, err := h.Hash(ctx, strings.Repeat("a", MaxPasswordBytes)); err != nil {
		t.Fatalf("Hash(256 bytes) error = %v, want nil", err)
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	h := newCheapHasher(1)
	a, b := mustHash(t, h, "same"), mustHash(t, h, "same")
	if a == b {
		t.Fatalf("two hashes of one password are equal: %q", a)
	}
}

// TestHasherBoundsConcurrency: no more than maxConcurrent computations run at
// once, however many logins arrive together.
func TestHasherBoundsConcurrency(t *testing.T) {
	const limit, callers = 2, 12
	h := newCheapHasher(limit)
	var inFlight, peak atomic.Int32
	h.derive = func(password, salt []byte, p argonParams) []byte {
		n := inFlight.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inFlight.Add(-1)
		return argon2Key(password, salt, p)
	}
	enc := mustHash(t, h, "pw")
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				_, _ = h.Hash(context.Background(), "pw")
			} else {
				_, _, _ = h.Verify(context.Background(), enc, "pw")
			}
		}()
	}
	wg.Wait()
	if got := peak.Load(); got > limit || got < 1 {
		t.Fatalf("peak concurrency = %d, want 1..%d", got, limit)
	}
}

// TestHasherWaitRespectsContext: a caller queued behind busy slots gives up
// when its context ends instead of waiting for ever.
func TestHasherWaitRespectsContext(t *testing.T) {
	h := newCheapHasher(1)
	enc := mustHash(t, h, "pw")
	entered, unblock := make(chan struct{}), make(chan struct{})
	h.derive = func(password, salt []byte, p argonParams) []byte {
		close(entered)
		<-unblock
		return argon2Key(password, salt, p)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = h.Verify(context.Background(), enc, "pw")
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := h.Verify(ctx, enc, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Verify with a full hasher = %v, want context.DeadlineExceeded", err)
	}
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Hash with a full hasher = %v, want context.DeadlineExceeded", err)
	}
	if err := h.VerifyDummy(ctx, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("VerifyDummy with a full hasher = %v, want context.DeadlineExceeded", err)
	}
	close(unblock)
	<-done
}

// TestVerifyDummy: an unknown email costs one argon2id computation with the
// Hasher's own parameters, like a real failed login (ASVS V6.3.8).
func TestVerifyDummy(t *testing.T) {
	h := newCheapHasher(1)
	var calls atomic.Int32
	var used argonParams
	h.derive = func(password, salt []byte, p argonParams) []byte {
		calls.Add(1)
		used = p
		return argon2Key(password, salt, p)
	}
	if err := h.VerifyDummy(context.Background(), "guess"); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 || used != h.params {
		t.Fatalf("VerifyDummy computed %d times with %+v; want once with %+v", calls.Load(), used, h.params)
	}
	if err := ValidHashFormat(h.dummy); err != nil {
		t.Fatalf("dummy hash %q: %v", h.dummy, err)
	}
	if h2 := newCheapHasher(1); h2.dummy == h.dummy {
		t.Fatal("two hashers share a dummy hash")
	}
}

// FuzzValidHashFormat: never panics; whatever it accepts as argon2id re-encodes
// to the same string (one spelling per hash).
func FuzzValidHashFormat(f *testing.F) {
	for _, s := range malformedHashes {
		f.Add(s)
	}
	for _, s := range []string{katArgonOWASP, katArgonOther, katArgonP4, katArgonCheap, katBcryptPHP} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidHashFormat(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("ValidHashFormat(%q) = %v, not ErrInvalidHash", s, err)
			}
			return
		}
		if a, ok := mustParse(t, s).(argon2Hash); ok {
			if got := encodeArgon2(a.params, a.salt, a.key); got != s {
				t.Fatalf("re-encoded %q as %q", s, got)
			}
		}
	})
}

// FuzzVerify: arbitrary hashes and passwords never panic, and Verify only
// computes hashes that ValidHashFormat accepts. Costly parameters within the
// bounds are checked for format only, to keep the fuzzer fast.
func FuzzVerify(f *testing.F) {
	for _, s := range malformedHashes {
		f.Add(s, "password")
	}
	f.Add(katArgonCheap, "password")
	f.Add(katArgonP4, katPassword)
	f.Add(katBcrypt2y, "rasmuslerdorf")
	f.Add("$2b$04$abcdefghijklmnopqrstuughE8Ev8uGFaUgY2cNEySvxngrb/Jzdm", "password")
	h := newCheapHasher(1)
	f.Fuzz(func(t *testing.T, encoded, password string) {
		parsed, err := parseHash(encoded)
		if err == nil && tooCostlyForFuzzing(parsed) {
			return
		}
		ok, rehash, verr := h.Verify(context.Background(), encoded, password)
		if (err == nil) != (verr == nil) {
			t.Fatalf("Verify error %v, but parseHash error %v", verr, err)
		}
		if verr != nil && (ok || rehash) {
			t.Fatalf("Verify = %v, %v with error %v", ok, rehash, verr)
		}
		if !ok && rehash {
			t.Fatal("needsRehash without a match")
		}
	})
}

func tooCostlyForFuzzing(parsed any) bool {
	switch p := parsed.(type) {
	case argon2Hash:
		return p.params.memory*p.params.time > 1024
	case bcryptHash:
		return string(p.encoded[4:6]) > "05"
	}
	return false
}

func mustParse(tb testing.TB, s string) any {
	tb.Helper()
	p, err := parseHash(s)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func mustHash(tb testing.TB, h *Hasher, password string) string {
	tb.Helper()
	enc, err := h.Hash(context.Background(), password)
	if err != nil {
		tb.Fatalf("Hash: %v", err)
	}
	return enc
}

// mustBcrypt makes a bcrypt hash at the cheapest cost with the given prefix
// ("$2a$", "$2b$" or "$2y$"); x/crypto writes $2a$, and the variants differ in
// their prefix only.
func mustBcrypt(tb testing.TB, prefix, password string) string {
	tb.Helper()
	b, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	return prefix + string(b[4:])
}
