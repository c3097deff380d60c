package accounts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The second-factor store, on both drivers (the conformance suite's rule):
// real PostgreSQL and SQLite, each test in a database of its own.

var mfaSuite = []suiteTest{
	{"TOTPLifecycle", testTOTPLifecycle},
	{"TOTPPendingReplaced", testTOTPPendingReplaced},
	{"TOTPNeedsAccount", testTOTPNeedsAccount},
	{"TOTPReplayGuardMonotonic", testTOTPReplayGuardMonotonic},
	{"TOTPReplayGuardConcurrent", testTOTPReplayGuardConcurrent},
	{"TOTPReplayGuardAcrossReplicas", testTOTPReplayGuardAcrossReplicas},
	{"TOTPConcurrentEnrollment", testTOTPConcurrentEnrollment},
	{"WebAuthnAddAndRead", testWebAuthnAddAndRead},
	{"WebAuthnRefusesBadInput", testWebAuthnRefusesBadInput},
	{"WebAuthnDuplicateID", testWebAuthnDuplicateID},
	{"WebAuthnUpdateUse", testWebAuthnUpdateUse},
	{"WebAuthnOwnership", testWebAuthnOwnership},
	{"AccountFlags", testAccountFlags},
	{"MFAMethods", testMFAMethods},
	{"CascadeOnAccountDelete", testMFACascade},
}

func TestMFAStore(t *testing.T) {
	runSuite(t, mfaSuite)
}

// allBytes is a "sealed secret" holding every byte value, NUL included: the
// byte columns must store it as it is on both drivers.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func testTOTPLifecycle(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	clock := withFakeClock(s)
	a := mustCreate(t, s, "alice@example.com")

	if _, err := s.TOTPCredential(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("TOTPCredential before any: %v, want ErrNotFound", err)
	}
	if err := s.PutPendingTOTP(ctx, a.ID, allBytes()); err != nil {
		t.Fatalf("PutPendingTOTP: %v", err)
	}
	c := mustTOTP(t, s, a.ID)
	if !bytes.Equal(c.SecretSealed, allBytes()) || c.Confirmed || c.LastUsedStep != 0 ||
		!c.CreatedAt.Equal(clock.now()) || !c.ConfirmedAt.IsZero() || c.AccountID != a.ID {
		t.Errorf("pending = %+v, want the sealed bytes, unconfirmed, created now", c)
	}
	if used, err := s.UseTOTPStep(ctx, a.ID, 1000); err != nil || used {
		t.Errorf("UseTOTPStep on a pending secret = %v, %v; want false (not a factor yet)", used, err)
	}

	const step = 58_000_000
	confirmedAt := clock.now().Add(time.Minute)
	if err := s.ConfirmTOTP(ctx, a.ID, step, confirmedAt); err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	c = mustTOTP(t, s, a.ID)
	if !c.Confirmed || c.LastUsedStep != step || !c.ConfirmedAt.Equal(confirmedAt) || c.ConfirmedAt.Location() != time.UTC {
		t.Errorf("confirmed = %+v, want confirmed at %v with step %d used", c, confirmedAt, step)
	}
	if err := s.ConfirmTOTP(ctx, a.ID, step+1, confirmedAt); !errors.Is(err, ErrMFAExists) {
		t.Errorf("second ConfirmTOTP: %v, want ErrMFAExists", err)
	}
	if err := s.PutPendingTOTP(ctx, a.ID, []byte("other")); !errors.Is(err, ErrMFAExists) {
		t.Errorf("PutPendingTOTP over a confirmed secret: %v, want ErrMFAExists", err)
	}
	if c := mustTOTP(t, s, a.ID); !bytes.Equal(c.SecretSealed, allBytes()) || !c.Confirmed {
		t.Errorf("confirmed secret changed by a refused PutPendingTOTP: %+v", c)
	}
	// The code that confirmed the secret is spent.
	if used, err := s.UseTOTPStep(ctx, a.ID, step); err != nil || used {
		t.Errorf("UseTOTPStep(confirming step) = %v, %v; want false", used, err)
	}
	if used, err := s.UseTOTPStep(ctx, a.ID, step+1); err != nil || !used {
		t.Errorf("UseTOTPStep(next step) = %v, %v; want true", used, err)
	}

	if err := s.DeleteTOTP(ctx, a.ID); err != nil {
		t.Fatalf("DeleteTOTP: %v", err)
	}
	if err := s.DeleteTOTP(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteTOTP: %v, want ErrNotFound", err)
	}
	if _, err := s.TOTPCredential(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("TOTPCredential after delete: %v, want ErrNotFound", err)
	}
	if used, err := s.UseTOTPStep(ctx, a.ID, step+2); err != nil || used {
		t.Errorf("UseTOTPStep after delete = %v, %v; want false", used, err)
	}
	// After a delete, a new enrollment starts over.
	if err := s.PutPendingTOTP(ctx, a.ID, []byte("new")); err != nil {
		t.Fatalf("PutPendingTOTP after delete: %v", err)
	}
	if err := s.ConfirmTOTP(ctx, a.ID, step+2, clock.now()); err != nil {
		t.Fatalf("ConfirmTOTP after delete: %v", err)
	}
}

