package gateway

import (
	"net/http"

	"unigate/login"
)

// The JSON API of the login (CONTRACT §5), over package login. The steps
// that take one string (password, codes) go through needLoginInProgress
// (loginedge.go); these are the others.

// apiLoginState is GET /login/state.
func (s *Server) apiLoginState(w http.ResponseWriter, r *http.Request) error {
	l, err := s.currentLogin(r)
	if err != nil {
		return err
	}
	res, err := s.login.State(r.Context(), l)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &stepResult{Next: res.Next, Methods: res.Methods, MFAMethods: res.MFAMethods})
	return nil
}

// identifyRequest is the body of POST /login/identify and the identify form.
type identifyRequest struct {
	Email    string `json:"email"`
	ReturnTo string `json:"return_to"`
}

// identify opens a login for r (login.Identify) and gives this host its cookie.
func (s *Server) identify(w http.ResponseWriter, r *http.Request, req identifyRequest) (*stepResult, error) {
	l, err := s.openingLogin(r)
	if err != nil {
		return nil, err
	}
	res, err := s.login.Identify(r.Context(), l, req.Email, s.opening(r, req.ReturnTo))
	return s.afterStep(w, r, l, res, err)
}

func (s *Server) apiIdentify(w http.ResponseWriter, r *http.Request) error {
	var req identifyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	res, err := s.identify(w, r, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"methods": res.Methods})
	return nil
}

// apiEmailCode is POST /login/email-code: 202 whatever the address.
func (s *Server) apiEmailCode(w http.ResponseWriter, r *http.Request) error {
	if err := decodeJSON(w, r, &struct{}{}); err != nil {
		return err
	}
	if err := s.sendEmailCode(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]bool{"sent": true})
	return nil
}

// sendEmailCode mails a code to the login's address if it may use one (login.SendEmailCode).
func (s *Server) sendEmailCode(r *http.Request) error {
	l, err := s.currentLogin(r)
	if err != nil {
		return err
	}
	return s.login.SendEmailCode(r.Context(), l)
}

// apiPasskeyOptions is POST /login/passkey/options.
func (s *Server) apiPasskeyOptions(w http.ResponseWriter, r *http.Request) error {
	l, err := s.currentLogin(r)
	if err != nil {
		return err
	}
	options, err := s.login.PasskeyOptions(r.Context(), l)
	if err != nil {
		return err
	}
	writeRawJSON(w, http.StatusOK, options)
	return nil
}

// apiPasskey is POST /login/passkey: the assertion.
func (s *Server) apiPasskey(w http.ResponseWriter, r *http.Request) error {
	l, err := s.currentLogin(r)
	if err != nil {
		return err
	}
	if l.Session == nil || l.Session.Complete() || l.Session.Email == "" {
		return login.ErrNoLogin // before the body is read, as always
	}
	body, err := readBody(w, r, maxWebAuthnBody)
	if err != nil {
		return err
	}
	res, err := s.login.Passkey(r.Context(), l, body)
	out, err := s.afterStep(w, r, l, res, err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// The login's refusals, for the edge's other handlers (organizations,
// password change) that answer the same codes.
var (
	errNoLogin            = login.ErrNoLogin
	errInvalidEmail       = login.ErrInvalidEmail
	errInvalidCredentials = login.ErrInvalidCredentials
)
