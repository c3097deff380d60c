package gateway

import (
	"context"
	"net/http"
	"time"

	"unigate/account"
	"unigate/accounts"
)

// audit writes an audit line (CONTRACT §7: every login, failure, lockout, MFA
// change, password change, session revocation) to the log and to the
// account store's audit_events. details must never hold a secret, a code or
// a session token (ASVS V16.2.5).
func (s *Server) audit(r *http.Request, kind, accountID string, details map[string]string) {
	s.Audit(r.Context(), account.AuditEvent{Kind: kind, AccountID: accountID, IP: s.clientIP(r).String(), Details: details})
}

// Audit records e; the packages below the edge (account) are given the
// Server as their Auditor.
func (s *Server) Audit(ctx context.Context, e account.AuditEvent) {
	attrs := []any{"audit", true, "event", e.Kind, "account_id", e.AccountID, "ip", e.IP}
	for k, v := range e.Details {
		attrs = append(attrs, k, v)
	}
	log := s.logger.With("request_id", requestID(ctx))
	log.Info("audit", attrs...)
	// A slow or failing audit table must not hold up a login; the log line above stands.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	err := s.accounts.RecordAudit(ctx, accounts.AuditEvent{At: s.now(), Kind: e.Kind, AccountID: e.AccountID, IP: e.IP, Details: e.Details})
	if err != nil {
		log.Warn("audit event not stored", "event", e.Kind, "err", err)
	}
}
