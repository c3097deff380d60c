package gateway

import (
	"io"
	"net/http"

	"unigate/login"
	"unigate/mfa"
	"unigate/session"
)

// Passkeys at the edge: the login's ceremonies are package login's
// (PasskeyOptions, Passkey); registration in the settings keeps its
// ceremony in the session the same way.

const ceremonyRegister = login.CeremonyRegister

// maxWebAuthnBody bounds a WebAuthn answer (attestation objects are a few KiB).
const maxWebAuthnBody = 64 << 10

func (s *Server) startCeremony(r *http.Request, sess *session.Session, purpose string, data []byte) error {
	return s.login.BeginCeremony(r.Context(), sess, purpose, data)
}

// takeCeremony returns the session's ceremony of purpose and clears it (saved), so a challenge serves once.
func (s *Server) takeCeremony(r *http.Request, sess *session.Session, purposes ...string) ([]byte, string, error) {
	return s.login.TakeCeremony(r.Context(), sess, purposes...)
}

// webauthnUserByID is the WebAuthn view of an account known by its id.
func (s *Server) webauthnUserByID(r *http.Request, accountID string) (*mfa.User, error) {
	return s.login.PasskeyUser(r.Context(), accountID)
}

// readBody reads a JSON body of at most limit bytes (Content-Type checked like decodeJSON).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if err := requireJSON(r); err != nil {
		return nil, err
	}
	if r.ContentLength > limit {
		return nil, fail("body_too_large")
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, fail("body_too_large")
	}
	return b, nil
}

func writeRawJSON(w http.ResponseWriter, status int, raw []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(raw)
}
