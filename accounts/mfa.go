package accounts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Errors of the second-factor store (MFAStore), beside ErrNotFound.
var (
	// ErrMFAExists: the account already has a confirmed TOTP secret; it must be
	// deleted (a settings change needing a recent proof) before another is set.
	ErrMFAExists = errors.New("accounts: a confirmed TOTP secret already exists")
	// ErrCredentialExists: a WebAuthn credential with that id is already
	// registered, to this account or another one.
	ErrCredentialExists = errors.New("accounts: WebAuthn credential already registered")
	// ErrInvalidCredential: a WebAuthn credential record or its name is out of
	// bounds (see AddWebAuthnCredential, RenameWebAuthnCredential).
	ErrInvalidCredential = errors.New("accounts: invalid WebAuthn credential")
)

// Bounds of a WebAuthn credential record.
const (
	// MaxCredentialIDBytes is WebAuthn's bound on a credential id (§5.1, "at
	// most 1023 bytes long").
	MaxCredentialIDBytes = 1023
	// MaxCredentialNameBytes bounds a passkey's user-given name.
	MaxCredentialNameBytes = 256
)

// MFAStore keeps the second factors of accounts: one TOTP secret (sealed by
// package mfa; the store never sees it in clear) and any number of WebAuthn
// credentials. Missing accounts give ErrNotFound on writes.
type MFAStore interface {
	// PutPendingTOTP stores a new, unconfirmed TOTP secret, replacing an
	// unconfirmed one. ErrMFAExists if a confirmed one exists.
	PutPendingTOTP(ctx context.Context, accountID string, sealed []byte) error
	// TOTPCredential returns the account's TOTP secret, confirmed or not; ErrNotFound.
	TOTPCredential(ctx context.Context, accountID string) (*TOTPCredential, error)
	// ConfirmTOTP marks the pending secret confirmed and records step as used:
	// the code that confirmed it cannot then log in. ErrNotFound without a
	// pending secret, ErrMFAExists if already confirmed.
	ConfirmTOTP(ctx context.Context, accountID string, step int64, at time.Time) error
	// ConfirmPendingTOTP is ConfirmTOTP only while sealed is the pending secret (totppending.go).
	ConfirmPendingTOTP(ctx context.Context, accountID string, sealed []byte, step int64, at time.Time) error
	// UseTOTPStep is the replay guard: it records step as used and reports true
	// only if the secret is confirmed and step is above every step used before.
	// One conditional UPDATE, so of concurrent calls with one step, on any
	// number of replicas, exactly one gets true (SECURITY.md family 6).
	UseTOTPStep(ctx context.Context, accountID string, step int64) (bool, error)
	// DeleteTOTP removes the secret, confirmed or not; ErrNotFound if none.
	DeleteTOTP(ctx context.Context, accountID string) error

	// AddWebAuthnCredential stores a new credential (CreatedAt set to now when
	// zero). ErrCredentialExists if its id is registered, ErrNotFound if the
	// account does not exist, ErrInvalidCredential if out of bounds.
	AddWebAuthnCredential(ctx context.Context, c *WebAuthnCredential) error
	// WebAuthnCredentials lists an account's credentials, oldest first (none
	// for an unknown account).
	WebAuthnCredentials(ctx context.Context, accountID string) ([]WebAuthnCredential, error)
	// WebAuthnCredentialByID finds a credential by its id; ErrNotFound.
	WebAuthnCredentialByID(ctx context.Context, id []byte) (*WebAuthnCredential, error)
	// UpdateWebAuthnCredentialUse records a successful assertion: the sign
	// count (never lowered), the clone warning (never cleared) and the time.
	UpdateWebAuthnCredentialUse(ctx context.Context, id []byte, signCount uint32, cloneWarning bool, at time.Time) error
	// RenameWebAuthnCredential renames one of the account's credentials;
	// ErrNotFound if the account holds no credential with that id.
	RenameWebAuthnCredential(ctx context.Context, accountID string, id []byte, name string) error
	// DeleteWebAuthnCredential removes one of the account's credentials;
	// ErrNotFound if the account holds no credential with that id.
	DeleteWebAuthnCredential(ctx context.Context, accountID string, id []byte) error

	// SetMFAEnrollRequired sets Account.MFAEnrollRequired; ErrNotFound.
	SetMFAEnrollRequired(ctx context.Context, accountID string, required bool) error
	// SetPasswordSetRequired sets Account.PasswordSetRequired; ErrNotFound.
	SetPasswordSetRequired(ctx context.Context, accountID string, required bool) error
	// MFAMethods says whether the account has a confirmed TOTP secret and how
	// many passkeys it holds, read together (false, 0 for an unknown account).
	MFAMethods(ctx context.Context, accountID string) (totp bool, passkeys int, err error)
}

