package gateway

import (
	"net/http"
	"time"

	"unigate/login"
)

// The recovery codes of CONTRACT §10 at the edge: the decisions are the
// login machine's (login/recovery.go).

// recoveryCodesResult is the answer of an enrollment outside a login: the
// set it handed out, or nil when it handed out none.
func recoveryCodesResult(l *login.Login) *stepResult {
	if len(l.RecoveryCodes) == 0 {
		return nil
	}
	return &stepResult{RecoveryCodes: l.RecoveryCodes}
}

// apiRecoveryCodesCreate is POST /me/mfa/recovery-codes: 201 {"codes"}, a
// new set (the old one revoked), shown once; needs a recent proof.
func (s *Server) apiRecoveryCodesCreate(w http.ResponseWriter, r *http.Request) error {
	if err := decodeJSON(w, r, &struct{}{}); err != nil {
		return err
	}
	l, err := s.currentLogin(r)
	if err != nil {
		return err
	}
	codes, err := s.login.RegenerateRecoveryCodes(r.Context(), l)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"codes": codes})
	return nil
}

// apiRecoveryCodes is GET /me/mfa/recovery-codes: {"remaining","created_at"}.
func (s *Server) apiRecoveryCodes(w http.ResponseWriter, r *http.Request) error {
	l, err := s.currentLogin(r)
	if err != nil {
		return err
	}
	n, at, err := s.login.RecoveryCodeStatus(r.Context(), l)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"remaining": n, "created_at": at.UTC().Format(time.RFC3339)})
	return nil
}
