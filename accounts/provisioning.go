package accounts

import (
	"context"
	"time"
)

// ProvisioningJob asks a console's provisioning endpoint for an account.
type ProvisioningJob struct {
	AccountID string
	Console   string
	Attempts  int
	LastError string
}

// ProvisioningStore is the durable queue of console accounts to create
// through the consoles' provisioning endpoints (sign-up, first entry).
type ProvisioningStore interface {
	// EnqueueProvisioning adds a job unless one exists for (account, console).
	EnqueueProvisioning(ctx context.Context, accountID, console string, at time.Time) error
	// ClaimProvisioning leases due jobs until now+lease (several replicas never run one job at once).
	ClaimProvisioning(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]ProvisioningJob, error)
	// FinishProvisioning stores the console account the endpoint answered and
	// deletes the job, in one transaction (idempotent: an account already
	// stored is kept).
	FinishProvisioning(ctx context.Context, job ProvisioningJob, externalID string, at time.Time) error
	// RetryProvisioning counts a failed attempt and makes the job due again at next.
	RetryProvisioning(ctx context.Context, job ProvisioningJob, next time.Time, reason string) error
	// PendingProvisioning lists the consoles whose account is still being created for accountID.
	PendingProvisioning(ctx context.Context, accountID string) ([]string, error)
}

var _ ProvisioningStore = (*sqlStore)(nil)

func (s *sqlStore) EnqueueProvisioning(ctx context.Context, accountID, console string, at time.Time) error {
	now, err := encodeTime(at)
	if err != nil {
		return err
	}
	_, err = s.db.exec(ctx, `INSERT INTO provisioning_jobs (account_id, console, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $3) ON CONFLICT (account_id, console) DO NOTHING`, accountID, console, now)
	if err != nil {
		return s.mapError("EnqueueProvisioning", err)
	}
	return nil
}

func (s *sqlStore) ClaimProvisioning(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]ProvisioningJob, error) {
	at, until, limit, err := claimWindow("ClaimProvisioning", now, lease, limit)
	if err != nil {
		return nil, err
	}
	// As ClaimMail: the due rows in a MATERIALIZED CTE, leased in one UPDATE.
	query := `WITH due AS MATERIALIZED (
			SELECT account_id, console FROM provisioning_jobs
			WHERE next_attempt_at <= $1 AND (leased_until IS NULL OR leased_until <= $1)
			ORDER BY next_attempt_at, account_id, console
			LIMIT $3` + s.rowLock("FOR UPDATE SKIP LOCKED") + `)
		UPDATE provisioning_jobs SET leased_until = $2
		WHERE (account_id, console) IN (SELECT account_id, console FROM due)
			AND (leased_until IS NULL OR leased_until <= $1)
		RETURNING account_id, console, attempts, last_error`
	var out []ProvisioningJob
	err = s.db.inTx(ctx, func(q querier) error {
		return q.query(ctx, query, []any{at, until, int64(limit)}, func(scan func(...any) error) error {
			var j ProvisioningJob
			var attempts int64
			if err := scan(&j.AccountID, &j.Console, &attempts, &j.LastError); err != nil {
				return err
			}
			j.Attempts = int(attempts)
			out = append(out, j)
			return nil
		})
	})
	if err != nil {
		return nil, s.mapError("ClaimProvisioning", err)
	}
	return out, nil
}

func (s *sqlStore) FinishProvisioning(ctx context.Context, job ProvisioningJob, externalID string, at time.Time) error {
	ca := ConsoleAccount{AccountID: job.AccountID, Console: job.Console, ExternalID: externalID, LinkedAt: at}
	if err := validateConsoleAccount(ca); err != nil {
		return err
	}
	linked, err := encodeTime(at)
	if err != nil {
		return err
	}
	err = s.db.inTx(ctx, func(q querier) error {
		if _, err := q.exec(ctx, `INSERT INTO console_accounts (account_id, console, external_id, prelinked, linked_at)
			VALUES ($1, $2, $3, FALSE, $4) ON CONFLICT (console, external_id) DO NOTHING`,
			ca.AccountID, ca.Console, ca.ExternalID, linked); err != nil {
			return err
		}
		_, err := q.exec(ctx, `DELETE FROM provisioning_jobs WHERE account_id = $1 AND console = $2`, job.AccountID, job.Console)
		return err
	})
	if err != nil {
		return s.mapError("FinishProvisioning", err)
	}
	return nil
}

func (s *sqlStore) RetryProvisioning(ctx context.Context, job ProvisioningJob, next time.Time, reason string) error {
	at, err := encodeTime(next)
	if err != nil {
		return err
	}
	_, err = s.db.exec(ctx, `UPDATE provisioning_jobs SET attempts = attempts + 1, next_attempt_at = $3,
		leased_until = NULL, last_error = $4 WHERE account_id = $1 AND console = $2`,
		job.AccountID, job.Console, at, shortReason(reason))
	if err != nil {
		return s.mapError("RetryProvisioning", err)
	}
	return nil
}

func (s *sqlStore) PendingProvisioning(ctx context.Context, accountID string) ([]string, error) {
	var out []string
	err := s.db.query(ctx, `SELECT console FROM provisioning_jobs WHERE account_id = $1 ORDER BY console`,
		[]any{accountID}, func(scan func(...any) error) error {
			var c string
			if err := scan(&c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	if err != nil {
		return nil, s.mapError("PendingProvisioning", err)
	}
	return out, nil
}
