package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"unigate/accounts"
)

// Console provisioning (issue "one sign-up"): a console may declare an
// endpoint that creates its account for a unified account. The gateway POSTs
// {"account_id","email"} and stores the console account id it answers
// ({"id"} or {"account_id"}). Jobs sit in a durable queue in the account
// store, retried with backoff, so a console that is down delays its account
// (the chooser says so) and never fails a sign-up. The request is idempotent
// on the console's side by account_id.

var errProvisioningPending = fail("provisioning_pending")

const (
	provisionEvery = 2 * time.Second
	provisionLease = time.Minute
)

// provisioningURL is the console's endpoint, "" when the gateway names its accounts.
func (s *Server) provisioningURL(console string) string {
	if c := s.consoles[console]; c != nil {
		return c.provisioning.URL
	}
	return ""
}

// RunProvisioning works the provisioning queue until ctx ends.
func (s *Server) RunProvisioning(ctx context.Context) {
	t := time.NewTicker(provisionEvery)
	defer t.Stop()
	for {
		s.ProvisionOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.provisionPoke:
		}
	}
}

func (s *Server) pokeProvisioning() {
	select {
	case s.provisionPoke <- struct{}{}:
	default:
	}
}

// ProvisionOnce runs the jobs that are due now and returns how many it ran.
func (s *Server) ProvisionOnce(ctx context.Context) int {
	jobs, err := s.accounts.ClaimProvisioning(ctx, s.now(), provisionLease, 20)
	if err != nil {
		s.logger.Warn("provisioning queue unavailable", "err", err)
		return 0
	}
	for _, job := range jobs {
		s.provision(ctx, job)
	}
	return len(jobs)
}

func (s *Server) provision(ctx context.Context, job accounts.ProvisioningJob) {
	id, err := s.callProvisioning(ctx, job)
	if err == nil {
		err = s.accounts.FinishProvisioning(ctx, job, id, s.now())
	}
	if err != nil {
		// 5 s, 10 s, 20 s … at most an hour, with jitter.
		wait := min(5*time.Second<<min(job.Attempts, 10), time.Hour)
		wait -= time.Duration(rand.Int64N(int64(wait / 4)))
		if rerr := s.accounts.RetryProvisioning(ctx, job, s.now().Add(wait), err.Error()); rerr != nil {
			s.logger.Warn("provisioning retry not recorded", "err", rerr)
		}
		s.logger.Warn("console provisioning failed", "console", job.Console, "account_id", job.AccountID,
			"attempt", job.Attempts+1, "err", err)
		return
	}
	s.logger.Info("console account provisioned", "console", job.Console, "account_id", job.AccountID)
}

func (s *Server) callProvisioning(ctx context.Context, job accounts.ProvisioningJob) (string, error) {
	c := s.consoles[job.Console]
	if c == nil || c.provisioning.URL == "" {
		return "", fmt.Errorf("console %q has no provisioning endpoint", job.Console)
	}
	target := c.provisioning.URL
	acct, err := s.accounts.AccountByID(ctx, job.AccountID)
	if err != nil {
		return "", err
	}
	timeout := 5 * time.Second
	if c.provisioning.Timeout > 0 {
		timeout = c.provisioning.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"account_id": acct.ID, "email": acct.Email})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", acct.ID+":"+job.Console)
	resp, err := s.provisionClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("endpoint answered %d", resp.StatusCode)
	}
	var answer struct {
		ID        string `json:"id"`
		AccountID string `json:"account_id"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return "", fmt.Errorf("endpoint answer is not JSON: %w", err)
	}
	id := answer.ID
	if id == "" {
		id = answer.AccountID
	}
	if id == "" || len(id) > 200 {
		return "", fmt.Errorf("endpoint answered no account id")
	}
	return id, nil
}
