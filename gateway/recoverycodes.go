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
func (s *Server) apiRecoveryCodesCreate(w http.ResponseWriter, r *http.Request, cur *current) error {
	if err := decodeJSON(w, r, &struct{}{}); err != nil {
		return err
	}
	codes, err := s.login.RegenerateRecoveryCodes(r.Context(), s.loginOf(r, cur.sess))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"codes": codes})
	return nil
}

// apiRecoveryCodes is GET /me/mfa/recovery-codes: {"remaining","created_at"}.
func (s *Server) apiRecoveryCodes(w http.ResponseWriter, r *http.Request, cur *current) error {
	n, at, err := s.login.RecoveryCodeStatus(r.Context(), s.loginOf(r, cur.sess))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"remaining": n, "created_at": at.UTC().Format(time.RFC3339)})
	return nil
}

// firstRecoveryCodes hands out the account's first set when the factor the
// settings just confirmed is its first (login.FirstRecoveryCodes): the
// answer {"recovery_codes":[…]}, or {} when none was handed out.
func (s *Server) firstRecoveryCodes(r *http.Request, cur *current) (map[string]any, error) {
	codes, err := s.login.FirstRecoveryCodes(r.Context(), s.loginOf(r, cur.sess))
	if err != nil {
		return nil, err
	}
	if len(codes) == 0 {
		return map[string]any{}, nil
	}
	return map[string]any{"recovery_codes": codes}, nil
}
