package account

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"unigate/accounts"
)

// The profile (CONTRACT §9b): the name and language a person keeps up to
// date from the settings space. The name greets them in mails.

// ErrInvalidLocale: the language is not one the portal and mails speak.
var ErrInvalidLocale = &Error{code: "invalid_locale"}

// ProfileStore is what the profile needs of the account store.
type ProfileStore interface {
	AccountByID(ctx context.Context, id string) (*accounts.Account, error)
	SetName(ctx context.Context, accountID, name string) error
	SetLocale(ctx context.Context, accountID, locale string) error
}

// Profile is the self-service of the profile.
type Profile struct {
	store ProfileStore
	audit Auditor
}

// NewProfile builds the profile service.
func NewProfile(store ProfileStore, audit Auditor) (*Profile, error) {
	if store == nil || audit == nil {
		return nil, errors.New("account: the profile needs a store and an auditor")
	}
	return &Profile{store: store, audit: audit}, nil
}

// ProfileView is what GET /me/profile shows.
type ProfileView struct {
	Email, Name, Locale string
}

// ProfileChange holds the fields to change; nil leaves one as it is.
type ProfileChange struct {
	Name, Locale *string
}

// Get is the actor's profile.
func (p *Profile) Get(ctx context.Context, actor Actor) (ProfileView, error) {
	a, err := p.store.AccountByID(ctx, actor.AccountID)
	if err != nil {
		return ProfileView{}, fmt.Errorf("account: profile: %w", err)
	}
	return ProfileView{Email: a.Email, Name: a.Name, Locale: a.Locale}, nil
}

// Update checks every field first and changes nothing when one is refused:
// a name of 1 to 100 characters (trimmed) without control characters, a
// locale of accounts.Locales.
func (p *Profile) Update(ctx context.Context, actor Actor, c ProfileChange) error {
	var name string
	if c.Name != nil {
		name = strings.TrimSpace(*c.Name)
		if !ValidName(name) {
			return ErrInvalidName
		}
	}
	if c.Locale != nil && !slices.Contains(accounts.Locales, *c.Locale) {
		return ErrInvalidLocale
	}
	changed := []string{}
	if c.Name != nil {
		if err := p.store.SetName(ctx, actor.AccountID, name); err != nil {
			return fmt.Errorf("account: set name: %w", err)
		}
		changed = append(changed, "name")
	}
	if c.Locale != nil {
		if err := p.store.SetLocale(ctx, actor.AccountID, *c.Locale); err != nil {
			return fmt.Errorf("account: set locale: %w", err)
		}
		changed = append(changed, "locale")
	}
	if len(changed) > 0 {
		p.audit.Audit(ctx, AuditEvent{Kind: "profile.change", AccountID: actor.AccountID, IP: actor.IP,
			Details: map[string]string{"fields": strings.Join(changed, ",")}})
	}
	return nil
}
