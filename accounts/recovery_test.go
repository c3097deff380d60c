package accounts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The recovery-code store on both drivers.

var recoverySuite = []suiteTest{
	{"Lifecycle", testRecoveryLifecycle},
	{"UsedOnceUnderConcurrency", testRecoveryConcurrent},
	{"BoundToTheAccount", testRecoveryOwnership},
	{"NeedsAccount", testRecoveryNeedsAccount},
}

func TestRecoveryCodeStore(t *testing.T) {
	runSuite(t, recoverySuite)
}

func recoveryHashes(prefix string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "%s-%02d\x00\xff", prefix, i) // binary, NUL included
	}
	return out
}

func testRecoveryLifecycle(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	if _, _, err := s.RecoveryCodes(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before any set: %v, want ErrNotFound", err)
	}
	created := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	first := recoveryHashes("a", 10)
	if err := s.ReplaceRecoveryCodes(ctx, a.ID, first, created); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		hash          []byte
		wantUsed      bool
		wantRemaining int
	}{
		{first[3], true, 9},
		{first[3], false, 9}, // single use
		{[]byte("not a code"), false, 9},
		{first[9], true, 8},
	}
	for i, st := range steps {
		used, err := s.UseRecoveryCode(ctx, a.ID, st.hash, created.Add(time.Minute))
		if err != nil || used != st.wantUsed {
			t.Fatalf("step %d: used %v, %v; want %v", i, used, err, st.wantUsed)
		}
		n, at, err := s.RecoveryCodes(ctx, a.ID)
		if err != nil || n != st.wantRemaining || !at.Equal(created) {
			t.Fatalf("step %d: remaining %d, created %v, %v; want %d, %v", i, n, at, err, st.wantRemaining, created)
		}
	}
	// A new set: the old one, used codes and all, is gone.
	second := recoveryHashes("b", 10)
	if err := s.ReplaceRecoveryCodes(ctx, a.ID, second, created.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if used, _ := s.UseRecoveryCode(ctx, a.ID, first[0], created.Add(2*time.Hour)); used {
		t.Error("a code of the old set still works")
	}
	if n, at, err := s.RecoveryCodes(ctx, a.ID); err != nil || n != 10 || !at.Equal(created.Add(time.Hour)) {
		t.Errorf("after a new set: %d, %v, %v", n, at, err)
	}
	if err := s.DeleteRecoveryCodes(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RecoveryCodes(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: %v, want ErrNotFound", err)
	}
	if used, _ := s.UseRecoveryCode(ctx, a.ID, second[0], created.Add(3*time.Hour)); used {
		t.Error("a revoked code works")
	}
	if err := s.DeleteRecoveryCodes(ctx, a.ID); err != nil {
		t.Errorf("deleting no set: %v", err)
	}
}

// Of concurrent uses of one code, on two replicas, exactly one wins.
func testRecoveryConcurrent(t *testing.T, d driverUnderTest) {
	stores := replicas(t, d, 2)
	a := mustCreate(t, stores[0], "alice@example.com")
	hashes := recoveryHashes("a", 10)
	if err := stores[0].ReplaceRecoveryCodes(context.Background(), a.ID, hashes, time.Now()); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			used, err := stores[i%2].UseRecoveryCode(context.Background(), a.ID, hashes[0], time.Now())
			if err != nil {
				t.Error(err)
			}
			if used {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if got := wins.Load(); got != 1 {
		t.Fatalf("%d of 20 concurrent uses of one code won, want exactly 1", got)
	}
}

func testRecoveryOwnership(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	hashes := recoveryHashes("a", 10)
	if err := s.ReplaceRecoveryCodes(ctx, a.ID, hashes, time.Now()); err != nil {
		t.Fatal(err)
	}
	if used, err := s.UseRecoveryCode(ctx, b.ID, hashes[0], time.Now()); err != nil || used {
		t.Errorf("another account's code: %v, %v; want refused", used, err)
	}
	if _, _, err := s.RecoveryCodes(ctx, b.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("bob's set: %v, want ErrNotFound", err)
	}
}

func testRecoveryNeedsAccount(t *testing.T, d driverUnderTest) {
	s := newStore(t, d)
	err := s.ReplaceRecoveryCodes(context.Background(), "00000000-0000-0000-0000-000000000000", recoveryHashes("a", 10), time.Now())
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
}
