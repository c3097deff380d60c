package login

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"time"
)

// Lockout guards the guessable factors (password, TOTP, email codes,
// passkeys) with one failure counter per account and one per client
// network, shared by every factor, host and replica through the store's
// counters (ASVS V6.3.1, SECURITY family 5).
//
// An attempt is counted before it is checked and given back if it succeeds,
// so that a parallel burst is counted exactly: with max_failures = 5, at most
// 5 guesses of a burst of 100 are ever evaluated.
type Lockout struct {
	cfg      Config
	counters Counters
	events   Events
}

// Attempt is one counted guess; call Succeeded when it was right.
type Attempt struct {
	l       *Lockout
	acctKey string
	ipKey   string
}

// IdentifyPerFailure: a client network may open this many logins per failed
// attempt it is allowed (500 per 15 minutes with the defaults).
const IdentifyPerFailure = 10

// accountKey names the counter of an email. It is kept for unknown emails
// too, so a lockout says nothing about whether an account exists.
func accountKey(email string) string {
	sum := sha256.Sum256([]byte(email))
	return "fail:acct:" + hex.EncodeToString(sum[:16])
}

// ClientNetwork is what one client controls: its IPv4 address, or its IPv6
// /64 (the usual allocation to one site: counting single IPv6 addresses
// would give a sprayer 2^64 counters, ASVS V6.3.1).
func ClientNetwork(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// Begin counts one attempt at method for email from client. It refuses
// with *RateLimited when either counter is over its limit.
func (l *Lockout) Begin(ctx context.Context, email string, client netip.Addr, method string) (*Attempt, error) {
	a := &Attempt{l: l, acctKey: accountKey(email), ipKey: "fail:ip:" + ClientNetwork(client)}
	n, ttl, err := l.hit(ctx, a.acctKey, l.cfg.Lockout)
	if err != nil {
		return nil, err
	}
	ipN, ipTTL, err := l.hit(ctx, a.ipKey, l.cfg.Lockout)
	if err != nil {
		return nil, err
	}
	var retry time.Duration
	if n > int64(l.cfg.MaxFailures) {
		retry = ttl
		if n == int64(l.cfg.MaxFailures)+1 {
			l.events.Audit(ctx, client, "lockout", "", map[string]string{"scope": "account", "method": method})
		}
	}
	if ipN > int64(l.cfg.IPMaxFailures) {
		retry = max(retry, ipTTL)
		if ipN == int64(l.cfg.IPMaxFailures)+1 {
			l.events.Audit(ctx, client, "lockout", "", map[string]string{"scope": "ip", "method": method})
		}
	}
	if retry > 0 {
		l.events.Attempt(method, "rate_limited")
		return nil, rateLimited(retry)
	}
	return a, nil
}

// Succeeded gives back the attempt counted for this factor, and only it: a
// right password must not wipe out the failed TOTP codes before it, or
// guesses of the second factor would never be locked (SECURITY family 5).
// The account's failures are cleared only when a login or re-authentication
// is complete (Clear).
func (a *Attempt) Succeeded(ctx context.Context) {
	for _, k := range []string{a.acctKey, a.ipKey} {
		if err := a.l.counters.Unhit(ctx, k); err != nil {
			a.l.events.StoreFailed("counter")
		}
	}
}

// Clear forgets the account's failures once every factor was proven.
func (l *Lockout) Clear(ctx context.Context, email string) {
	if err := l.counters.Reset(ctx, accountKey(email)); err != nil {
		l.events.StoreFailed("counter")
	}
}

// Identify bounds the logins (and sign-ups) one client network may open per
// lockout window: each opens a pre-auth session in the store, which must
// not be a way to fill it.
func (l *Lockout) Identify(ctx context.Context, client netip.Addr) error {
	n, ttl, err := l.hit(ctx, "identify:ip:"+ClientNetwork(client), l.cfg.Lockout)
	if err != nil {
		return err
	}
	if n > int64(IdentifyPerFailure*l.cfg.IPMaxFailures) {
		return rateLimited(ttl)
	}
	return nil
}

// hit is Counters.Hit with a store failure made Unavailable.
func (l *Lockout) hit(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	n, ttl, err := l.counters.Hit(ctx, key, window)
	if err != nil {
		l.events.StoreFailed("counter")
		return 0, 0, &Unavailable{Err: err}
	}
	return n, ttl, nil
}
