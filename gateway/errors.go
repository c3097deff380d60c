package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// One error model for the whole edge (STYLE.md: handlers return errors, one
// place maps them). A failure is named by its contract code; the code alone
// decides the status and the sentence people read, for the JSON API and the
// pages alike. What is logged (the wrapped error) never reaches the client.
//
// The packages below the edge (login, access, account) return their own
// typed errors; each one names its code through ErrorCode, and may carry a
// Retry-After (RetryAfter) or extra JSON fields (ErrorFields).

// codeInfo is what one error code means to a client.
type codeInfo struct {
	status  int
	message string // English; the pages translate it (web.Translate)
}

// errorCodes is the one table of statuses and messages. A code that is not
// here is a programming error: it is answered as internal_error and logged.
var errorCodes = map[string]codeInfo{
	// Requests the edge cannot read.
	"invalid_json":           {http.StatusBadRequest, "The request body is not valid JSON."},
	"invalid_form":           {http.StatusBadRequest, "The form could not be read."},
	"body_too_large":         {http.StatusRequestEntityTooLarge, "The request body is too large."},
	"unsupported_media_type": {http.StatusUnsupportedMediaType, "Send the body as application/json."},
	"method_not_allowed":     {http.StatusMethodNotAllowed, "This method is not allowed here."},
	"invalid_host":           {http.StatusBadRequest, "The Host header is not valid."},
	"unknown_host":           {http.StatusMisdirectedRequest, "This host is not served here."},
	"invalid_path":           {http.StatusBadRequest, "The request path is not valid."},
	"not_found":              {http.StatusNotFound, "Not found."},
	"internal_error":         {http.StatusInternalServerError, "Something went wrong on our side."},
	"unavailable":            {http.StatusServiceUnavailable, "The service is temporarily unavailable. Please retry in a moment."},
	"bad_gateway":            {http.StatusBadGateway, "The console is not answering. Please retry in a moment."},
	"gateway_timeout":        {http.StatusGatewayTimeout, "The console took too long to answer. Please retry in a moment."},

	// Sessions and sign-in.
	"unauthenticated":          {http.StatusUnauthorized, "You are not signed in."},
	"no_login":                 {http.StatusNotFound, "No sign-in is in progress. Start by entering your email."},
	"wrong_step":               {http.StatusConflict, "This step is not the one the sign-in is waiting for."},
	"invalid_email":            {http.StatusBadRequest, "Enter a valid email address."},
	"invalid_credentials":      {http.StatusUnauthorized, "The email or password is incorrect."},
	"invalid_code":             {http.StatusUnauthorized, "The code is not valid. Check it and try again."},
	"weak_password":            {http.StatusBadRequest, "Choose a password of at least %d characters that is not among the most common ones (at most 256 bytes)."},
	"rate_limited":             {http.StatusTooManyRequests, "Too many attempts. Try again later."},
	"no_signup":                {http.StatusBadRequest, "No sign-up is waiting for a code. Start again."},
	"account_disabled":         {http.StatusForbidden, "This account is disabled. Contact support."},
	"legacy_login_not_allowed": {http.StatusForbidden, "This sign-in page is only for accounts linked before the unification. Please sign in at the account portal."},
	"invalid_handoff":          {http.StatusBadRequest, "This sign-in link has expired, was already used or was opened in another browser. Open the console again from your account."},
	"unknown_provider":         {http.StatusNotFound, "This sign-in provider is not available."},
	"passkey_unavailable":      {http.StatusConflict, "No passkey can be used for this account."},
	"no_ceremony":              {http.StatusBadRequest, "Ask for passkey options first."},

	// Second factors and re-authentication.
	"reauth_required":     {http.StatusForbidden, "Confirm it is you first: sign in again or re-enter your password."},
	"invalid_request":     {http.StatusBadRequest, "Send a password or a TOTP code."},
	"already_enrolled":    {http.StatusConflict, "An authenticator app is already set up. Remove it first to set up another."},
	"no_pending_totp":     {http.StatusConflict, "Start the authenticator app set-up first."},
	"last_mfa_method":     {http.StatusConflict, "Add another method before removing the last one: a second factor is required."},
	"last_sign_in_method": {http.StatusConflict, "This is your only way to sign in: set a password or add a passkey first."},
	"invalid_credential":  {http.StatusBadRequest, "The passkey could not be registered."},
	"credential_exists":   {http.StatusConflict, "This passkey is already registered."},
	"invalid_locale":      {http.StatusBadRequest, "Choose English or French."},

	// Consoles.
	"unknown_console":      {http.StatusNotFound, "No such console."},
	"unknown_account":      {http.StatusNotFound, "You hold no such account in this console."},
	"unknown_organization": {http.StatusNotFound, "You are not a member of that organization."},
	"account_required":     {http.StatusConflict, "Choose which of your accounts in this console to open."},
	"provisioning_pending": {http.StatusConflict, "Your account in this console is being set up. Try again in a moment."},

	// Step-up and organizations' MFA rule (CONTRACT §11).
	"step_up_required":             {http.StatusUnauthorized, "This page needs a recent confirmation that it is you."},
	"mfa_required_by_organization": {http.StatusForbidden, "Your organization requires a second factor: set up an authenticator app or a passkey in your security settings."},
	"invalid_grace_days":           {http.StatusBadRequest, "Give require_mfa, and a grace of 0 to 30 days."},

	// Organizations.
	"forbidden":    {http.StatusForbidden, "You are not allowed to do this."},
	"invalid_name": {http.StatusBadRequest, "Give a name of 1 to 100 characters, without control characters."},
	"invalid_role": {http.StatusBadRequest, "The role must be owner, admin or member."},
	"last_owner":   {http.StatusConflict, "An organization needs at least one owner."},

	// Forward-auth (CONTRACT §12): who asks, and for which host.
	"untrusted_proxy":           {http.StatusForbidden, "Only a trusted proxy may ask this."},
	"forward_auth_unknown_host": {http.StatusForbidden, "This host is not a console served here."},
	"invalid_forwarded_request": {http.StatusBadRequest, "The forwarded request is not described correctly."},
}

