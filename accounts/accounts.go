// Package accounts owns identity: unified accounts, the console accounts they
// hold, and password hashing. The Store has two drivers with one schema:
// PostgreSQL (production, pgx) and SQLite (embedded default, modernc, no cgo).
package accounts

import (
	"context"
	"errors"
	"time"
)

// Errors returned by every Store implementation. Callers test them with errors.Is.
var (
	// ErrNotFound: no account (or console account) matches.
	ErrNotFound = errors.New("accounts: not found")
	// ErrEmailTaken: an account with that normalised email already exists.
	ErrEmailTaken = errors.New("accounts: email already in use")
	// ErrConsoleAccountTaken: (console, external_id) already belongs to an account.
	ErrConsoleAccountTaken = errors.New("accounts: console account already linked")
	// ErrInvalidEmail: the address cannot be normalised (see NormalizeEmail).
	ErrInvalidEmail = errors.New("accounts: invalid email")
	// ErrPasswordTooLong: Hasher.Hash refuses passwords over MaxPasswordBytes
	// rather than truncating them (ASVS V6.2.9, NIST SP 800-63B §3.1.1.2).
	ErrPasswordTooLong = errors.New("accounts: password too long")
	// ErrInvalidHash: a stored or imported password hash is not one of the
	// accepted formats, or its parameters are out of bounds (see ValidHashFormat).
	ErrInvalidHash = errors.New("accounts: invalid password hash")
)

// Console ids known to the account store.
const (
	ConsoleDedibox  = "dedibox"
	ConsoleScaleway = "scaleway"
)

// Account is one unified account.
type Account struct {
	ID            string // uuid
	Email         string // normalised (NormalizeEmail)
	EmailVerified bool
	// PasswordHash is a PHC argon2id string, an imported bcrypt hash, or ""
	// when the account has no password (erased by unification, SSO-only).
	PasswordHash string
	// PasswordSetRequired: the next login must end by setting a password.
	PasswordSetRequired bool
	// MFAEnrollRequired: the next login must enroll a second factor.
	MFAEnrollRequired bool
	// Locale is the BCP 47 tag used for mails and pages; CreateAccount
	// stores "en" when it is empty.
	Locale string
	// Name is the name the person gave in their profile ("" until then);
	// written only by ProfileStore.SetName.
	Name string
	// DisabledAt is when an operator disabled the account; zero: enabled.
	// Written only by OperatorStore.SetDisabled.
	DisabledAt time.Time
	CreatedAt  time.Time // set to now (UTC) by CreateAccount when zero
	UpdatedAt  time.Time // set by the store on every write
}

// ConsoleAccount is an account in one console held by a unified account.
type ConsoleAccount struct {
	AccountID  string
	Console    string // "dedibox" | "scaleway" | any configured console id
	ExternalID string // the console's own id for it
	// Prelinked: linked to the other console before legacy_login_cutoff.
	Prelinked bool
	LinkedAt  time.Time // zero when unknown
}

// Store is the account store. Implementations: OpenPostgres, OpenSQLite (or
// Open with a driver name). Both pass the same conformance suite.
type Store interface {
	MFAStore          // second factors (mfa.go)
	RecoveryCodeStore // recovery codes (recovery.go)
	OutboxStore       // mail to send (outbox.go)
	SSOStore          // linked Google, Microsoft and GitHub identities (sso.go)
	OrgStore          // organizations, members and invitations (orgs.go)
	ProfileStore      // the account's preferences (profile.go)
	ProvisioningStore // console accounts to create through provisioning endpoints (provisioning.go)
	OperatorStore     // what the operator commands need (operator.go)

	// CreateAccount inserts a and its console accounts in one transaction.
	// a.ID is generated when empty; a.Email must already be normalised.
	// Returns ErrEmailTaken or ErrConsoleAccountTaken.
	CreateAccount(ctx context.Context, a *Account, consoles []ConsoleAccount) error
	// AccountByEmail looks up by normalised email.
	AccountByEmail(ctx context.Context, email string) (*Account, error)
	AccountByID(ctx context.Context, id string) (*Account, error)
	// SetPasswordHash replaces the hash and clears PasswordSetRequired when hash != "".
	SetPasswordHash(ctx context.Context, accountID, hash string) error
	// ConsoleAccounts lists the console accounts of an account, by console then external id.
	ConsoleAccounts(ctx context.Context, accountID string) ([]ConsoleAccount, error)
	// AddConsoleAccount links one more console account; ErrConsoleAccountTaken if already linked.
	AddConsoleAccount(ctx context.Context, ca ConsoleAccount) error
	// RecordAudit appends an audit event (kind, account id may be "", details as JSON-able map).
	RecordAudit(ctx context.Context, e AuditEvent) error
	// Ping checks the database answers (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// AuditEvent is one row of audit_events.
type AuditEvent struct {
	At        time.Time
	Kind      string // "login.success", "login.failure", "lockout", "password.change", "session.revoke" …
	AccountID string
	IP        string
	Details   map[string]string
}
