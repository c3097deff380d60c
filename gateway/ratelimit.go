package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/netip"
	"time"
)

// limiter guards the guessable factors (password, TOTP, email codes) with
// one failure counter per account and one per client IP, shared by every
// factor, host and replica through the session store (ASVS V6.3.1,
// SECURITY family 5).
//
// An attempt is counted before it is checked and given back if it succeeds,
// so that a parallel burst is counted exactly: with max_failures = 5, at most
// 5 guesses of a burst of 100 are ever evaluated.
type limiter struct {
	s *Server
}

// attempt is one counted guess; finish it with success or failure.
type attempt struct {
	l        *limiter
	acctKey  string
	ipKey    string
	accepted bool
}

// accountKey names the counter of an email. It is kept for unknown emails
// too, so a lockout says nothing about whether an account exists.
func accountKey(email string) string {
	sum := sha256.Sum256([]byte(email))
	return "fail:acct:" + hex.EncodeToString(sum[:16])
}

// begin counts one attempt for email from the request's client IP. It returns
// a 429 error, with Retry-After, when either counter is over its limit.
func (l *limiter) begin(r *http.Request, email, method string) (*attempt, error) {
	s := l.s
	a := &attempt{l: l, acctKey: accountKey(email), ipKey: "fail:ip:" + clientNetwork(s.clientIP(r))}
	window := s.cfg.Login.Lockout
	n, ttl, err := s.sessions.Hit(r.Context(), a.acctKey, window)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("counter").Inc()
		return nil, storeDown(err)
	}
	ipN, ipTTL, err := s.sessions.Hit(r.Context(), a.ipKey, window)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("counter").Inc()
		return nil, storeDown(err)
	}
	var retry time.Duration
	if n > int64(s.cfg.Login.MaxFailures) {
		retry = ttl
		if n == int64(s.cfg.Login.MaxFailures)+1 {
			s.audit(r, "lockout", "", map[string]string{"scope": "account", "method": method})
		}
	}
	if ipN > int64(s.cfg.Login.IPMaxFailures) {
		retry = max(retry, ipTTL)
		if ipN == int64(s.cfg.Login.IPMaxFailures)+1 {
			s.audit(r, "lockout", "", map[string]string{"scope": "ip", "method": method})
		}
	}
	if retry > 0 {
		s.metrics.loginAttempts.WithLabelValues(method, "rate_limited").Inc()
		return nil, &failure{Code: "rate_limited", RetryAfter: max(retry, time.Second)}
	}
	return a, nil
}

// clientNetwork is what one client controls: its IPv4 address, or its IPv6
// /64 (the usual allocation to one site: counting single IPv6 addresses
// would give a sprayer 2^64 counters, ASVS V6.3.1).
func clientNetwork(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// identifyLimit bounds the logins one client network may open per lockout
// window: each opens a pre-auth session in the store, which must not be a
// way to fill it.
func (l *limiter) identify(r *http.Request) error {
	s := l.s
	n, ttl, err := s.sessions.Hit(r.Context(), "identify:ip:"+clientNetwork(s.clientIP(r)), s.cfg.Login.Lockout)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("counter").Inc()
		return storeDown(err)
	}
	if n > int64(identifyPerFailure*s.cfg.Login.IPMaxFailures) {
		return &failure{Code: "rate_limited", RetryAfter: max(ttl, time.Second)}
	}
	return nil
}

// identifyPerFailure: a client network may open this many logins per failed
// attempt it is allowed (500 per 15 minutes with the defaults).
const identifyPerFailure = 10

// success gives back the attempt counted for this factor, and only it: a
// right password must not wipe out the failed TOTP codes before it, or
// guesses of the second factor would never be locked (SECURITY family 5).
// The account's failures are cleared only when a login or re-authentication
// is complete (clearFailures).
func (a *attempt) success(r *http.Request) {
	s := a.l.s
	for _, k := range []string{a.acctKey, a.ipKey} {
		if err := s.sessions.Unhit(r.Context(), k); err != nil {
			s.metrics.storeErrors.WithLabelValues("counter").Inc()
		}
	}
}

// clearFailures forgets the account's failures once every factor was proven.
func (s *Server) clearFailures(r *http.Request, email string) {
	if err := s.sessions.Reset(r.Context(), accountKey(email)); err != nil {
		s.metrics.storeErrors.WithLabelValues("counter").Inc()
	}
}
