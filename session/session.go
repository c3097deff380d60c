// Package session holds the gateway's sessions: the Session record, the Store
// interface with its Redis and memory implementations, the cookie codec, the
// single-use cross-host handoff codes, the per-account session index and the
// counters behind rate limits.
//
// A session is reached by a random token (the cookie carries it, signed); the
// store keys everything by the token's SHA-256 handle, so a dump of Redis does
// not yield a usable cookie (ASVS V7.2.3).
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"
)

// Errors returned by every Store implementation. Callers test them with errors.Is.
var (
	// ErrNotFound: no such session (never existed, expired, revoked), or no such handoff code.
	ErrNotFound = errors.New("session: not found")
	// ErrUnavailable wraps every failure of the backing store (Redis down,
	// timeout). The gateway answers 503 and lets nothing through (ASVS V16.5.2).
	ErrUnavailable = errors.New("session: store unavailable")
)

// Login steps held in Session.Next. StepDone means the session is complete.
const (
	StepFirstFactor = "first_factor"
	StepMFA         = "mfa"
	StepEnrollMFA   = "enroll_mfa"
	StepSetPassword = "set_password"
	StepDone        = "done"
	// StepVerifyEmail: a sign-up waits for the code mailed to its address.
	StepVerifyEmail = "verify_email"
)