// TOTPCredential is an account's TOTP secret, sealed.
type TOTPCredential struct {
	AccountID string
	// SecretSealed is the base32 secret sealed by mfa.Sealer with the account
	// id as associated data.
	SecretSealed []byte
	// Confirmed: a code from the user's app was checked against it. Only a
	// confirmed secret is a second factor.
	Confirmed bool
	// LastUsedStep is the highest time step (Unix time / 30 s) accepted; 0
	// when none was.
	LastUsedStep int64
	CreatedAt    time.Time
	ConfirmedAt  time.Time // zero while pending
}

// WebAuthnCredential is a registered passkey: the credential record of
// WebAuthn §4 that verifying an assertion needs.
type WebAuthnCredential struct {
	ID        []byte // credential id, 1 to MaxCredentialIDBytes bytes
	AccountID string
	Name      string // given by the user; at most MaxCredentialNameBytes of UTF-8
	PublicKey []byte // COSE_Key
	SignCount uint32
	AAGUID    []byte // 16 bytes, or nil when unknown (imported credentials)
	// Transports are the hints the browser reported ("usb", "internal",
	// "hybrid" …), given back in allow and exclude lists.
	Transports        []string
	AttestationType   string // "none", "self", "basic_full" …
	AttestationFormat string // "none", "packed" …
	// Authenticator data flags at registration. BackupEligible must match
	// every assertion's BE flag (WebAuthn §7.2). A registration always has
	// UserPresent set, so UserPresent false marks flags never recorded (an
	// imported credential): package mfa then takes BE from each assertion.
	UserPresent, UserVerified, BackupEligible, BackupState bool
	// CloneWarning: an assertion once came with a signature counter that did
	// not increase, a sign of a cloned authenticator. Recorded, not refused.
	CloneWarning bool
	CreatedAt    time.Time
	LastUsedAt   time.Time // zero when never used
}

var _ MFAStore = (*sqlStore)(nil)

// PutPendingTOTP is one upsert whose update applies only to an unconfirmed
// row: two enrollments racing both end with one pending secret, and a
// confirmed secret is never overwritten.
func (s *sqlStore) PutPendingTOTP(ctx context.Context, accountID string, sealed []byte) error {
	if accountID == "" || len(sealed) == 0 {
		return errors.New("accounts: PutPendingTOTP: needs an account id and a sealed secret")
	}
	created, err := encodeTime(s.now())
	if err != nil {
		return err
	}
	n, err := s.db.exec(ctx, `INSERT INTO totp_credentials
			(account_id, secret_sealed, confirmed, last_used_step, created_at, confirmed_at)
		VALUES ($1, $2, FALSE, 0, $3, NULL)
		ON CONFLICT (account_id) DO UPDATE
			SET secret_sealed = excluded.secret_sealed, last_used_step = 0, created_at = excluded.created_at
			WHERE NOT totp_credentials.confirmed`,
		accountID, sealed, created)
	if err != nil {
		return s.mapError("PutPendingTOTP", err)
	}
	if n == 0 {
		return ErrMFAExists
	}
	return nil
}

