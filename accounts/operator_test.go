package accounts

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The operator store, on both drivers.
func TestOperatorStore(t *testing.T) {
	runSuite(t, []suiteTest{
		{"SetDisabled", testSetDisabled},
		{"LegacyRecordsOf", testLegacyRecordsOf},
	})
}

func testSetDisabled(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	if !mustGet(t, s, a.ID).DisabledAt.IsZero() {
		t.Fatal("a new account is disabled")
	}
	at := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	if err := s.SetDisabled(ctx, a.ID, at); err != nil {
		t.Fatalf("SetDisabled: %v", err)
	}
	if got := mustGet(t, s, a.ID); !got.DisabledAt.Equal(at) {
		t.Errorf("DisabledAt = %v, want %v", got.DisabledAt, at)
	}
	if got, err := s.AccountByEmail(ctx, "alice@example.com"); err != nil || !got.DisabledAt.Equal(at) {
		t.Errorf("by email: %+v %v", got, err)
	}
	if !mustGet(t, s, b.ID).DisabledAt.IsZero() {
		t.Error("another account was disabled too")
	}
	if err := s.SetDisabled(ctx, a.ID, time.Time{}); err != nil {
		t.Fatalf("enable: %v", err)
	}
	if !mustGet(t, s, a.ID).DisabledAt.IsZero() {
		t.Error("still disabled after enable")
	}
	if err := s.SetDisabled(ctx, uuid.NewString(), at); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetDisabled(unknown) = %v, want ErrNotFound", err)
	}
}

func testLegacyRecordsOf(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := unifiedFixture("acc-a", "a@example.com", "d-a")
	a.Records = append(a.Records, LegacyRecord{Source: SourceScaleway, RecordID: "s-a", Line: 9, RawSealed: []byte("raw")},
		LegacyRecord{Source: SourceDedibox, RecordID: "d-a2", Line: 1, RawSealed: []byte("raw")})
	b := unifiedFixture("acc-b", "b@example.com", "d-b")
	if _, err := s.UnifyWrite(ctx, []UnifiedAccount{a, b}); err != nil {
		t.Fatal(err)
	}
	got, err := s.LegacyRecordsOf(ctx, "acc-a")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"dedibox/d-a2@1", "dedibox/d-a@3", "scaleway/s-a@9"}
	if len(got) != len(want) {
		t.Fatalf("LegacyRecordsOf = %+v, want %v", got, want)
	}
	for i, r := range got {
		if s := r.Source + "/" + r.RecordID + "@" + strconv.FormatInt(r.Line, 10); s != want[i] || r.ImportedAt.IsZero() {
			t.Errorf("record %d = %s (imported %v), want %s", i, s, r.ImportedAt, want[i])
		}
	}
	if none, err := s.LegacyRecordsOf(ctx, "nobody"); err != nil || len(none) != 0 {
		t.Errorf("unknown account: %v %v", none, err)
	}
}
