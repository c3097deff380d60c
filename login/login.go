// Package login is the login state machine, with no HTTP in it: identify,
// each factor (password, email code, TOTP, passkey, SSO), set password,
// enrollment of a second factor inside a login, sign-up verification and
// re-authentication, and the lockout counting behind every guessable factor.
//
// A step takes (ctx, the login in progress, input) and returns a Result (the
// next step, the methods offered, whether the login is now complete and the
// session must move to a new token) or a typed error that names its contract
// code (ErrorCode). The edge decodes requests, sets cookies, rotates the
// session in the store and redirects; it never decides a step.
package login

import (
	"context"
	"net/netip"
	"time"

	"unigate/accounts"
	"unigate/session"
)

// Lifetimes of a login in progress and of a proof.
const (
	// PreLoginLifetime bounds a login in progress: identify, then the
	// factors, must be done within it (the email code TTL fits inside).
	PreLoginLifetime = 20 * time.Minute
	// SignupLifetime bounds a sign-up waiting for its code.
	SignupLifetime = 30 * time.Minute
	// RecentProof is how long a login or re-authentication counts as a fresh
	// proof for sensitive settings (CONTRACT §5, ASVS V7.5.1).
	RecentProof = 5 * time.Minute
)

// Config is what the machine needs to know of the configuration.
type Config struct {
	MaxFailures   int // failed guesses per (account, client network) per Lockout window
	IPMaxFailures int // failed guesses per client network per Lockout window
	// MaxConsecutiveFailures locks an account until it is recovered
	// (Lockout); 0 is DefaultMaxConsecutiveFailures.
	MaxConsecutiveFailures int
	Lockout                time.Duration // the window of both counters
	EmailCodeTTL           time.Duration
	PasswordMinLength      int
	RequireMFA             bool
	// BcryptCost is the bcrypt work every password check pays, as a bcrypt
	// cost: the highest cost of the imported bcrypt hashes (VerifyPassword).
	// 0: no padding (no bcrypt hash was imported).
	BcryptCost int
	// SessionLifetime is the absolute lifetime of a complete session (ASVS V7.3.2).
	SessionLifetime time.Duration
	// PortalLoginURL is the account portal's login page, named in mails and
	// in the refusal of a legacy login.
	PortalLoginURL string
	// Consoles are the consoles a sign-up opens an account in, in order.
	Consoles []Console
	// SSOProviders are the identity providers configured, by name.
	SSOProviders map[string]bool
}

// Console is one console as a sign-up sees it.
type Console struct {
	ID string
	// ViaEndpoint: the console names its own accounts (a provisioning
	// endpoint, through the queue); otherwise the gateway names them.
	ViaEndpoint bool
}

// Accounts is what the machine reads and writes of the unified accounts.
type Accounts interface {
	AccountByEmail(ctx context.Context, email string) (*accounts.Account, error)
	AccountByID(ctx context.Context, id string) (*accounts.Account, error)
	SetPasswordHash(ctx context.Context, accountID, hash string) error
	ConsoleAccounts(ctx context.Context, accountID string) ([]accounts.ConsoleAccount, error)
	SSOIdentities(ctx context.Context, accountID string) ([]accounts.SSOIdentity, error)
	SSOIdentityBySubject(ctx context.Context, provider, subject string) (*accounts.SSOIdentity, error)
	MFAMethods(ctx context.Context, accountID string) (totp bool, passkeys int, err error)
	SetMFAEnrollRequired(ctx context.Context, accountID string, required bool) error
}

// Factors is what the machine reads and writes of the second factors.
type Factors interface {
	TOTPCredential(ctx context.Context, accountID string) (*accounts.TOTPCredential, error)
	UseTOTPStep(ctx context.Context, accountID string, step int64) (bool, error)
	ConfirmPendingTOTP(ctx context.Context, accountID string, sealed []byte, step int64, at time.Time) error
	WebAuthnCredentials(ctx context.Context, accountID string) ([]accounts.WebAuthnCredential, error)
	UpdateWebAuthnCredentialUse(ctx context.Context, id []byte, signCount uint32, cloneWarning bool, at time.Time) error
}

// Signups creates the account a verified sign-up asked for.
type Signups interface {
	CreateAccount(ctx context.Context, a *accounts.Account, consoles []accounts.ConsoleAccount) error
	EnqueueProvisioning(ctx context.Context, accountID, console string, at time.Time) error
}

// Hasher hashes and verifies passwords (accounts.Hasher).
type Hasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, encoded, password string) (ok, needsRehash bool, err error)
	VerifyDummy(ctx context.Context, password string) error
}

// Sealer opens the sealed TOTP secrets (mfa.Sealer).
type Sealer interface {
	Open(sealed, aad []byte) ([]byte, error)
}

