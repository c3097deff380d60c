package login

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"time"
)

// Lockout guards the guessable factors (password, TOTP, email, reset and
// recovery codes) with failure counters shared by every factor, host and
// replica through the store's counters (ASVS V6.3.1, SECURITY family 5):
//
//   - the soft lock, per (account, client network): max_failures per
//     lockout window. A stranger's wrong passwords from their network lock
//     that network out of the account, never the owner on another network
//     (issue 16 finding 7);
//   - per client network, whatever the account: ip_max_failures per window,
//     against a sprayer that tries one password on many accounts;
//   - per account, the consecutive failures across every factor and network,
//     reset only by a completed login (issue 16 finding 6, NIST SP 800-63B
//     §5.2.2: at most 100). A window that starts over would let 480 guesses
//     a day through forever; once max_consecutive_failures is reached,
//     passwords and codes are not checked at all until the owner recovers
//     the account (a password reset) or an operator unlocks it, and the owner
//     is mailed (account_locked).
//
// Phishing-resistant completions (a passkey, an SSO sign-in) prove
// possession of something a guesser does not have: they are counted per
// client network only, so that nobody's wrong passwords can keep the owner
// from signing in with them (finding 7).
//
// An attempt is counted before it is checked and given back if it succeeds,
// so that a parallel burst is counted exactly: with max_failures = 5, at most
// 5 guesses of a burst of 100 are ever evaluated.
type Lockout struct {
	cfg      Config
	counters Counters
	events   Events
	// locked is told once when an account reaches the consecutive limit (the
	// owner's notice); nil sends nothing.
	locked func(ctx context.Context, email string, client netip.Addr)
}

// Attempt is one counted guess; call Succeeded when it was right, Failed
// when it was wrong.
type Attempt struct {
	l      *Lockout
	email  string
	client netip.Addr
	keys   []string // the counters hit, given back on success
	// streak is the account's consecutive failures with this one (0 when
	// not counted: a phishing-resistant method).
	streak int64
}

// IdentifyPerFailure: a client network may open this many logins per failed
// attempt it is allowed (500 per 15 minutes with the defaults).
const IdentifyPerFailure = 10

// DefaultMaxConsecutiveFailures is NIST SP 800-63B §5.2.2's ceiling.
const DefaultMaxConsecutiveFailures = 100

// streakWindow is the life of a consecutive-failure count. It is reset by a
// completed login, a reset or an operator, never by time in practice: the
// window only lets the counter of an address nobody uses disappear one day.
// A year keeps a guesser at max_consecutive_failures guesses a year.
const streakWindow = 365 * 24 * time.Hour

// emailHash names an email in counter keys. Counters are kept for unknown
// emails too, so a lockout says nothing about whether an account exists.
func emailHash(email string) string {
	sum := sha256.Sum256([]byte(email))
	return hex.EncodeToString(sum[:16])
}

// accountKey is the soft lock of email from one client network.
func accountKey(email string, client netip.Addr) string {
	return "fail:acct:" + emailHash(email) + ":" + ClientNetwork(client)
}

func networkKey(client netip.Addr) string { return "fail:ip:" + ClientNetwork(client) }

// streakKey counts the account's consecutive failures.
func streakKey(email string) string { return "fail:streak:" + emailHash(email) }

// lockedKey marks an account locked by its streak, so that the owner is
// mailed once per lock, whichever replica sees it first.
func lockedKey(email string) string { return "fail:locked:" + emailHash(email) }

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

// guess is how a method is counted.
type guess int

const (
	// guessable: a password or a code; every counter.
	guessable guess = iota
	// recovering: a guess inside the owner's recovery (a reset code, the
	// second factor after one): every counter, but not refused by the
	// consecutive lock, which the recovery exists to lift.
	recovering
	// phishingResistant: a passkey or an SSO sign-in; the network counter only.
	phishingResistant
)

func guessOf(method string) guess {
	switch method {
	case "passkey", "sso":
		return phishingResistant
	}
	return guessable
}

// Begin counts one attempt at method for email from client. It refuses
// with *RateLimited when a counter is over its limit, or when the account
// is locked by its consecutive failures (a passkey and SSO never are).
func (l *Lockout) Begin(ctx context.Context, email string, client netip.Addr, method string) (*Attempt, error) {
	return l.begin(ctx, email, client, method, guessOf(method))
}

// beginRecovery counts a guess of the owner's recovery (a reset code, the
// second factor after one): it is not refused by the consecutive lock.
func (l *Lockout) beginRecovery(ctx context.Context, email string, client netip.Addr, method string) (*Attempt, error) {
	return l.begin(ctx, email, client, method, recovering)
}