// Session is everything the gateway knows about one browser's login, complete
// or in progress. It is stored as JSON; field names are stable.
type Session struct {
	// Handle is the store key: hex(sha256(token)). It is also the opaque id shown
	// to the user in /me/sessions and sent upstream as X-Auth-Session-Id. Set by the store.
	Handle string `json:"-"`

	AccountID string `json:"account_id,omitempty"`
	Email     string `json:"email,omitempty"`

	// Next is the login step the session is waiting for; StepDone once complete.
	Next string `json:"next"`
	// Factors lists the factors proven in this session, in order ("password",
	// "totp", "passkey", "email_code", "sso:google" …).
	Factors []string `json:"factors,omitempty"`
	// MFA is the second factor used: "totp", "passkey" or "none".
	MFA string `json:"mfa,omitempty"`
	// ReturnTo is a validated return_to, kept through the login.
	ReturnTo string `json:"return_to,omitempty"`
	// LoginHost is the host the login was started on (account host or a legacy console host).
	LoginHost string `json:"login_host,omitempty"`
	// EmailCode is the state of the email one-time code of this login
	// attempt (hash, expiry, tries), opaque to this package.
	EmailCode json.RawMessage `json:"email_code,omitempty"`
	// Signup holds a sign-up waiting for its email to be verified (the
	// password already hashed), opaque to this package.
	Signup json.RawMessage `json:"signup,omitempty"`
	// SSO is a sign-in or link with an identity provider in progress (state,
	// nonce, PKCE verifier), opaque to this package; single use.
	SSO json.RawMessage `json:"sso,omitempty"`
	// Ceremony is a WebAuthn ceremony in progress (challenge and its
	// purpose), opaque to this package; single use.
	Ceremony json.RawMessage `json:"ceremony,omitempty"`

	// ActiveConsole is the console last entered (shown by /session and /consoles).
	ActiveConsole string `json:"active_console,omitempty"`
	// Consoles holds what was chosen when entering each console: a request on
	// a console's host is sent with that console's selection.
	Consoles map[string]ConsoleSelection `json:"consoles,omitempty"`

	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	// ExpiresAt is the absolute expiry (ASVS V7.3.2); the idle timeout is the store TTL.
	ExpiresAt time.Time `json:"expires_at"`
	// AuthTime is the last time the user proved who they are (login or reauth);
	// sensitive settings need it to be recent (ASVS V7.5.1).
	AuthTime time.Time `json:"auth_time,omitzero"`
	// Proof lists the factors of the last re-authentication (/me/reauth, the
	// step-up page), nil until there is one: the login's Factors are then
	// the last proof. Step-up (CONTRACT §11) and the assertion's amr read it.
	Proof []string `json:"proof,omitempty"`
	// HoldsMFA is whether the account held a second factor at the last
	// re-authentication; nil before one (the login's MFA then tells).
	HoldsMFA *bool `json:"holds_mfa,omitempty"`

	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// Complete reports whether the login finished: only then is a console request let through.
func (s *Session) Complete() bool { return s.Next == StepDone && s.AccountID != "" }

// Store keeps sessions, handoff codes and counters. All methods are safe for
// concurrent use. Every backend failure is returned wrapped in ErrUnavailable.
type Store interface {
	// Create stores s under a new random token and returns the token (the
	// cookie value). s.Handle is set. ttl is the idle timeout.
	Create(ctx context.Context, s *Session, ttl time.Duration) (token string, err error)
	// Get returns the session for a handle and extends its idle TTL in the same
	// round trip. An expired (absolute) session is deleted and ErrNotFound returned.
	Get(ctx context.Context, handle string, ttl time.Duration) (*Session, error)
	// Save overwrites an existing session (s.Handle), keeping it alive for ttl.
	// It returns ErrNotFound if the session was deleted meanwhile (revocation wins).
	Save(ctx context.Context, s *Session, ttl time.Duration) error
	// Rotate moves s to a new token (ASVS V7.2.4): the old handle dies, the new
	// token is returned, s.Handle is updated.
	Rotate(ctx context.Context, s *Session, ttl time.Duration) (token string, err error)
	// Delete removes one session (logout, revocation). Deleting a missing session is not an error.
	Delete(ctx context.Context, handle string) error
	// ListAccount returns the live sessions of an account, oldest first.
	ListAccount(ctx context.Context, accountID string) ([]*Session, error)
	// DeleteAccount removes every session of the account except keepHandle ("" keeps none)
	// and returns how many were removed.
	DeleteAccount(ctx context.Context, accountID, keepHandle string) (int, error)

	// CreateHandoff mints a single-use code bound to a session handle and a target (host + path).
	CreateHandoff(ctx context.Context, h Handoff, ttl time.Duration) (code string, err error)
	// TakeHandoff returns and deletes the handoff (GETDEL): a second take gets ErrNotFound.
	TakeHandoff(ctx context.Context, code string) (Handoff, error)

	// Hit adds one to a counter living for window from its first hit and returns
	// the new count and the time left. Parallel hits are counted exactly.
	Hit(ctx context.Context, key string, window time.Duration) (count int64, ttl time.Duration, err error)
	// Unhit subtracts one (a pre-counted attempt that succeeded); never below zero.
	Unhit(ctx context.Context, key string) error
	// Peek returns a counter's value and time left without changing it.
	Peek(ctx context.Context, key string) (count int64, ttl time.Duration, err error)
	// Reset deletes a counter.
	Reset(ctx context.Context, key string) error

	// Ping checks the backend answers (readiness).
	Ping(ctx context.Context) error
}

// ConsoleSelection is the console account (and organization) a session uses in one console.
type ConsoleSelection struct {
	AccountID        string `json:"account_id"` // the console's own id (X-Auth-Console-Account-Id)
	OrganizationID   string `json:"organization_id,omitempty"`
	OrganizationRole string `json:"organization_role,omitempty"`
	Prelinked        bool   `json:"prelinked,omitempty"`
	// MFADeadline is when the grace of the organization's MFA rule ends for
	// this member (CONTRACT §11), recorded at entry: zero when the
	// organization has no such rule or the member held a second factor.
	MFADeadline time.Time `json:"mfa_deadline,omitzero"`
}

// Handoff is what a handoff code stands for. It carries the session token
// itself (DESIGN.md: "handoff:{code} → session id + target") because the
// console host's cookie must hold the same token; the record lives at most
// 60 s and is deleted on first use.
type Handoff struct {
	Token string `json:"token"`
	// Host is the console host the code may be redeemed on (bound to its host).
	Host string `json:"host"`
	// Path is the local path (with query) to land on after the exchange.
	Path string `json:"path"`
	// Nonce, once the code is bound to a browser, is the SHA-256 (hex) of the
	// nonce cookie that browser holds on Host; "" for a code not yet bound.
	Nonce string `json:"nonce,omitempty"`
}

// NewToken returns 32 random bytes (256 bits, ASVS V7.2.3), base64url without padding.
func NewToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HandleOf maps a token to its store handle.
func HandleOf(token string) string {
	// Stack buffers: a []byte(token) of more than 32 bytes would be
	// allocated, and HandleOf runs on every request (one allocation left,
	// the string).
	var in [64]byte
	var sum [sha256.Size]byte
	if len(token) <= len(in) {
		sum = sha256.Sum256(in[:copy(in[:], token)])
	} else {
		sum = sha256.Sum256([]byte(token))
	}
	var buf [2 * sha256.Size]byte
	hex.Encode(buf[:], sum[:])
	return string(buf[:])
}
