package account

import (
	"context"
	"errors"
	"time"

	"unigate/accounts"
	"unigate/session"
)

// The security settings (CONTRACT §5 /me/password, /me/sessions, /me/mfa,
// /me/sso): the password, the second factors, the SSO links and the
// sessions of the signed-in person's own account. Every change of how the
// account is reached needs a recent proof (Caller.RecentProof).

// SecurityStore is what the security settings need of the account store.
type SecurityStore interface {
	AccountByID(ctx context.Context, id string) (*accounts.Account, error)
	SetPasswordHash(ctx context.Context, accountID, hash string) error
	SetLocale(ctx context.Context, accountID, locale string) error

	TOTPCredential(ctx context.Context, accountID string) (*accounts.TOTPCredential, error)
	PutPendingTOTP(ctx context.Context, accountID string, sealed []byte) error
	ConfirmPendingTOTP(ctx context.Context, accountID string, sealed []byte, step int64, at time.Time) error
	DeleteTOTP(ctx context.Context, accountID string) error
	AddWebAuthnCredential(ctx context.Context, c *accounts.WebAuthnCredential) error
	WebAuthnCredentials(ctx context.Context, accountID string) ([]accounts.WebAuthnCredential, error)
	DeleteWebAuthnCredential(ctx context.Context, accountID string, id []byte) error
	MFAMethods(ctx context.Context, accountID string) (totp bool, passkeys int, err error)
	SetMFAEnrollRequired(ctx context.Context, accountID string, required bool) error

	SSOIdentities(ctx context.Context, accountID string) ([]accounts.SSOIdentity, error)
	LinkSSO(ctx context.Context, accountID, provider, subject, email string, at time.Time) error
	UnlinkSSO(ctx context.Context, accountID, provider string) error
}

// SessionStore is what the settings need of the session store.
type SessionStore interface {
	ListAccount(ctx context.Context, accountID string) ([]*session.Session, error)
	Delete(ctx context.Context, handle string) error
	DeleteAccount(ctx context.Context, accountID, keepHandle string) (int, error)
}

// Passwords checks passwords as the login does (login.Machine): the same
// timing whatever the stored hash, the same policy.
type Passwords interface {
	VerifyPassword(ctx context.Context, acct *accounts.Account, password string) (ok, rehash bool, err error)
	CheckPasswordPolicy(password string) error
}

// Hasher hashes a new password (accounts.Hasher).
type Hasher interface {
	Hash(ctx context.Context, password string) (string, error)
}

// Sealer seals TOTP secrets at rest, bound to their account (mfa.Sealer).
type Sealer interface {
	Seal(plaintext, aad []byte) []byte
	Open(sealed, aad []byte) ([]byte, error)
}

// SecurityConfig is what Security is built from.
type SecurityConfig struct {
	Store     SecurityStore
	Sessions  SessionStore
	Passwords Passwords
	Hasher    Hasher
	Guesses   Guesses
	Sealer    Sealer
	Audit     Auditor
	Events    Events
	// RequireMFA: every account keeps at least one second factor.
	RequireMFA bool
	// TOTPIssuer names the service in authenticator apps.
	TOTPIssuer string
	// Providers are the configured SSO providers, in the pages' order.
	Providers []string
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Security is the self-service of the account's security settings.
type Security struct {
	cfg SecurityConfig
}

// NewSecurity checks the configuration.
func NewSecurity(cfg SecurityConfig) (*Security, error) {
	if cfg.Store == nil || cfg.Sessions == nil || cfg.Passwords == nil || cfg.Hasher == nil || cfg.Guesses == nil ||
		cfg.Sealer == nil || cfg.Audit == nil || cfg.Events == nil || cfg.TOTPIssuer == "" {
		return nil, errors.New("account: the security settings need stores, the password checks, a hasher, the lockout, a sealer, an auditor, events and a TOTP issuer")
	}
	cfg.Now = clock(cfg.Now)
	return &Security{cfg: cfg}, nil
}

func (s *Security) audit(ctx context.Context, c Caller, kind string, details map[string]string) {
	s.cfg.Audit.Audit(ctx, AuditEvent{Kind: kind, AccountID: c.AccountID, IP: c.IP, Details: details})
}

// account reads the caller's account; one deleted meanwhile is signed out.
func (s *Security) account(ctx context.Context, c Caller) (*accounts.Account, error) {
	a, err := s.cfg.Store.AccountByID(ctx, c.AccountID)
	if errors.Is(err, accounts.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, internalError("account", err)
	}
	return a, nil
}

// internalError is an unexpected store failure: internal_error, logged.
func internalError(op string, err error) error {
	return &Error{code: "internal_error", err: errors.Join(errors.New(op), err)}
}
