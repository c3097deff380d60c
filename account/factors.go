package account

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"unigate/accounts"
	"unigate/mfa"
)

// The second factors of settings (CONTRACT §5 /me/mfa): an authenticator
// app set up and confirmed, passkeys added, either removed. Adding needs a
// recent proof (or the login waiting at enroll_mfa, which the login machine
// vouches for); removing needs a recent proof and, when MFA is required,
// leaves at least one method.

// TOTPSetup is a set-up in progress: the secret to scan, and its SecretID,
// which the confirmation names so that it confirms this secret and no other
// (issue 16 finding 10: with two tabs open, the code of the first must not
// confirm the secret the second drew).
type TOTPSetup struct {
	Secret, OTPAuthURI string
	QRCode             string // data:image/png;base64,…
	SecretID           string
}

// secretID names a TOTP secret without revealing it.
func secretID(secret []byte) string {
	sum := sha256.Sum256(append([]byte("unigate totp set-up v1\x00"), secret...))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// StartTOTP draws a new secret and keeps it, sealed, until confirmed
// (POST /me/mfa/totp and the security page's set-up form).
func (s *Security) StartTOTP(ctx context.Context, c Caller) (*TOTPSetup, error) {
	if err := needRecentProof(c); err != nil {
		return nil, err
	}
	secret, uri, qr, err := mfa.GenerateTOTP(s.cfg.TOTPIssuer, c.Email)
	if err != nil {
		return nil, internalError("totp secret", err)
	}
	err = s.cfg.Store.PutPendingTOTP(ctx, c.AccountID, s.cfg.Sealer.Seal([]byte(secret), []byte(c.AccountID)))
	if errors.Is(err, accounts.ErrMFAExists) {
		return nil, ErrAlreadyEnrolled
	}
	if err != nil {
		return nil, internalError("put pending totp", err)
	}
	return &TOTPSetup{Secret: secret, OTPAuthURI: uri, QRCode: qr, SecretID: secretID([]byte(secret))}, nil
}

// ConfirmTOTP is POST /me/mfa/totp/confirm from settings: the first code
// proves the app holds the pending secret. secretID, when given (the page
// always gives it), must name that secret; the store confirms only the
// sealed secret the code was checked against, whatever was drawn since.
// Guesses count toward the lockout like a login's TOTP code.
func (s *Security) ConfirmTOTP(ctx context.Context, c Caller, rawCode, wantSecretID string) error {
	if err := needRecentProof(c); err != nil {
		return err
	}
	succeeded, err := s.cfg.Guesses.Begin(ctx, c.Email, c.Client, "totp")
	if err != nil {
		return err
	}
	cred, err := s.cfg.Store.TOTPCredential(ctx, c.AccountID)
	if errors.Is(err, accounts.ErrNotFound) || (err == nil && cred.Confirmed) {
		return ErrNoPendingTOTP
	}
	if err != nil {
		return internalError("totp credential", err)
	}
	secret, err := s.cfg.Sealer.Open(cred.SecretSealed, []byte(c.AccountID))
	if err != nil {
		return internalError("open totp secret", err)
	}
	if wantSecretID != "" && subtle.ConstantTimeCompare([]byte(wantSecretID), []byte(secretID(secret))) != 1 {
		return ErrNoPendingTOTP // replaced by a newer set-up: start again
	}
	code, perr := mfa.ParseCode(rawCode)
	step, ok := int64(0), false
	if perr == nil {
		step, ok = mfa.VerifyTOTP(string(secret), code, s.cfg.Now())
	}
	if !ok {
		s.cfg.Events.Attempt("totp", "failure")
		s.audit(ctx, c, "mfa.enroll_failure", map[string]string{"method": "totp"})
		return ErrInvalidCode
	}
	succeeded()
	switch err := s.cfg.Store.ConfirmPendingTOTP(ctx, c.AccountID, cred.SecretSealed, step, s.cfg.Now()); {
	case errors.Is(err, accounts.ErrTOTPReplaced), errors.Is(err, accounts.ErrMFAExists):
		return ErrNoPendingTOTP
	case err != nil:
		return internalError("confirm totp", err)
	}
	return s.enrolled(ctx, c, "totp")
}

// enrolled records that the account holds a second factor now.
func (s *Security) enrolled(ctx context.Context, c Caller, method string) error {
	if err := s.cfg.Store.SetMFAEnrollRequired(ctx, c.AccountID, false); err != nil {
		return internalError("mfa enroll required", err)
	}
	s.audit(ctx, c, "mfa.enroll", map[string]string{"method": method})
	return nil
}

// AddPasskey stores a passkey the caller just registered (its WebAuthn
// ceremony checked by the edge). It does not record the enrollment: inside
// a login that is the login's step (login.Enrolled), and from settings the
// edge calls it too, so that both paths record it the same way.
func (s *Security) AddPasskey(ctx context.Context, c Caller, cred *accounts.WebAuthnCredential) error {
	if err := needRecentProof(c); err != nil {
		return err
	}
	if cred.AccountID != c.AccountID {
		return ErrForbidden
	}
	cred.Name = PasskeyName(cred.Name)
	if err := s.cfg.Store.AddWebAuthnCredential(ctx, cred); err != nil {
		if errors.Is(err, accounts.ErrCredentialExists) {
			return ErrCredentialExists
		}
		return internalError("add passkey", err)
	}
	return nil
}

// PasskeyName keeps a user-given label printable and short.
func PasskeyName(n string) string {
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(n))
	if len([]rune(n)) > 64 {
		n = string([]rune(n)[:64])
	}
	if n == "" {
		n = "Passkey"
	}
	return n
}