// Sessions stores the logins in progress. Its errors carry their contract
// code (a revoked session, the store down) and are returned as they are.
type Sessions interface {
	// Create stores a new login under a new token, returned for the cookie.
	Create(ctx context.Context, s *session.Session) (token string, err error)
	// Save overwrites the login in progress.
	Save(ctx context.Context, s *session.Session) error
	// Delete ends a session (the one a new login replaces).
	Delete(ctx context.Context, handle string) error
	// RevokeAccount ends every session of the account but keepHandle's
	// (a password reset), on every replica, and says how many.
	RevokeAccount(ctx context.Context, accountID, keepHandle string) (int, error)
}

// Counters are the store's atomic counters (session.Store has them).
type Counters interface {
	Hit(ctx context.Context, key string, window time.Duration) (count int64, ttl time.Duration, err error)
	Unhit(ctx context.Context, key string) error
	Reset(ctx context.Context, key string) error
	Peek(ctx context.Context, key string) (count int64, ttl time.Duration, err error)
}

// Mailer queues one message; key makes queueing idempotent.
type Mailer interface {
	Queue(ctx context.Context, key, accountID, kind, locale, to string, data any) error
}

// Events receives what the machine reports: audit lines (never a secret,
// a code or a token: ASVS V16.2.5), attempt counts, store failures.
type Events interface {
	Audit(ctx context.Context, ip netip.Addr, kind, accountID string, details map[string]string)
	Attempt(method, outcome string)
	StoreFailed(op string)
	// Warn: something failed that the step goes on without (a rehash not stored).
	Warn(ctx context.Context, msg, accountID string, err error)
}

// Deps is what a Machine is built from.
type Deps struct {
	Config   Config
	Accounts Accounts
	Factors  Factors
	Signups  Signups
	Hasher   Hasher
	Sealer   Sealer
	Passkeys Passkeys
	Sessions Sessions
	Counters Counters
	Mailer   Mailer
	Events   Events
	Clock    func() time.Time
	// CodeKey keys the HMAC of email codes.
	CodeKey []byte
	// Recovery keeps the recovery codes; RecoveryKey keys the hashes of new
	// sets, and a code is also checked under PreviousRecoveryKeys (those of
	// rotated-out session keys, CONTRACT §12), so that a rotation leaves the
	// sets handed out before it working.
	Recovery             RecoveryCodes
	RecoveryKey          []byte
	PreviousRecoveryKeys [][]byte
}

// Machine runs the login steps. It is safe for concurrent use.
type Machine struct {
	cfg      Config
	accounts Accounts
	factors  Factors
	signups  Signups
	hasher   Hasher
	sealer   Sealer
	passkeys Passkeys
	sessions Sessions
	mailer   Mailer
	events   Events
	now      func() time.Time
	codeKey  []byte
	lockout  *Lockout
	// recovery keeps the recovery codes, hashed under recoveryKey (or, for
	// sets older than a key rotation, one of previousRecoveryKeys).
	recovery             RecoveryCodes
	recoveryKey          []byte
	previousRecoveryKeys [][]byte
}

// New builds a Machine.
func New(d Deps) *Machine {
	if d.Clock == nil {
		d.Clock = time.Now
	}
	if d.Config.MaxConsecutiveFailures <= 0 {
		d.Config.MaxConsecutiveFailures = DefaultMaxConsecutiveFailures
	}
	m := &Machine{
		cfg: d.Config, accounts: d.Accounts, factors: d.Factors, signups: d.Signups, hasher: d.Hasher,
		sealer: d.Sealer, passkeys: d.Passkeys, sessions: d.Sessions, mailer: d.Mailer, events: d.Events,
		now: d.Clock, codeKey: d.CodeKey, recovery: d.Recovery, recoveryKey: d.RecoveryKey,
		previousRecoveryKeys: d.PreviousRecoveryKeys,
	}
	m.lockout = &Lockout{cfg: d.Config, counters: d.Counters, events: d.Events, locked: m.noticeLocked}
	return m
}

// Lockout is the machine's failure counting, for the edge's other guessable
// checks (a password change).
func (m *Machine) Lockout() *Lockout { return m.lockout }

// Login is the login in progress a step works on.
type Login struct {
	// Session is the pre-auth session (or, for Reauth, the complete one);
	// steps change it and save it through Sessions.
	Session *session.Session
	// Client is the address the request came from, for the counters and the audit trail.
	Client netip.Addr
	// LegacyConsole is the console whose legacy login this is (CONTRACT §4),
	// "" on the account host.
	LegacyConsole string
	// Locale is the language of the request (a sign-up's mail and account).
	Locale string
	// RecoveryCodes are the codes of a set the step handed out (the first
	// second factor enrolled), to show once; nil for none.
	RecoveryCodes []string
}

// Result is the answer of a step: {"next": STEP, …} (CONTRACT §5).
type Result struct {
	Next       string
	Methods    []string // first factors offered, at first_factor
	MFAMethods []string // second factors offered, at mfa
	// Complete: every factor is proven; the edge must rotate the session
	// (Rotate), set the new cookie and call Finished.
	Complete bool
	// Rotate: the session must move to a new token now (ASVS V7.2.4).
	Rotate bool
	// Token is the cookie value of a session the step created ("" otherwise).
	Token string
	// Provisioning: console accounts were queued for their endpoints.
	Provisioning bool
}
