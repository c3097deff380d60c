package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// ErrInvalidLocale: the locale is not one of Locales.
var ErrInvalidLocale = errors.New("accounts: unsupported locale")

// Locales an account may choose for its pages and mails.
var Locales = []string{"en", "fr"}

// ProfileStore holds the preferences an account's owner changes from the
// settings page.
type ProfileStore interface {
	// SetLocale sets the language of the account's pages and mails, one of
	// Locales. Returns ErrInvalidLocale or ErrNotFound.
	SetLocale(ctx context.Context, accountID, locale string) error
	// SetName sets the name of the account's profile ("" clears it); the
	// caller checks it (package account). Returns ErrNotFound.
	SetName(ctx context.Context, accountID, name string) error
}

var _ ProfileStore = (*sqlStore)(nil)

func (s *sqlStore) SetLocale(ctx context.Context, accountID, locale string) error {
	if !slices.Contains(Locales, locale) {
		return fmt.Errorf("%w: %q", ErrInvalidLocale, locale)
	}
	return s.setAccountColumn(ctx, "locale", accountID, locale)
}

func (s *sqlStore) SetName(ctx context.Context, accountID, name string) error {
	return s.setAccountColumn(ctx, "name", accountID, name)
}
