package account

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestProfileUpdate(t *testing.T) {
	f := newOrgsFixture(t)
	p, err := NewProfile(f.store, &fakeAudit{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	anna := f.actors["member"]
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name       string
		change     ProfileChange
		want       error
		wantName   string
		wantLocale string
	}{
		{"name trimmed", ProfileChange{Name: str("  Anna  ")}, nil, "Anna", "en"},
		{"locale", ProfileChange{Locale: str("fr")}, nil, "Anna", "fr"},
		{"both", ProfileChange{Name: str("Anna K."), Locale: str("en")}, nil, "Anna K.", "en"},
		{"nothing", ProfileChange{}, nil, "Anna K.", "en"},
		{"empty name", ProfileChange{Name: str("   ")}, ErrInvalidName, "Anna K.", "en"},
		{"101 characters", ProfileChange{Name: str(strings.Repeat("é", 101))}, ErrInvalidName, "Anna K.", "en"},
		{"100 characters", ProfileChange{Name: str(strings.Repeat("é", 100))}, nil, strings.Repeat("é", 100), "en"},
		{"control character", ProfileChange{Name: str("a\u0007b")}, ErrInvalidName, strings.Repeat("é", 100), "en"},
		{"bad locale changes nothing", ProfileChange{Name: str("Eve"), Locale: str("de")}, ErrInvalidLocale, strings.Repeat("é", 100), "en"},
	} {
		err := p.Update(ctx, anna, tc.change)
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
		got, err := p.Get(ctx, anna)
		if err != nil || got.Name != tc.wantName || got.Locale != tc.wantLocale || got.Email != anna.Email {
			t.Errorf("%s: profile %+v %v, want name %q locale %q", tc.name, got, err, tc.wantName, tc.wantLocale)
		}
	}
}
