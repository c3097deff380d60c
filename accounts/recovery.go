package accounts

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// RecoveryCodeStore keeps each account's set of recovery codes (CONTRACT
// §10) as keyed hashes (package mfa makes them); the store never sees a
// code.
type RecoveryCodeStore interface {
	// ReplaceRecoveryCodes makes hashes the account's set, created at at: the
	// previous set, used codes included, is gone in the same transaction.
	// ErrNotFound if the account does not exist.
	ReplaceRecoveryCodes(ctx context.Context, accountID string, hashes [][]byte, at time.Time) error
	// UseRecoveryCode spends the code of that hash: true only if it was in
	// the account's set and unused. One conditional UPDATE, so of concurrent
	// calls with one code, on any number of replicas, exactly one gets true.
	UseRecoveryCode(ctx context.Context, accountID string, hash []byte, at time.Time) (bool, error)
	// RecoveryCodes says how many codes of the account's set are unused and
	// when the set was made; ErrNotFound when the account has no set.
	RecoveryCodes(ctx context.Context, accountID string) (remaining int, createdAt time.Time, err error)
	// DeleteRecoveryCodes revokes the account's set (none: no error).
	DeleteRecoveryCodes(ctx context.Context, accountID string) error
}

func (s *sqlStore) ReplaceRecoveryCodes(ctx context.Context, accountID string, hashes [][]byte, at time.Time) error {
	created, err := encodeTime(at)
	if err != nil {
		return err
	}
	err = s.db.inTx(ctx, func(q querier) error {
		var one int
		if err := q.queryRow(ctx, `SELECT 1 FROM accounts WHERE id = $1`, []any{accountID}, &one); err != nil {
			return err
		}
		if _, err := q.exec(ctx, `DELETE FROM recovery_codes WHERE account_id = $1`, accountID); err != nil {
			return err
		}
		for _, h := range hashes {
			if len(h) == 0 {
				return fmt.Errorf("accounts: an empty recovery code hash")
			}
			if _, err := q.exec(ctx, `INSERT INTO recovery_codes (account_id, code_hash, created_at) VALUES ($1, $2, $3)`,
				accountID, h, created); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.mapError("ReplaceRecoveryCodes", err)
	}
	return nil
}

func (s *sqlStore) UseRecoveryCode(ctx context.Context, accountID string, hash []byte, at time.Time) (bool, error) {
	used, err := encodeTime(at)
	if err != nil {
		return false, err
	}
	n, err := s.db.exec(ctx, `UPDATE recovery_codes SET used_at = $3
		WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL`, accountID, hash, used)
	if err != nil {
		return false, s.mapError("UseRecoveryCode", err)
	}
	return n == 1, nil
}

func (s *sqlStore) RecoveryCodes(ctx context.Context, accountID string) (int, time.Time, error) {
	var total, remaining int64
	var created sql.NullString
	err := s.db.queryRow(ctx, `SELECT COUNT(*), COUNT(*) - COUNT(used_at), MIN(created_at)
		FROM recovery_codes WHERE account_id = $1`, []any{accountID}, &total, &remaining, &created)
	if err != nil {
		return 0, time.Time{}, s.mapError("RecoveryCodes", err)
	}
	if total == 0 || !created.Valid {
		return 0, time.Time{}, ErrNotFound
	}
	at, err := decodeTime(created.String)
	if err != nil {
		return 0, time.Time{}, err
	}
	return int(remaining), at, nil
}

func (s *sqlStore) DeleteRecoveryCodes(ctx context.Context, accountID string) error {
	if _, err := s.db.exec(ctx, `DELETE FROM recovery_codes WHERE account_id = $1`, accountID); err != nil {
		return s.mapError("DeleteRecoveryCodes", err)
	}
	return nil
}
