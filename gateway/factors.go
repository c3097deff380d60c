package gateway

import "net/http"

// mfaState is what second factors an account holds (for the settings that
// keep at least one).
type mfaState struct {
	totp     bool
	passkeys int
}

func (s *Server) mfaOf(r *http.Request, accountID string) (mfaState, error) {
	totp, n, err := s.accounts.MFAMethods(r.Context(), accountID)
	if err != nil {
		return mfaState{}, internal(err)
	}
	return mfaState{totp: totp, passkeys: n}, nil
}