func testTOTPPendingReplaced(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	clock := withFakeClock(s)
	a := mustCreate(t, s, "alice@example.com")
	if err := s.PutPendingTOTP(ctx, a.ID, []byte("first")); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Hour)
	if err := s.PutPendingTOTP(ctx, a.ID, []byte("second")); err != nil {
		t.Fatalf("PutPendingTOTP over a pending secret: %v", err)
	}
	c := mustTOTP(t, s, a.ID)
	if string(c.SecretSealed) != "second" || !c.CreatedAt.Equal(clock.now()) || c.Confirmed {
		t.Errorf("after replacing: %+v, want the second secret, created now, pending", c)
	}
	if err := s.ConfirmTOTP(ctx, a.ID, 0, clock.now()); err == nil {
		t.Error("ConfirmTOTP with step 0 succeeded")
	}
}

func testTOTPNeedsAccount(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	unknown := uuid.NewString()
	if err := s.PutPendingTOTP(ctx, unknown, []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("PutPendingTOTP(unknown account): %v, want ErrNotFound", err)
	}
	if err := s.ConfirmTOTP(ctx, unknown, 5, time.Now()); !errors.Is(err, ErrNotFound) {
		t.Errorf("ConfirmTOTP(unknown account): %v, want ErrNotFound", err)
	}
	if used, err := s.UseTOTPStep(ctx, unknown, 5); err != nil || used {
		t.Errorf("UseTOTPStep(unknown account) = %v, %v; want false", used, err)
	}
	if err := s.DeleteTOTP(ctx, unknown); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteTOTP(unknown account): %v, want ErrNotFound", err)
	}
	a := mustCreate(t, s, "alice@example.com")
	if err := s.PutPendingTOTP(ctx, a.ID, nil); err == nil {
		t.Error("PutPendingTOTP with no secret succeeded")
	}
}

// testTOTPReplayGuardMonotonic: a step is good once, and no step at or below
// the last one used is accepted again (an older code, replayed late).
func testTOTPReplayGuardMonotonic(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustConfirmedTOTP(t, s, "alice@example.com", 100)
	for _, tc := range []struct {
		step int64
		want bool
	}{
		{100, false}, // the confirming step
		{99, false},  // older
		{102, true},  // the window may skip a step
		{102, false}, // replay
		{101, false}, // older than the last one used, though never used itself
		{103, true},
		{-1, false},
		{0, false},
	} {
		used, err := s.UseTOTPStep(ctx, a.ID, tc.step)
		if err != nil || used != tc.want {
			t.Errorf("UseTOTPStep(%d) = %v, %v; want %v", tc.step, used, err, tc.want)
		}
	}
	if c := mustTOTP(t, s, a.ID); c.LastUsedStep != 103 {
		t.Errorf("LastUsedStep = %d, want 103", c.LastUsedStep)
	}
}

// testTOTPReplayGuardConcurrent: 20 logins with one code at the same instant;
// exactly one gets through (SECURITY.md family 6, "TOTP replay within its step").
func testTOTPReplayGuardConcurrent(t *testing.T, d driverUnderTest) {
	s := newStore(t, d)
	a := mustConfirmedTOTP(t, s, "alice@example.com", 100)
	if wins := raceUseTOTPStep(t, []*sqlStore{s}, a.ID, 20, 101); wins != 1 {
		t.Fatalf("%d of 20 concurrent UseTOTPStep(101) returned true, want exactly 1", wins)
	}
}

