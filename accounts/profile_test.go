package accounts

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The profile store, on both drivers (the conformance suite's rule): real
// PostgreSQL and SQLite, each test in a database of its own.

func TestProfileStore(t *testing.T) {
	for _, d := range driversUnderTest {
		t.Run(d.name, func(t *testing.T) {
			t.Run("SetLocale", func(t *testing.T) {
				t.Parallel()
				testSetLocale(t, d)
			})
			t.Run("SetLocaleRefusesBadInput", func(t *testing.T) {
				t.Parallel()
				testSetLocaleRefusesBadInput(t, d)
			})
			t.Run("SetName", func(t *testing.T) {
				t.Parallel()
				testSetName(t, d)
			})
		})
	}
}

func testSetLocale(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	clock := withFakeClock(s)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	if a.Locale != "en" {
		t.Fatalf("new account's locale = %q, want en", a.Locale)
	}

	clock.advance(time.Hour)
	var ps ProfileStore = s
	if err := ps.SetLocale(ctx, a.ID, "fr"); err != nil {
		t.Fatalf("SetLocale(fr): %v", err)
	}
	got := mustGet(t, s, a.ID)
	if got.Locale != "fr" || !got.UpdatedAt.Equal(clock.now()) || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Errorf("after SetLocale(fr): locale %q, updated %v, created %v; want fr, %v, %v", got.Locale, got.UpdatedAt, got.CreatedAt, clock.now().UTC(), a.CreatedAt)
	}
	if got.Email != a.Email || got.PasswordHash != a.PasswordHash || got.EmailVerified != a.EmailVerified {
		t.Errorf("SetLocale changed more than the locale: %+v", got)
	}
	if other := mustGet(t, s, b.ID); other.Locale != "en" {
		t.Errorf("another account's locale = %q, want en (untouched)", other.Locale)
	}
	// The email lookup (used to address mails) sees it too.
	if byEmail, err := s.AccountByEmail(ctx, "alice@example.com"); err != nil || byEmail.Locale != "fr" {
		t.Errorf("AccountByEmail: %v, %v; want locale fr", byEmail, err)
	}

	// Back, and the same value twice.
	for range 2 {
		if err := s.SetLocale(ctx, a.ID, "en"); err != nil {
			t.Fatalf("SetLocale(en): %v", err)
		}
	}
	if got := mustGet(t, s, a.ID); got.Locale != "en" {
		t.Errorf("locale = %q, want en", got.Locale)
	}
}

func testSetLocaleRefusesBadInput(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	for _, loc := range []string{"", "de", "FR", "fr-FR", " fr", "en;", "'; DROP TABLE accounts; --"} {
		if err := s.SetLocale(ctx, a.ID, loc); !errors.Is(err, ErrInvalidLocale) {
			t.Errorf("SetLocale(%q) error = %v, want ErrInvalidLocale", loc, err)
		}
	}
	if got := mustGet(t, s, a.ID); got.Locale != "en" {
		t.Errorf("locale = %q after refused changes, want en", got.Locale)
	}
	for _, id := range []string{uuid.NewString(), "", "not-a-uuid"} {
		if err := s.SetLocale(ctx, id, "fr"); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetLocale(account %q) error = %v, want ErrNotFound", id, err)
		}
	}
}

func testSetName(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	if a.Name != "" || mustGet(t, s, a.ID).Name != "" {
		t.Fatalf("a new account has a name: %q", a.Name)
	}
	for _, name := range []string{"Anna Karénine", "", "O'Brien; DROP TABLE accounts; --"} {
		if err := s.SetName(ctx, a.ID, name); err != nil {
			t.Fatalf("SetName(%q): %v", name, err)
		}
		if got := mustGet(t, s, a.ID); got.Name != name || got.Email != a.Email || got.Locale != a.Locale {
			t.Errorf("after SetName(%q): %+v", name, got)
		}
	}
	if got, err := s.AccountByEmail(ctx, "bob@example.com"); err != nil || got.Name != "" {
		t.Errorf("another account: %+v %v", got, err)
	}
	_ = b
	if err := s.SetName(ctx, uuid.NewString(), "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetName of an unknown account: %v, want ErrNotFound", err)
	}
}
