package gateway

import (
	"context"
	"net/http"
	"time"

	"unigate/accounts"
)

// audit writes an audit line (CONTRACT §7: every login, failure, lockout, MFA
// change, password change, session revocation) to the log and to the
// account store's audit_events. details must never hold a secret, a code or
// a session token (ASVS V16.2.5).
func (s *Server) audit(r *http.Request, kind, accountID string, details map[string]string) {
	ip := s.clientIP(r).String()
	attrs := []any{"audit", true, "event", kind, "account_id", accountID, "ip", ip}
	for k, v := range details {
		attrs = append(attrs, k, v)
	}
	s.log(r).Info("audit", attrs...)
	// A slow or failing audit table must not hold up a login; the log line above stands.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Second)
	defer cancel()
	err := s.accounts.RecordAudit(ctx, accounts.AuditEvent{At: s.now(), Kind: kind, AccountID: accountID, IP: ip, Details: details})
	if err != nil {
		s.log(r).Warn("audit event not stored", "event", kind, "err", err)
	}
}
