package mfa

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"testing"
)

func mustSealer(tb testing.TB, key []byte) *Sealer {
	tb.Helper()
	s, err := NewSealer(key)
	if err != nil {
		tb.Fatalf("NewSealer: %v", err)
	}
	return s
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 64) }

func TestSealerRoundTrip(t *testing.T) {
	s := mustSealer(t, testKey(1))
	for _, plain := range [][]byte{{}, []byte("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"), bytes.Repeat([]byte{0}, 1000)} {
		sealed := s.Seal(plain, []byte("account-1"))
		if sealed[0] != sealVersion1 || len(sealed) != 1+12+len(plain)+16 {
			t.Errorf("sealed %d bytes of plaintext into %d bytes, version %d; want 1+12+n+16, version 1", len(plain), len(sealed), sealed[0])
		}
		got, err := s.Open(sealed, []byte("account-1"))
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("Open(Seal(%q)) = %q, %v", plain, got, err)
		}
	}
}

// TestSealerRefuses: a sealed secret opens only under its key and for its
// account, and any change to it is noticed.
func TestSealerRefuses(t *testing.T) {
	s := mustSealer(t, testKey(1))
	sealed := s.Seal([]byte("secret"), []byte("account-1"))
	cases := map[string]struct {
		sealer *Sealer
		sealed []byte
		aad    string
	}{
		"other account":    {s, sealed, "account-2"},
		"no account":       {s, sealed, ""},
		"account prefix":   {s, sealed, "account-"},
		"other key":        {mustSealer(t, testKey(2)), sealed, "account-1"},
		"empty":            {s, nil, "account-1"},
		"version only":     {s, []byte{sealVersion1}, "account-1"},
		"truncated":        {s, sealed[:len(sealed)-1], "account-1"},
		"unknown version":  {s, append([]byte{2}, sealed[1:]...), "account-1"},
		"appended garbage": {s, append(bytes.Clone(sealed), 0), "account-1"},
	}
	for i := range sealed {
		flipped := bytes.Clone(sealed)
		flipped[i] ^= 0x80
		cases[fmt.Sprintf("bit flipped in byte %d", i)] = struct {
			sealer *Sealer
			sealed []byte
			aad    string
		}{s, flipped, "account-1"}
	}
	for name, tc := range cases {
		if got, err := tc.sealer.Open(tc.sealed, []byte(tc.aad)); !errors.Is(err, ErrSealed) || got != nil {
			t.Errorf("%s: Open = %q, %v; want ErrSealed", name, got, err)
		}
	}
}

func TestSealerNonceIsRandom(t *testing.T) {
	s := mustSealer(t, testKey(1))
	a, b := s.Seal([]byte("secret"), nil), s.Seal([]byte("secret"), nil)
	if bytes.Equal(a[1:13], b[1:13]) || bytes.Equal(a, b) {
		t.Error("two seals of one secret share a nonce")
	}
}

// TestSealerDerivesItsKey: the session key itself does not open what is
// sealed (HKDF gives the sealer a key of its own), and keys shorter than
// MinSealerKeyBytes are refused.
func TestSealerDerivesItsKey(t *testing.T) {
	key := testKey(7)[:32]
	sealed := mustSealer(t, key).Seal([]byte("secret"), []byte("a"))
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Open(nil, nil, sealed[1:], append([]byte{sealVersion1}, 'a')); err == nil {
		t.Error("the raw session key opens a sealed secret")
	}
	for _, n := range []int{0, 16, MinSealerKeyBytes - 1} {
		if _, err := NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer accepted a %d-byte key", n)
		}
	}
}

// FuzzOpen: Open never panics, and nothing but a real seal opens.
func FuzzOpen(f *testing.F) {
	s := mustSealer(f, testKey(1))
	f.Add(s.Seal([]byte("JBSWY3DPEHPK3PXP"), []byte("acct")), []byte("acct"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{sealVersion1}, []byte("acct"))
	f.Add(bytes.Repeat([]byte{sealVersion1}, 29), []byte("acct"))
	f.Add(append([]byte{2}, make([]byte, 40)...), []byte(nil))
	f.Fuzz(func(t *testing.T, sealed, aad []byte) {
		plain, err := s.Open(sealed, aad)
		if err == nil {
			// Only possible for a seal made above: check it is one.
			if !bytes.Equal(plain, []byte("JBSWY3DPEHPK3PXP")) || string(aad) != "acct" {
				t.Fatalf("Open(%x, %q) = %q: forged", sealed, aad, plain)
			}
		} else if !errors.Is(err, ErrSealed) || plain != nil {
			t.Fatalf("Open error %v with %q, want ErrSealed and nothing", err, plain)
		}
	})
}

// TestSealerRotation: after a rotation, values sealed under a previous key
// still open, are reported stale, and new values are sealed under the
// current key only (CONTRACT §12 "Key rotation").
func TestSealerRotation(t *testing.T) {
	old := mustSealer(t, testKey(1))
	sealedOld := old.Seal([]byte("secret"), []byte("account-1"))
	rotated, err := NewSealer(testKey(2), testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	sealedNew := rotated.Seal([]byte("secret"), []byte("account-1"))
	tests := []struct {
		name      string
		sealer    *Sealer
		sealed    []byte
		aad       string
		wantStale bool
		wantErr   bool
	}{
		{"previous key opens, stale", rotated, sealedOld, "account-1", true, false},
		{"current key opens, not stale", rotated, sealedNew, "account-1", false, false},
		{"previous key, another account", rotated, sealedOld, "account-2", false, true},
		{"the old sealer cannot open what the new key sealed", old, sealedNew, "account-1", false, true},
		{"without the previous key", mustSealer(t, testKey(2)), sealedOld, "account-1", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain, stale, err := tt.sealer.Reopen(tt.sealed, []byte(tt.aad))
			if tt.wantErr {
				if !errors.Is(err, ErrSealed) {
					t.Fatalf("got %q, %v; want ErrSealed", plain, err)
				}
				return
			}
			if err != nil || string(plain) != "secret" || stale != tt.wantStale {
				t.Fatalf("got %q stale=%v err=%v, want \"secret\" stale=%v", plain, stale, err, tt.wantStale)
			}
		})
	}
	if _, err := NewSealer(testKey(2), []byte("short")); err == nil {
		t.Error("got no error for a short previous key")
	}
}
