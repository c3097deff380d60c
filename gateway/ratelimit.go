package gateway

import (
	"net/http"

	"unigate/login"
)

// limiter is the login machine's lockout (login.Lockout) for the guessable
// checks made outside a login (a password change): one failure counter per
// account and one per client network, shared with every login factor
// (ASVS V6.3.1, SECURITY family 5).
type limiter struct {
	s *Server
}

// attempt is one counted guess; finish it with success when it was right.
type attempt struct {
	a *login.Attempt
}

// begin counts one attempt for email from the request's client IP; a
// rate_limited error (with Retry-After) when either counter is over its limit.
func (l *limiter) begin(r *http.Request, email, method string) (*attempt, error) {
	a, err := l.s.login.Lockout().Begin(r.Context(), email, l.s.clientIP(r), method)
	if err != nil {
		return nil, err
	}
	return &attempt{a}, nil
}

// success gives back the attempt counted (login.Attempt.Succeeded).
func (a *attempt) success(r *http.Request) { a.a.Succeeded(r.Context()) }

// clearFailures forgets the account's failures once every factor was proven.
func (s *Server) clearFailures(r *http.Request, email string) {
	s.login.Lockout().Clear(r.Context(), email)
}