// MFASummary is GET /me/mfa: a confirmed authenticator app, and the passkeys.
type MFASummary struct {
	TOTP     bool
	Passkeys []PasskeyItem
}

// PasskeyItem is one passkey; LastUsedAt is zero when never used.
type PasskeyItem struct {
	ID                    string // base64url, as in DELETE /me/mfa/passkeys/{id}
	Name                  string
	CreatedAt, LastUsedAt time.Time
}

// MFA is the caller's second factors.
func (s *Security) MFA(ctx context.Context, c Caller) (*MFASummary, error) {
	v := &MFASummary{Passkeys: []PasskeyItem{}}
	cred, err := s.cfg.Store.TOTPCredential(ctx, c.AccountID)
	switch {
	case err == nil:
		v.TOTP = cred.Confirmed
	case !errors.Is(err, accounts.ErrNotFound):
		return nil, internalError("totp credential", err)
	}
	creds, err := s.cfg.Store.WebAuthnCredentials(ctx, c.AccountID)
	if err != nil {
		return nil, internalError("passkeys", err)
	}
	for _, pk := range creds {
		v.Passkeys = append(v.Passkeys, PasskeyItem{ID: base64.RawURLEncoding.EncodeToString(pk.ID), Name: pk.Name,
			CreatedAt: pk.CreatedAt.UTC(), LastUsedAt: pk.LastUsedAt.UTC()})
	}
	return v, nil
}

// RemoveTOTP removes the authenticator app (set up or pending); not_found
// when there is none.
func (s *Security) RemoveTOTP(ctx context.Context, c Caller) error {
	return s.removeFactor(ctx, c, "totp", func() error {
		if _, err := s.cfg.Store.TOTPCredential(ctx, c.AccountID); err != nil {
			return err
		}
		return s.cfg.Store.DeleteTOTP(ctx, c.AccountID)
	})
}

// RemovePasskey removes one of the caller's passkeys, named by its
// base64url id; anyone else's is not_found.
func (s *Security) RemovePasskey(ctx context.Context, c Caller, id string) error {
	credID, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return ErrNotFound
	}
	return s.removeFactor(ctx, c, "passkey", func() error {
		return s.cfg.Store.DeleteWebAuthnCredential(ctx, c.AccountID, credID)
	})
}

// removeFactor needs a recent proof, and keeps one method when MFA is required.
func (s *Security) removeFactor(ctx context.Context, c Caller, method string, remove func() error) error {
	if err := needRecentProof(c); err != nil {
		return err
	}
	totp, passkeys, err := s.cfg.Store.MFAMethods(ctx, c.AccountID)
	if err != nil {
		return internalError("mfa methods", err)
	}
	remaining := passkeys
	if totp {
		remaining++
	}
	if s.cfg.RequireMFA && remaining <= 1 {
		return ErrLastMFAMethod
	}
	if err := remove(); err != nil {
		if isNotFound(err) {
			return ErrNotFound
		}
		return internalError("remove "+method, err)
	}
	s.audit(ctx, c, "mfa.remove", map[string]string{"method": method})
	return nil
}
