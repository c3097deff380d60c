// Package mfa provides the factors beyond the password: TOTP (RFC 6238, with
// the replay guard left to the account store), WebAuthn passkeys, and the
// one-time codes sent by email, plus the Sealer that keeps TOTP secrets
// encrypted at rest.
//
// The package holds no state and does no I/O of its own: stores and clocks
// are passed in, ceremony and code state is handed back to the caller as
// values to keep in its session. Its files do not import net/http
// (STYLE.md; TestImports): WebAuthn responses are read from an io.Reader.
package mfa

import "errors"

// Errors returned by this package. Callers test them with errors.Is.
var (
	// ErrInvalidCode: the input is not a code of the expected form (ParseCode,
	// ParseEmailCode). It is not a wrong code: nothing was compared.
	ErrInvalidCode = errors.New("mfa: not a valid code")
	// ErrSealed: a sealed secret does not open: corrupted, sealed under
	// another key, or moved to another account (Sealer.Open).
	ErrSealed = errors.New("mfa: sealed secret does not open")
	// ErrCeremony: the WebAuthn session blob is missing, malformed, of another
	// ceremony, or expired. The user must ask for new options.
	ErrCeremony = errors.New("mfa: no valid WebAuthn ceremony")
	// ErrWebAuthn: the authenticator's response was refused (wrong origin, RP
	// ID, challenge or signature, user not verified, unknown credential …).
	// The wrapped error says why, for logs; users get a generic message.
	ErrWebAuthn = errors.New("mfa: WebAuthn response refused")
	// ErrNoPasskeys: a second-factor passkey login was asked for an account
	// holding no passkey.
	ErrNoPasskeys = errors.New("mfa: the account has no passkey")
)