func (l *Lockout) begin(ctx context.Context, email string, client netip.Addr, method string, g guess) (*Attempt, error) {
	a := &Attempt{l: l, email: email, client: client}
	var retry time.Duration
	netN, netTTL, err := l.hitFor(ctx, a, networkKey(client), l.cfg.Lockout)
	if err != nil {
		return nil, err
	}
	if netN > int64(l.cfg.IPMaxFailures) {
		retry = netTTL
		if netN == int64(l.cfg.IPMaxFailures)+1 {
			l.events.Audit(ctx, client, "lockout", "", map[string]string{"scope": "ip", "method": method})
		}
	}
	if g != phishingResistant {
		n, ttl, err := l.hitFor(ctx, a, accountKey(email, client), l.cfg.Lockout)
		if err != nil {
			return nil, err
		}
		if n > int64(l.cfg.MaxFailures) {
			retry = max(retry, ttl)
			if n == int64(l.cfg.MaxFailures)+1 {
				l.events.Audit(ctx, client, "lockout", "", map[string]string{"scope": "account", "method": method})
			}
		}
	}
	if retry > 0 {
		l.events.Attempt(method, "rate_limited")
		return nil, rateLimited(retry)
	}
	if g == phishingResistant {
		return a, nil
	}
	// The consecutive lock: a locked account's guesses are refused before
	// they are counted (they are not checked, so they are no failures).
	limit := int64(l.cfg.MaxConsecutiveFailures)
	if g == guessable {
		streak, _, err := l.counters.Peek(ctx, streakKey(email))
		if err != nil {
			l.events.StoreFailed("counter")
			return nil, &Unavailable{Err: err}
		}
		if streak >= limit {
			a.Succeeded(ctx) // nothing was checked: the soft counters are given back
			l.reachedLimit(ctx, email, client)
			l.events.Attempt(method, "locked")
			return nil, rateLimited(l.cfg.Lockout)
		}
	}
	streak, _, err := l.hitFor(ctx, a, streakKey(email), streakWindow)
	if err != nil {
		return nil, err
	}
	a.streak = streak
	if g == guessable && streak > limit {
		// A parallel burst reached the limit meanwhile: only the guesses
		// below it are checked.
		a.Succeeded(ctx)
		l.reachedLimit(ctx, email, client)
		l.events.Attempt(method, "locked")
		return nil, rateLimited(l.cfg.Lockout)
	}
	return a, nil
}

// Succeeded gives back the attempt counted for this factor, and only it: a
// right password must not wipe out the failed TOTP codes before it, or
// guesses of the second factor would never be locked (SECURITY family 5).
// The account's failures are cleared only when a login is complete.
func (a *Attempt) Succeeded(ctx context.Context) {
	for _, k := range a.keys {
		if err := a.l.counters.Unhit(ctx, k); err != nil {
			a.l.events.StoreFailed("counter")
		}
	}
	a.keys = nil
}

// Failed records that the guess was wrong: the failure that reaches the
// consecutive limit locks the account and mails its owner. (A caller that
// never calls Failed is still counted; the owner is then mailed at the
// first guess refused.)
func (a *Attempt) Failed(ctx context.Context) {
	if a.streak > 0 && a.streak >= int64(a.l.cfg.MaxConsecutiveFailures) {
		a.l.reachedLimit(ctx, a.email, a.client)
	}
}

// reachedLimit audits the lock and mails the owner, once per lock.
func (l *Lockout) reachedLimit(ctx context.Context, email string, client netip.Addr) {
	n, _, err := l.counters.Hit(ctx, lockedKey(email), streakWindow)
	if err != nil {
		l.events.StoreFailed("counter")
		return
	}
	if n != 1 {
		return
	}
	l.events.Audit(ctx, client, "lockout", "", map[string]string{"scope": "consecutive"})
	if l.locked != nil {
		l.locked(ctx, email, client)
	}
}

// Clear forgets the account's consecutive failures: a login or a
// re-authentication was completed.
func (l *Lockout) Clear(ctx context.Context, email string) {
	l.reset(ctx, streakKey(email), lockedKey(email))
}

// clearLogin is Clear for a login completed from client: that network's
// soft lock of the account goes too (a stranger's, on another network, stays).
func (l *Lockout) clearLogin(ctx context.Context, email string, client netip.Addr) {
	l.reset(ctx, streakKey(email), lockedKey(email), accountKey(email, client))
}

func (l *Lockout) reset(ctx context.Context, keys ...string) {
	for _, k := range keys {
		if err := l.counters.Reset(ctx, k); err != nil {
			l.events.StoreFailed("counter")
		}
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

// LockState is what the operator sees of an account's lockout.
type LockState struct {
	ConsecutiveFailures int64 `json:"consecutive_failures"`
	Limit               int   `json:"limit"`
	Locked              bool  `json:"locked"`
}

// CounterReader reads counters without changing them (session.Store).
type CounterReader interface {
	Peek(ctx context.Context, key string) (count int64, ttl time.Duration, err error)
}

// LockStateOf reads the consecutive-failure lock of email (the operator's
// `accounts show`); limit is login.max_consecutive_failures.
func LockStateOf(ctx context.Context, c CounterReader, email string, limit int) (LockState, error) {
	n, _, err := c.Peek(ctx, streakKey(email))
	if err != nil {
		return LockState{}, err
	}
	return LockState{ConsecutiveFailures: n, Limit: limit, Locked: n >= int64(limit)}, nil
}

// CounterResetter resets counters (session.Store).
type CounterResetter interface {
	Reset(ctx context.Context, key string) error
}

// Unlock lifts the consecutive-failure lock of email (the operator's
// `accounts unlock`): its streak starts again from zero.
func Unlock(ctx context.Context, c CounterResetter, email string) error {
	for _, k := range []string{streakKey(email), lockedKey(email)} {
		if err := c.Reset(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// hitFor is hit, remembering the key on the attempt so Succeeded gives it back.
func (l *Lockout) hitFor(ctx context.Context, a *Attempt, key string, window time.Duration) (int64, time.Duration, error) {
	n, ttl, err := l.hit(ctx, key, window)
	if err == nil {
		a.keys = append(a.keys, key)
	}
	return n, ttl, err
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
