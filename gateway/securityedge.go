package gateway

import (
	"context"
	"net/netip"

	"unigate/account"
	"unigate/login"
)

// The edge of package account's security settings: what it is built from,
// and the adapters from the login machine's lockout and the metrics to the
// narrow interfaces account declares (account imports no login).

func (s *Server) newSecurity(d Deps) (*account.Security, error) {
	return account.NewSecurity(account.SecurityConfig{
		Store:      d.Accounts,
		Sessions:   d.Sessions,
		Passwords:  s.login,
		Hasher:     d.Hasher,
		Guesses:    lockoutGuesses{s.login.Lockout()},
		Sealer:     s.sealer,
		Audit:      s,
		Events:     accountEvents{s},
		RequireMFA: s.cfg.Login.RequireMFA,
		TOTPIssuer: totpIssuer,
		Providers:  s.configuredProviders(),
		Now:        s.now,
	})
}

// lockoutGuesses is login.Lockout as account.Guesses.
type lockoutGuesses struct{ l *login.Lockout }

func (g lockoutGuesses) Begin(ctx context.Context, email string, client netip.Addr, method string) (func(), error) {
	a, err := g.l.Begin(ctx, email, client, method)
	if err != nil {
		return nil, err
	}
	return func() { a.Succeeded(ctx) }, nil
}

// accountEvents counts account's events in the gateway's metrics.
type accountEvents struct{ s *Server }

func (e accountEvents) Attempt(method, outcome string) {
	e.s.metrics.loginAttempts.WithLabelValues(method, outcome).Inc()
}
func (e accountEvents) SessionsRevoked(n int) { e.s.metrics.sessionsRevoked.Add(float64(n)) }
func (e accountEvents) StoreFailed(op string) { e.s.metrics.storeErrors.WithLabelValues(op).Inc() }