// testTOTPReplayGuardAcrossReplicas: the same race between two stores on one
// database, as two gateway replicas would run it.
func testTOTPReplayGuardAcrossReplicas(t *testing.T, d driverUnderTest) {
	stores := replicas(t, d, 2)
	a := mustConfirmedTOTP(t, stores[0], "alice@example.com", 100)
	for step := int64(101); step < 104; step++ {
		if wins := raceUseTOTPStep(t, stores, a.ID, 20, step); wins != 1 {
			t.Fatalf("%d of 20 concurrent UseTOTPStep(%d) on two replicas returned true, want exactly 1", wins, step)
		}
	}
}

// raceUseTOTPStep runs n UseTOTPStep(step) calls at once, spread over stores,
// and returns how many returned true.
func raceUseTOTPStep(tb testing.TB, stores []*sqlStore, accountID string, n int, step int64) int {
	tb.Helper()
	var wins atomic.Int64
	ops := make([]func(context.Context) error, n)
	for i := range ops {
		ops[i] = func(ctx context.Context) error {
			used, err := stores[i%len(stores)].UseTOTPStep(ctx, accountID, step)
			if used {
				wins.Add(1)
			}
			return err
		}
	}
	for _, err := range race(ops...) {
		if err != nil {
			tb.Errorf("UseTOTPStep: %v", err)
		}
	}
	return int(wins.Load())
}

// testTOTPConcurrentEnrollment: enrollments racing (two tabs) leave one
// pending secret and no error.
func testTOTPConcurrentEnrollment(t *testing.T, d driverUnderTest) {
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.PutPendingTOTP(context.Background(), a.ID, []byte{byte(i)})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("PutPendingTOTP: %v", err)
		}
	}
	if n := countRows(t, s, "totp_credentials"); n != 1 {
		t.Errorf("%d TOTP rows, want 1", n)
	}
}