func (s *sqlStore) TOTPCredential(ctx context.Context, accountID string) (*TOTPCredential, error) {
	var c TOTPCredential
	var created string
	var confirmed sql.NullString
	err := s.db.queryRow(ctx, `SELECT account_id, secret_sealed, confirmed, last_used_step, created_at, confirmed_at
		FROM totp_credentials WHERE account_id = $1`, []any{accountID},
		&c.AccountID, &c.SecretSealed, &c.Confirmed, &c.LastUsedStep, &created, &confirmed)
	if err != nil {
		return nil, s.mapError("TOTPCredential", err)
	}
	if c.CreatedAt, err = decodeTime(created); err != nil {
		return nil, err
	}
	if confirmed.Valid {
		if c.ConfirmedAt, err = decodeTime(confirmed.String); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

func (s *sqlStore) ConfirmTOTP(ctx context.Context, accountID string, step int64, at time.Time) error {
	if step <= 0 {
		return fmt.Errorf("accounts: ConfirmTOTP: time step %d out of range", step)
	}
	confirmedAt, err := encodeTime(at)
	if err != nil {
		return err
	}
	n, err := s.db.exec(ctx, `UPDATE totp_credentials SET confirmed = TRUE, last_used_step = $2, confirmed_at = $3
		WHERE account_id = $1 AND NOT confirmed`, accountID, step, confirmedAt)
	if err != nil {
		return s.mapError("ConfirmTOTP", err)
	}
	if n == 1 {
		return nil
	}
	// Nothing pending: say whether there is nothing at all or a confirmed secret.
	c, err := s.TOTPCredential(ctx, accountID)
	if err != nil {
		return err
	}
	if c.Confirmed {
		return ErrMFAExists
	}
	return errors.New("accounts: ConfirmTOTP: pending secret changed meanwhile")
}

// UseTOTPStep relies on the database's row lock: on PostgreSQL a second
// UPDATE of the row waits for the first to commit and then re-checks its WHERE
// against the new last_used_step (READ COMMITTED); SQLite runs writers one at
// a time. Either way the condition and the write are one step.
func (s *sqlStore) UseTOTPStep(ctx context.Context, accountID string, step int64) (bool, error) {
	n, err := s.db.exec(ctx, `UPDATE totp_credentials SET last_used_step = $2
		WHERE account_id = $1 AND confirmed AND last_used_step < $2`, accountID, step)
	if err != nil {
		return false, s.mapError("UseTOTPStep", err)
	}
	return n == 1, nil
}

// ResealTOTP replaces the sealed secret of accountID by sealed, only if it
// is still old: a secret sealed under a previous session key is sealed again
// under the current one when next used (CONTRACT §12 "Key rotation"), and
// an enrollment that changed it meanwhile is never overwritten. false: it
// had changed.
func (s *sqlStore) ResealTOTP(ctx context.Context, accountID string, old, sealed []byte) (bool, error) {
	if len(old) == 0 || len(sealed) == 0 {
		return false, errors.New("accounts: ResealTOTP: needs the old and the new sealed secret")
	}
	n, err := s.db.exec(ctx, `UPDATE totp_credentials SET secret_sealed = $3
		WHERE account_id = $1 AND secret_sealed = $2`, accountID, old, sealed)
	if err != nil {
		return false, s.mapError("ResealTOTP", err)
	}
	return n == 1, nil
}

func (s *sqlStore) DeleteTOTP(ctx context.Context, accountID string) error {
	n, err := s.db.exec(ctx, `DELETE FROM totp_credentials WHERE account_id = $1`, accountID)
	if err != nil {
		return s.mapError("DeleteTOTP", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

const webauthnColumns = `id, account_id, name, public_key, sign_count, aaguid, transports,
	attestation_type, attestation_format, user_present, user_verified, backup_eligible,
	backup_state, clone_warning, created_at, last_used_at`

// AddWebAuthnCredential stores c; on success c.CreatedAt holds what was stored.
func (s *sqlStore) AddWebAuthnCredential(ctx context.Context, c *WebAuthnCredential) error {
	if c == nil {
		return fmt.Errorf("%w: nil", ErrInvalidCredential)
	}
	if err := validateWebAuthnCredential(c); err != nil {
		return err
	}
	createdAt := s.timeOrNow(c.CreatedAt)
	created, err := encodeTime(createdAt)
	if err != nil {
		return err
	}
	lastUsed, err := nullTime(c.LastUsedAt)
	if err != nil {
		return err
	}
	transports, err := transportsJSON(c.Transports)
	if err != nil {
		return err
	}
	_, err = s.db.exec(ctx, `INSERT INTO webauthn_credentials (`+webauthnColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		c.ID, c.AccountID, c.Name, c.PublicKey, int64(c.SignCount), nullBytes(c.AAGUID), transports,
		c.AttestationType, c.AttestationFormat, c.UserPresent, c.UserVerified, c.BackupEligible,
		c.BackupState, c.CloneWarning, created, lastUsed)
	if err != nil {
		return s.mapError("AddWebAuthnCredential", err)
	}
	c.CreatedAt = createdAt
	return nil
}

// transportsJSON is the transports column: a JSON array, "[]" for none.
func transportsJSON(transports []string) (string, error) {
	if transports == nil {
		transports = []string{}
	}
	tj, err := json.Marshal(transports)
	if err != nil {
		return "", fmt.Errorf("accounts: transports: %w", err)
	}
	return string(tj), nil
}

func validateWebAuthnCredential(c *WebAuthnCredential) error {
	switch {
	case len(c.ID) == 0 || len(c.ID) > MaxCredentialIDBytes:
		return fmt.Errorf("%w: id of %d bytes", ErrInvalidCredential, len(c.ID))
	case c.AccountID == "":
		return fmt.Errorf("%w: no account id", ErrInvalidCredential)
	case len(c.PublicKey) == 0:
		return fmt.Errorf("%w: no public key", ErrInvalidCredential)
	case len(c.AAGUID) != 0 && len(c.AAGUID) != 16:
		return fmt.Errorf("%w: aaguid of %d bytes", ErrInvalidCredential, len(c.AAGUID))
	}
	return validCredentialName(c.Name)
}

func validCredentialName(name string) error {
	if len(name) > MaxCredentialNameBytes || !utf8.ValidString(name) {
		return fmt.Errorf("%w: name longer than %d bytes or not UTF-8", ErrInvalidCredential, MaxCredentialNameBytes)
	}
	return nil
}

// WebAuthnCredentials orders by creation time, then id (stable on both drivers).
func (s *sqlStore) WebAuthnCredentials(ctx context.Context, accountID string) ([]WebAuthnCredential, error) {
	var out []WebAuthnCredential
	err := s.db.query(ctx, `SELECT `+webauthnColumns+` FROM webauthn_credentials
		WHERE account_id = $1 ORDER BY created_at, id`, []any{accountID},
		func(scan func(...any) error) error {
			c, err := scanWebAuthnCredential(scan)
			if err != nil {
				return err
			}
			out = append(out, *c)
			return nil
		})
	if err != nil {
		return nil, s.mapError("WebAuthnCredentials", err)
	}
	return out, nil
}

func (s *sqlStore) WebAuthnCredentialByID(ctx context.Context, id []byte) (*WebAuthnCredential, error) {
	if len(id) == 0 {
		return nil, ErrNotFound
	}
	var c *WebAuthnCredential
	err := s.db.query(ctx, `SELECT `+webauthnColumns+` FROM webauthn_credentials WHERE id = $1`, []any{id},
		func(scan func(...any) error) error {
			var err error
			c, err = scanWebAuthnCredential(scan)
			return err
		})
	if err != nil {
		return nil, s.mapError("WebAuthnCredentialByID", err)
	}
	if c == nil {
		return nil, ErrNotFound
	}
	return c, nil
}

func scanWebAuthnCredential(scan func(...any) error) (*WebAuthnCredential, error) {
	var c WebAuthnCredential
	var signCount int64
	var transports, created string
	var lastUsed sql.NullString
	err := scan(&c.ID, &c.AccountID, &c.Name, &c.PublicKey, &signCount, &c.AAGUID, &transports,
		&c.AttestationType, &c.AttestationFormat, &c.UserPresent, &c.UserVerified, &c.BackupEligible,
		&c.BackupState, &c.CloneWarning, &created, &lastUsed)
	if err != nil {
		return nil, err
	}
	if signCount < 0 || signCount > 1<<32-1 {
		return nil, fmt.Errorf("accounts: stored sign count %d out of range", signCount)
	}
	c.SignCount = uint32(signCount)
	if err := json.Unmarshal([]byte(transports), &c.Transports); err != nil {
		return nil, fmt.Errorf("accounts: stored transports %q: %w", transports, err)
	}
	if len(c.Transports) == 0 {
		c.Transports = nil
	}
	if len(c.AAGUID) == 0 {
		c.AAGUID = nil
	}
	if c.CreatedAt, err = decodeTime(created); err != nil {
		return nil, err
	}
	if lastUsed.Valid {
		if c.LastUsedAt, err = decodeTime(lastUsed.String); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// UpdateWebAuthnCredentialUse keeps the larger sign count, so that two logins
// finishing out of order never move it back, and keeps a clone warning once
// raised. ErrNotFound if the credential is gone (deleted meanwhile).
func (s *sqlStore) UpdateWebAuthnCredentialUse(ctx context.Context, id []byte, signCount uint32, cloneWarning bool, at time.Time) error {
	used, err := encodeTime(at)
	if err != nil {
		return err
	}
	n, err := s.db.exec(ctx, `UPDATE webauthn_credentials
		SET sign_count = CASE WHEN sign_count < $2 THEN $2 ELSE sign_count END,
			clone_warning = (clone_warning OR $3),
			last_used_at = $4
		WHERE id = $1`, id, int64(signCount), cloneWarning, used)
	if err != nil {
		return s.mapError("UpdateWebAuthnCredentialUse", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *sqlStore) RenameWebAuthnCredential(ctx context.Context, accountID string, id []byte, name string) error {
	if err := validCredentialName(name); err != nil {
		return err
	}
	n, err := s.db.exec(ctx, `UPDATE webauthn_credentials SET name = $3 WHERE account_id = $1 AND id = $2`,
		accountID, id, name)
	if err != nil {
		return s.mapError("RenameWebAuthnCredential", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *sqlStore) DeleteWebAuthnCredential(ctx context.Context, accountID string, id []byte) error {
	n, err := s.db.exec(ctx, `DELETE FROM webauthn_credentials WHERE account_id = $1 AND id = $2`, accountID, id)
	if err != nil {
		return s.mapError("DeleteWebAuthnCredential", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *sqlStore) SetMFAEnrollRequired(ctx context.Context, accountID string, required bool) error {
	return s.setAccountColumn(ctx, "mfa_enroll_required", accountID, required)
}

func (s *sqlStore) SetPasswordSetRequired(ctx context.Context, accountID string, required bool) error {
	return s.setAccountColumn(ctx, "password_set_required", accountID, required)
}

func (s *sqlStore) MFAMethods(ctx context.Context, accountID string) (bool, int, error) {
	var totp, passkeys int64
	err := s.db.queryRow(ctx, `SELECT
			(SELECT COUNT(*) FROM totp_credentials WHERE account_id = $1 AND confirmed),
			(SELECT COUNT(*) FROM webauthn_credentials WHERE account_id = $1)`,
		[]any{accountID}, &totp, &passkeys)
	if err != nil {
		return false, 0, s.mapError("MFAMethods", err)
	}
	return totp > 0, int(passkeys), nil
}
