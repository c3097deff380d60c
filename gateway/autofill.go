package gateway

import (
	"net/http"

	"unigate/login"
)

// Passkey autofill (CONTRACT §11): POST /login/passkey/options answers
// before any identify, for the login page's conditional request (passkey.js);
// POST /login/passkey then takes the answer to that challenge. A login
// identified by its email keeps the button's ceremonies of login.go.

// apiLoginPasskeyOptions is POST /login/passkey/options: the options of the
// login in progress, or, with {"autofill": true} or no identified login,
// a login opened for autofill (with its cookie).
func (s *Server) apiLoginPasskeyOptions(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Autofill bool   `json:"autofill"`
		ReturnTo string `json:"return_to"`
	}
	// The body was never required here: it is read when it is JSON.
	if r.ContentLength != 0 && requireJSON(r) == nil {
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
	}
	l, err := s.openingLogin(r)
	if err != nil {
		return err
	}
	identified := l.Session != nil && !l.Session.Complete() && l.Session.Email != ""
	complete := l.Session != nil && l.Session.Complete()
	if complete || (identified && !req.Autofill) {
		return s.apiPasskeyOptions(w, r)
	}
	options, res, err := s.login.PasskeyAutofillOptions(r.Context(), l, s.opening(r, req.ReturnTo))
	if err != nil {
		return err
	}
	if err := s.setSessionCookie(w, r, res.Token); err != nil {
		return err
	}
	writeRawJSON(w, http.StatusOK, options)
	return nil
}

// apiLoginPasskey is POST /login/passkey: the answer to an autofill
// challenge, or to the login's own (login.go).
func (s *Server) apiLoginPasskey(w http.ResponseWriter, r *http.Request) error {
	l, err := s.currentLogin(r)
	if err != nil {
		return err
	}
	if !login.AutofillInProgress(l) {
		return s.apiPasskey(w, r)
	}
	body, err := readBody(w, r, maxWebAuthnBody)
	if err != nil {
		return err
	}
	res, err := s.login.PasskeyAutofill(r.Context(), l, body)
	out, err := s.afterStep(w, r, l, res, err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