func testWebAuthnAddAndRead(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	clock := withFakeClock(s)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")

	if got, err := s.WebAuthnCredentials(ctx, a.ID); err != nil || len(got) != 0 {
		t.Fatalf("WebAuthnCredentials before any = %v, %v; want none", got, err)
	}
	first := &WebAuthnCredential{
		ID:                append([]byte{0, 0xff}, allBytes()...),
		AccountID:         a.ID,
		Name:              "YubiKey 5 — bureau",
		PublicKey:         allBytes(),
		SignCount:         1<<32 - 1,
		AAGUID:            bytes.Repeat([]byte{0xab}, 16),
		Transports:        []string{"usb", "nfc"},
		AttestationType:   "none",
		AttestationFormat: "none",
		UserPresent:       true,
		UserVerified:      true,
		BackupEligible:    true,
		BackupState:       true,
	}
	if err := s.AddWebAuthnCredential(ctx, first); err != nil {
		t.Fatalf("AddWebAuthnCredential: %v", err)
	}
	if !first.CreatedAt.Equal(clock.now()) || first.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want now (%v) in UTC", first.CreatedAt, clock.now())
	}
	// An imported credential: no AAGUID, transports or flags, created earlier.
	imported := &WebAuthnCredential{
		ID: []byte("imported"), AccountID: a.ID, PublicKey: []byte{1},
		CreatedAt: clock.now().Add(-24 * time.Hour), LastUsedAt: clock.now().Add(-time.Hour),
	}
	if err := s.AddWebAuthnCredential(ctx, imported); err != nil {
		t.Fatalf("AddWebAuthnCredential(imported): %v", err)
	}
	bobs := &WebAuthnCredential{ID: []byte("bob's"), AccountID: b.ID, PublicKey: []byte{2}}
	if err := s.AddWebAuthnCredential(ctx, bobs); err != nil {
		t.Fatal(err)
	}

	got, err := s.WebAuthnCredentials(ctx, a.ID)
	if err != nil {
		t.Fatalf("WebAuthnCredentials: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("WebAuthnCredentials = %d credentials, want 2 (only alice's)", len(got))
	}
	if !sameCredential(got[0], *imported) || !sameCredential(got[1], *first) {
		t.Errorf("WebAuthnCredentials =\n%+v\nwant, oldest first,\n%+v\n%+v", got, *imported, *first)
	}
	byID, err := s.WebAuthnCredentialByID(ctx, first.ID)
	if err != nil || !sameCredential(*byID, *first) {
		t.Errorf("WebAuthnCredentialByID = %+v, %v; want %+v", byID, err, *first)
	}
	for _, id := range [][]byte{[]byte("nope"), nil, first.ID[:1]} {
		if _, err := s.WebAuthnCredentialByID(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("WebAuthnCredentialByID(%q): %v, want ErrNotFound", id, err)
		}
	}
}

func sameCredential(a, b WebAuthnCredential) bool {
	return bytes.Equal(a.ID, b.ID) && a.AccountID == b.AccountID && a.Name == b.Name &&
		bytes.Equal(a.PublicKey, b.PublicKey) && a.SignCount == b.SignCount && bytes.Equal(a.AAGUID, b.AAGUID) &&
		slices.Equal(a.Transports, b.Transports) && a.AttestationType == b.AttestationType &&
		a.AttestationFormat == b.AttestationFormat && a.UserPresent == b.UserPresent &&
		a.UserVerified == b.UserVerified && a.BackupEligible == b.BackupEligible &&
		a.BackupState == b.BackupState && a.CloneWarning == b.CloneWarning &&
		a.CreatedAt.Equal(b.CreatedAt) && a.LastUsedAt.Equal(b.LastUsedAt)
}

func testWebAuthnRefusesBadInput(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	valid := func() *WebAuthnCredential {
		return &WebAuthnCredential{ID: []byte("id"), AccountID: a.ID, PublicKey: []byte{1}}
	}
	for name, mutate := range map[string]func(c *WebAuthnCredential){
		"no id":         func(c *WebAuthnCredential) { c.ID = nil },
		"id too long":   func(c *WebAuthnCredential) { c.ID = make([]byte, MaxCredentialIDBytes+1) },
		"no account":    func(c *WebAuthnCredential) { c.AccountID = "" },
		"no public key": func(c *WebAuthnCredential) { c.PublicKey = nil },
		"short aaguid":  func(c *WebAuthnCredential) { c.AAGUID = []byte{1, 2, 3} },
		"long name":     func(c *WebAuthnCredential) { c.Name = strings.Repeat("x", MaxCredentialNameBytes+1) },
		"invalid utf-8": func(c *WebAuthnCredential) { c.Name = "\xff" },
	} {
		c := valid()
		mutate(c)
		if err := s.AddWebAuthnCredential(ctx, c); !errors.Is(err, ErrInvalidCredential) {
			t.Errorf("%s: AddWebAuthnCredential: %v, want ErrInvalidCredential", name, err)
		}
	}
	if err := s.AddWebAuthnCredential(ctx, nil); !errors.Is(err, ErrInvalidCredential) {
		t.Errorf("AddWebAuthnCredential(nil): %v, want ErrInvalidCredential", err)
	}
	c := valid()
	c.AccountID = uuid.NewString()
	if err := s.AddWebAuthnCredential(ctx, c); !errors.Is(err, ErrNotFound) {
		t.Errorf("AddWebAuthnCredential(unknown account): %v, want ErrNotFound", err)
	}
	c = valid()
	c.ID = make([]byte, MaxCredentialIDBytes)
	if err := s.AddWebAuthnCredential(ctx, c); err != nil {
		t.Errorf("AddWebAuthnCredential(id of %d bytes): %v", MaxCredentialIDBytes, err)
	}
	if n := countRows(t, s, "webauthn_credentials"); n != 1 {
		t.Errorf("%d rows stored, want only the valid one", n)
	}
}

func testWebAuthnDuplicateID(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	mustAddCredential(t, s, a.ID, "cred", "first")
	for _, owner := range []string{a.ID, b.ID} {
		err := s.AddWebAuthnCredential(ctx, &WebAuthnCredential{ID: []byte("cred"), AccountID: owner, PublicKey: []byte{9}})
		if !errors.Is(err, ErrCredentialExists) {
			t.Errorf("AddWebAuthnCredential(same id, account %s): %v, want ErrCredentialExists", owner, err)
		}
	}
	if got, _ := s.WebAuthnCredentialByID(ctx, []byte("cred")); got == nil || got.AccountID != a.ID || got.Name != "first" {
		t.Errorf("credential after refused duplicates = %+v, want alice's first", got)
	}
	// Ids differing only in case or by a trailing byte are other credentials.
	mustAddCredential(t, s, b.ID, "CRED", "")
	mustAddCredential(t, s, b.ID, "cred\x00", "")
}

func testWebAuthnUpdateUse(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	clock := withFakeClock(s)
	a := mustCreate(t, s, "alice@example.com")
	mustAddCredential(t, s, a.ID, "cred", "")
	steps := []struct {
		count     uint32
		clone     bool
		wantCount uint32
		wantClone bool
	}{
		{5, false, 5, false},
		{3, false, 5, false}, // a late writer never moves the count back
		{5, true, 5, true},   // a clone warning is recorded…
		{9, false, 9, true},  // …and kept
		{1<<32 - 1, false, 1<<32 - 1, true},
	}
	for i, st := range steps {
		clock.advance(time.Minute)
		if err := s.UpdateWebAuthnCredentialUse(ctx, []byte("cred"), st.count, st.clone, clock.now()); err != nil {
			t.Fatalf("step %d: UpdateWebAuthnCredentialUse: %v", i, err)
		}
		c, err := s.WebAuthnCredentialByID(ctx, []byte("cred"))
		if err != nil {
			t.Fatal(err)
		}
		if c.SignCount != st.wantCount || c.CloneWarning != st.wantClone || !c.LastUsedAt.Equal(clock.now()) {
			t.Errorf("step %d: count %d, clone %v, last used %v; want %d, %v, %v",
				i, c.SignCount, c.CloneWarning, c.LastUsedAt, st.wantCount, st.wantClone, clock.now())
		}
	}
	if err := s.UpdateWebAuthnCredentialUse(ctx, []byte("gone"), 1, false, clock.now()); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateWebAuthnCredentialUse(unknown id): %v, want ErrNotFound", err)
	}
}

