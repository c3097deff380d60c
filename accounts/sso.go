package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors of the SSO identity store (SSOStore), beside ErrNotFound.
var (
	// ErrSSOTaken: the (provider, subject) identity is linked to another
	// account. One identity signs in to one account only.
	ErrSSOTaken = errors.New("accounts: SSO identity linked to another account")
	// ErrSSOExists: the account already holds an identity of that provider;
	// it must be unlinked (a settings change needing a recent proof) first.
	ErrSSOExists = errors.New("accounts: account already linked to this SSO provider")
)

// Bounds of an SSO identity.
const (
	// MaxSSOProviderBytes bounds a provider name ("google", "microsoft" …).
	MaxSSOProviderBytes = 64
	// MaxSSOSubjectBytes bounds a subject: OIDC's sub is at most 255 ASCII
	// characters (OIDC Core §2), and package sso may prefix it with the
	// issuing tenant.
	MaxSSOSubjectBytes = 512
)

// SSOStore keeps the single sign-on identities linked to accounts. An
// identity is the pair (provider, subject): the provider's stable id for the
// user, never the email, which providers let change and some let a tenant
// admin set at will (SECURITY.md federation, V6.8.1, NIST SP 800-63C §3.3).
// An account holds at most one identity per provider.
type SSOStore interface {
	// LinkSSO links (provider, subject) to the account, recording the email
	// it came with (normalised, or "") and the time (now when zero). Linking the identity the
	// account already holds again succeeds and refreshes the email.
	// ErrSSOTaken if another account holds that identity, ErrSSOExists if the
	// account holds another identity of that provider, ErrNotFound if the
	// account does not exist, ErrInvalidEmail if email is not normalised.
	LinkSSO(ctx context.Context, accountID, provider, subject, email string, at time.Time) error
	// SSOIdentityBySubject finds who holds (provider, subject); ErrNotFound.
	SSOIdentityBySubject(ctx context.Context, provider, subject string) (*SSOIdentity, error)
	// SSOIdentities lists an account's identities by provider (none for an
	// unknown account).
	SSOIdentities(ctx context.Context, accountID string) ([]SSOIdentity, error)
	// UnlinkSSO removes the account's identity of that provider; ErrNotFound
	// if it holds none.
	UnlinkSSO(ctx context.Context, accountID, provider string) error
}

// SSOIdentity is one identity at a sign-in provider, linked to an account.
type SSOIdentity struct {
	AccountID string
	Provider  string // "google" | "microsoft" | "github"
	Subject   string // the provider's stable, opaque id for the user
	// Email is the address the provider gave at the last link, normalised,
	// or "" when it gave none. Shown to the user; never used to find an
	// account.
	Email    string
	LinkedAt time.Time
}

var _ SSOStore = (*sqlStore)(nil)

// LinkSSO inserts first and looks only when a unique constraint objects, so
// that the common case is one statement and concurrent links of one identity
// are settled by the primary key: exactly one account gets it.
func (s *sqlStore) LinkSSO(ctx context.Context, accountID, provider, subject, email string, at time.Time) error {
	if err := validateSSOIdentity(accountID, provider, subject, email); err != nil {
		return err
	}
	linked, err := encodeTime(s.timeOrNow(at))
	if err != nil {
		return err
	}
	_, err = s.db.exec(ctx, `INSERT INTO sso_identities (provider, subject, account_id, email, linked_at)
		VALUES ($1, $2, $3, $4, $5)`, provider, subject, accountID, email, linked)
	if err == nil {
		return nil
	}
	v, ok := s.db.violation(err)
	if !ok || v.kind != violationUnique {
		return s.mapError("LinkSSO", err)
	}
	// A row for both constraints can exist at once (the identity is already
	// this account's), and drivers differ in which they report: decide from
	// who holds the identity.
	holder, lookupErr := s.SSOIdentityBySubject(ctx, provider, subject)
	switch {
	case lookupErr == nil && holder.AccountID == accountID:
		return s.refreshSSOEmail(ctx, provider, subject, accountID, email)
	case lookupErr == nil:
		return ErrSSOTaken
	case !errors.Is(lookupErr, ErrNotFound):
		return lookupErr
	case v.constraint == "sso_identities_pkey":
		return ErrSSOTaken // its holder unlinked it since; the caller may retry
	default:
		return ErrSSOExists
	}
}

func validateSSOIdentity(accountID, provider, subject, email string) error {
	switch {
	case accountID == "":
		return errors.New("accounts: LinkSSO: no account id")
	case provider == "" || len(provider) > MaxSSOProviderBytes || !utf8.ValidString(provider):
		return fmt.Errorf("accounts: LinkSSO: provider must be 1 to %d bytes of UTF-8", MaxSSOProviderBytes)
	case subject == "" || len(subject) > MaxSSOSubjectBytes || !utf8.ValidString(subject):
		return fmt.Errorf("accounts: LinkSSO: subject must be 1 to %d bytes of UTF-8", MaxSSOSubjectBytes)
	}
	if email == "" {
		return nil
	}
	return checkNormalized(email)
}

// refreshSSOEmail updates the email of an identity the account holds.
func (s *sqlStore) refreshSSOEmail(ctx context.Context, provider, subject, accountID, email string) error {
	_, err := s.db.exec(ctx, `UPDATE sso_identities SET email = $4
		WHERE provider = $1 AND subject = $2 AND account_id = $3`, provider, subject, accountID, email)
	if err != nil {
		return s.mapError("LinkSSO", err)
	}
	return nil
}

const ssoColumns = `account_id, provider, subject, email, linked_at`

func (s *sqlStore) SSOIdentityBySubject(ctx context.Context, provider, subject string) (*SSOIdentity, error) {
	id, err := scanSSOIdentity(func(dest ...any) error {
		return s.db.queryRow(ctx, `SELECT `+ssoColumns+` FROM sso_identities WHERE provider = $1 AND subject = $2`,
			[]any{provider, subject}, dest...)
	})
	if err != nil {
		return nil, s.mapError("SSOIdentityBySubject", err)
	}
	return &id, nil
}

// SSOIdentities orders by provider compared as bytes, the same on both
// drivers whatever the database collation.
func (s *sqlStore) SSOIdentities(ctx context.Context, accountID string) ([]SSOIdentity, error) {
	var out []SSOIdentity
	err := s.db.query(ctx, `SELECT `+ssoColumns+` FROM sso_identities WHERE account_id = $1`, []any{accountID},
		func(scan func(...any) error) error {
			id, err := scanSSOIdentity(scan)
			if err != nil {
				return err
			}
			out = append(out, id)
			return nil
		})
	if err != nil {
		return nil, s.mapError("SSOIdentities", err)
	}
	slices.SortFunc(out, func(a, b SSOIdentity) int { return strings.Compare(a.Provider, b.Provider) })
	return out, nil
}

// scanSSOIdentity reads one row of ssoColumns.
func scanSSOIdentity(scan func(...any) error) (SSOIdentity, error) {
	var id SSOIdentity
	var linked string
	if err := scan(&id.AccountID, &id.Provider, &id.Subject, &id.Email, &linked); err != nil {
		return id, err
	}
	var err error
	id.LinkedAt, err = decodeTime(linked)
	return id, err
}

func (s *sqlStore) UnlinkSSO(ctx context.Context, accountID, provider string) error {
	n, err := s.db.exec(ctx, `DELETE FROM sso_identities WHERE account_id = $1 AND provider = $2`, accountID, provider)
	if err != nil {
		return s.mapError("UnlinkSSO", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
