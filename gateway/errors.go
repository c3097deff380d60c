package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// apiError is what a handler returns when the request cannot be served. Code
// and Message are shown to the client; Err is logged and never shown
// (Tailscale's HTTPError shape: what the user sees stays apart from what is logged).
type apiError struct {
	Status  int
	Code    string
	Message string
	Err     error
	// Extra fields merged into the JSON body (e.g. "accounts", "login_url").
	Extra map[string]any
	// RetryAfter, when set, is sent as Retry-After (seconds, rounded up).
	RetryAfter time.Duration
}

func (e *apiError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Code, e.Err)
	}
	return e.Code
}

func (e *apiError) Unwrap() error { return e.Err }

func errorf(status int, code, message string) *apiError {
	return &apiError{Status: status, Code: code, Message: message}
}

// internal wraps an unexpected failure: the client sees "internal error", the log sees err.
func internal(err error) *apiError {
	return &apiError{Status: http.StatusInternalServerError, Code: "internal_error", Message: "Something went wrong on our side.", Err: err}
}

// storeDown is the answer whenever the session store fails: fail closed (ASVS V16.5.2).
func storeDown(err error) *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "The service is temporarily unavailable. Please retry in a moment.", Err: err}
}

var (
	errUnauthenticated = errorf(http.StatusUnauthorized, "unauthenticated", "You are not signed in.")
	errBadJSON         = errorf(http.StatusBadRequest, "invalid_json", "The request body is not valid JSON.")
	errNotFound        = errorf(http.StatusNotFound, "not_found", "Not found.")
)

// asAPIError turns any error into an apiError, defaulting to internal.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return internal(err)
}

// writeJSON writes v with status. JSON API answers are never cached (CONTRACT §5).
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// writeAPIError renders err as {"error","message",…} and logs what the client does not see.
func (s *Server) writeAPIError(w http.ResponseWriter, r *http.Request, err error) {
	ae := asAPIError(err)
	if ae.Status >= 500 {
		s.log(r).Error("request failed", "status", ae.Status, "code", ae.Code, "err", ae.Err)
	}
	body := map[string]any{"error": ae.Code, "message": ae.Message}
	for k, v := range ae.Extra {
		body[k] = v
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ae.RetryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, ae.Status, body)
}

// jsonHandler adapts a handler that returns an error to http.Handler.
type jsonHandler func(w http.ResponseWriter, r *http.Request) error

func (s *Server) api(h jsonHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every API answer is personal or a step of a login: never cached (CONTRACT §5).
		w.Header().Set("Cache-Control", "no-store")
		if err := h(w, r); err != nil {
			s.writeAPIError(w, r, err)
		}
	})
}

// logAttrs are never secrets: no codes, passwords, tokens or query strings.
func (s *Server) log(r *http.Request) *slog.Logger {
	return s.logger.With("request_id", requestID(r.Context()))
}