// testWebAuthnOwnership: a credential is renamed or deleted only through the
// account that holds it.
func testWebAuthnOwnership(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	mustAddCredential(t, s, a.ID, "alice-key", "Laptop")

	if err := s.RenameWebAuthnCredential(ctx, b.ID, []byte("alice-key"), "mine now"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rename by another account: %v, want ErrNotFound", err)
	}
	if err := s.DeleteWebAuthnCredential(ctx, b.ID, []byte("alice-key")); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete by another account: %v, want ErrNotFound", err)
	}
	if c, err := s.WebAuthnCredentialByID(ctx, []byte("alice-key")); err != nil || c.Name != "Laptop" {
		t.Fatalf("after another account's attempts: %+v, %v; want alice's key untouched", c, err)
	}

	if err := s.RenameWebAuthnCredential(ctx, a.ID, []byte("alice-key"), "Téléphone"); err != nil {
		t.Fatalf("rename by owner: %v", err)
	}
	if c, _ := s.WebAuthnCredentialByID(ctx, []byte("alice-key")); c == nil || c.Name != "Téléphone" {
		t.Errorf("after rename: %+v, want name Téléphone", c)
	}
	if err := s.RenameWebAuthnCredential(ctx, a.ID, []byte("alice-key"), strings.Repeat("x", MaxCredentialNameBytes+1)); !errors.Is(err, ErrInvalidCredential) {
		t.Errorf("rename to a too long name: %v, want ErrInvalidCredential", err)
	}
	if err := s.RenameWebAuthnCredential(ctx, a.ID, []byte("unknown"), "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rename of an unknown credential: %v, want ErrNotFound", err)
	}
	if err := s.DeleteWebAuthnCredential(ctx, a.ID, []byte("alice-key")); err != nil {
		t.Fatalf("delete by owner: %v", err)
	}
	if err := s.DeleteWebAuthnCredential(ctx, a.ID, []byte("alice-key")); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if _, err := s.WebAuthnCredentialByID(ctx, []byte("alice-key")); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: %v, want ErrNotFound", err)
	}
}

func testAccountFlags(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	clock := withFakeClock(s)
	a := mustCreate(t, s, "alice@example.com")
	for _, tc := range []struct {
		enroll, setPassword bool
	}{{true, false}, {true, true}, {false, true}, {false, false}} {
		clock.advance(time.Second)
		if err := s.SetMFAEnrollRequired(ctx, a.ID, tc.enroll); err != nil {
			t.Fatalf("SetMFAEnrollRequired: %v", err)
		}
		if err := s.SetPasswordSetRequired(ctx, a.ID, tc.setPassword); err != nil {
			t.Fatalf("SetPasswordSetRequired: %v", err)
		}
		got := mustGet(t, s, a.ID)
		if got.MFAEnrollRequired != tc.enroll || got.PasswordSetRequired != tc.setPassword || !got.UpdatedAt.Equal(clock.now()) {
			t.Errorf("after setting %+v: MFAEnrollRequired %v, PasswordSetRequired %v, UpdatedAt %v",
				tc, got.MFAEnrollRequired, got.PasswordSetRequired, got.UpdatedAt)
		}
	}
	unknown := uuid.NewString()
	if err := s.SetMFAEnrollRequired(ctx, unknown, true); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetMFAEnrollRequired(unknown): %v, want ErrNotFound", err)
	}
	if err := s.SetPasswordSetRequired(ctx, unknown, true); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPasswordSetRequired(unknown): %v, want ErrNotFound", err)
	}
}