// failure is an error the edge itself raises: a code of errorCodes, with
// what is logged (Err) and what the JSON body adds (Extra).
type failure struct {
	Code       string
	Err        error          // logged, never shown
	Extra      map[string]any // merged into the JSON body (e.g. "login_url")
	RetryAfter time.Duration  // sent as Retry-After, rounded up to seconds
	Args       []any          // the numbers of a message with %d
}

func (f *failure) Error() string {
	if f.Err != nil {
		return fmt.Sprintf("%s: %v", f.Code, f.Err)
	}
	return f.Code
}

func (f *failure) Unwrap() error { return f.Err }

// ErrorCode, RetryAfter and ErrorFields make *failure read like the errors
// of the packages below the edge.
func (f *failure) ErrorCode() string                 { return f.Code }
func (f *failure) RetryAfterDuration() time.Duration { return f.RetryAfter }
func (f *failure) ErrorFields() map[string]any       { return f.Extra }

// fail is the edge's error for code.
func fail(code string) *failure { return &failure{Code: code} }

// internal wraps an unexpected failure: the client sees "internal error", the log sees err.
func internal(err error) *failure { return &failure{Code: "internal_error", Err: err} }

// storeDown is the answer whenever a store fails: fail closed (ASVS V16.5.2).
func storeDown(err error) *failure { return &failure{Code: "unavailable", Err: err} }

var (
	errUnauthenticated = fail("unauthenticated")
	errBadJSON         = fail("invalid_json")
	errNotFound        = fail("not_found")
)

// The interfaces a typed error of a lower package may implement.
type (
	codedError interface {
		error
		ErrorCode() string
	}
	retryAfterError interface {
		RetryAfterDuration() time.Duration
	}
	fieldsError interface {
		ErrorFields() map[string]any
	}
	argsError interface {
		MessageArgs() []any
	}
)

// problem is what the client is told about a failed request.
type problem struct {
	Status     int
	Code       string
	Message    string
	Err        error // logged when Status >= 500
	Extra      map[string]any
	RetryAfter time.Duration
}

// describe maps any error to the problem the client is shown. It is the one
// place where an error becomes a status.
func describe(err error) problem {
	var c codedError
	if !errors.As(err, &c) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return problemOf("unavailable", err)
		}
		return problemOf("internal_error", err)
	}
	p := problemOf(c.ErrorCode(), err)
	if p.Code != c.ErrorCode() {
		return p // an unknown code: internal_error
	}
	if ra, ok := c.(retryAfterError); ok {
		p.RetryAfter = ra.RetryAfterDuration()
	}
	if fe, ok := c.(fieldsError); ok {
		p.Extra = fe.ErrorFields()
	}
	if ae, ok := c.(argsError); ok {
		if args := ae.MessageArgs(); len(args) > 0 {
			p.Message = fmt.Sprintf(p.Message, args...)
		}
	}
	return p
}

func problemOf(code string, err error) problem {
	info, ok := errorCodes[code]
	if !ok {
		err = fmt.Errorf("gateway: error code %q has no entry in errorCodes: %w", code, err)
		code, info = "internal_error", errorCodes["internal_error"]
	}
	return problem{Status: info.status, Code: code, Message: info.message, Err: err}
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

// logProblem logs what the client does not see.
func (s *Server) logProblem(r *http.Request, p problem) {
	if p.Status >= 500 {
		s.log(r).Error("request failed", "status", p.Status, "code", p.Code, "err", p.Err)
	}
}

// writeRetryAfter sends Retry-After in whole seconds, rounded up.
func writeRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	}
}

// writeAPIError renders err as {"error","message",…}.
func (s *Server) writeAPIError(w http.ResponseWriter, r *http.Request, err error) {
	p := describe(err)
	s.logProblem(r, p)
	body := map[string]any{"error": p.Code, "message": p.Message}
	for k, v := range p.Extra {
		body[k] = v
	}
	writeRetryAfter(w, p.RetryAfter)
	writeJSON(w, p.Status, body)
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
