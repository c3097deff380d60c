package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrTOTPReplaced: the pending TOTP secret is no longer the one named (a
// newer set-up replaced it, or it was removed).
var ErrTOTPReplaced = errors.New("accounts: the pending TOTP secret was replaced")

// ConfirmPendingTOTP marks the pending secret confirmed, as ConfirmTOTP
// does, but only while it is still sealed: the secret a code was checked
// against. A set-up started meanwhile (another tab) replaced it and is not
// confirmed by a code of the old one (issue 16 finding 10). One conditional
// UPDATE: ErrTOTPReplaced when another secret (or none) is pending,
// ErrMFAExists when the account's secret is already confirmed.
func (s *sqlStore) ConfirmPendingTOTP(ctx context.Context, accountID string, sealed []byte, step int64, at time.Time) error {
	if step <= 0 || len(sealed) == 0 {
		return fmt.Errorf("accounts: ConfirmPendingTOTP: needs a sealed secret and a time step (got %d)", step)
	}
	confirmedAt, err := encodeTime(at)
	if err != nil {
		return err
	}
	n, err := s.db.exec(ctx, `UPDATE totp_credentials SET confirmed = TRUE, last_used_step = $2, confirmed_at = $3
		WHERE account_id = $1 AND NOT confirmed AND secret_sealed = $4`, accountID, step, confirmedAt, sealed)
	if err != nil {
		return s.mapError("ConfirmPendingTOTP", err)
	}
	if n == 1 {
		return nil
	}
	c, err := s.TOTPCredential(ctx, accountID)
	switch {
	case errors.Is(err, ErrNotFound):
		return ErrTOTPReplaced
	case err != nil:
		return err
	case c.Confirmed:
		return ErrMFAExists
	}
	return ErrTOTPReplaced
}