func testMFAMethods(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	check := func(when string, wantTOTP bool, wantPasskeys int) {
		t.Helper()
		totp, n, err := s.MFAMethods(ctx, a.ID)
		if err != nil || totp != wantTOTP || n != wantPasskeys {
			t.Errorf("%s: MFAMethods = %v, %d, %v; want %v, %d", when, totp, n, err, wantTOTP, wantPasskeys)
		}
	}
	check("nothing", false, 0)
	if err := s.PutPendingTOTP(ctx, a.ID, []byte("s")); err != nil {
		t.Fatal(err)
	}
	check("pending TOTP", false, 0)
	if err := s.ConfirmTOTP(ctx, a.ID, 10, time.Now()); err != nil {
		t.Fatal(err)
	}
	check("confirmed TOTP", true, 0)
	mustAddCredential(t, s, a.ID, "k1", "")
	mustAddCredential(t, s, a.ID, "k2", "")
	mustAddCredential(t, s, b.ID, "k3", "")
	check("two passkeys", true, 2)
	if err := s.DeleteTOTP(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	check("TOTP removed", false, 2)
	if totp, n, err := s.MFAMethods(ctx, uuid.NewString()); err != nil || totp || n != 0 {
		t.Errorf("MFAMethods(unknown) = %v, %d, %v; want false, 0, nil", totp, n, err)
	}
}

// testMFACascade: the Store has no account deletion yet, but the schema
// already removes an account's factors with it (ON DELETE CASCADE), on both
// drivers (SQLite enforces foreign keys only when told to, as OpenSQLite does).
func testMFACascade(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustConfirmedTOTP(t, s, "alice@example.com", 10)
	b := mustConfirmedTOTP(t, s, "bob@example.com", 10)
	mustAddCredential(t, s, a.ID, "a1", "")
	mustAddCredential(t, s, b.ID, "b1", "")
	if _, err := s.db.exec(ctx, "DELETE FROM accounts WHERE id = $1", a.ID); err != nil {
		t.Fatalf("deleting the account: %v", err)
	}
	if _, err := s.TOTPCredential(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("TOTP of a deleted account: %v, want ErrNotFound", err)
	}
	if _, err := s.WebAuthnCredentialByID(ctx, []byte("a1")); !errors.Is(err, ErrNotFound) {
		t.Errorf("passkey of a deleted account: %v, want ErrNotFound", err)
	}
	if totp, n, err := s.MFAMethods(ctx, b.ID); err != nil || !totp || n != 1 {
		t.Errorf("the other account's factors: %v, %d, %v; want true, 1", totp, n, err)
	}
}

func mustTOTP(tb testing.TB, s *sqlStore, accountID string) *TOTPCredential {
	tb.Helper()
	c, err := s.TOTPCredential(context.Background(), accountID)
	if err != nil {
		tb.Fatalf("TOTPCredential: %v", err)
	}
	return c
}

// mustConfirmedTOTP creates an account with a TOTP secret confirmed at step.
func mustConfirmedTOTP(tb testing.TB, s *sqlStore, email string, step int64) *Account {
	tb.Helper()
	ctx := context.Background()
	a := mustCreate(tb, s, email)
	if err := s.PutPendingTOTP(ctx, a.ID, []byte("sealed")); err != nil {
		tb.Fatalf("PutPendingTOTP: %v", err)
	}
	if err := s.ConfirmTOTP(ctx, a.ID, step, time.Now()); err != nil {
		tb.Fatalf("ConfirmTOTP: %v", err)
	}
	return a
}

func mustAddCredential(tb testing.TB, s *sqlStore, accountID, id, name string) {
	tb.Helper()
	c := &WebAuthnCredential{ID: []byte(id), AccountID: accountID, Name: name, PublicKey: []byte(fmt.Sprintf("key of %s", id))}
	if err := s.AddWebAuthnCredential(context.Background(), c); err != nil {
		tb.Fatalf("AddWebAuthnCredential(%q): %v", id, err)
	}
}
