package login

import (
	"context"
	"errors"
	"slices"
	"time"

	"unigate/accounts"
	"unigate/session"
)

// Opening is what the edge knows of the request that opens a login or a sign-up.
type Opening struct {
	Host      string // the host it is opened on (account host or a legacy console host)
	UserAgent string
	// ReturnTo is a return_to the edge already validated ("" for none).
	ReturnTo string
}

// Identify is POST /login/identify: it opens a login (a pre-auth session)
// for an email and says which first factors it offers. An unknown email gets
// exactly the answer of a plain password account (ASVS V6.3.8). l.Session is
// the session this browser had on this host (nil for none): a new login
// ends it, it is never reused (anti-fixation, ASVS V7.2.4). On success
// l.Session is the new login and Result.Token its cookie value.
func (m *Machine) Identify(ctx context.Context, l *Login, rawEmail string, o Opening) (*Result, error) {
	email, err := accounts.NormalizeEmail(rawEmail)
	if err != nil {
		return nil, ErrInvalidEmail
	}
	if err := m.lockout.Identify(ctx, l.Client); err != nil {
		return nil, err
	}
	if err := m.replace(ctx, l); err != nil {
		return nil, err
	}
	acct, err := m.accountByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	methods, err := m.firstFactors(ctx, l, acct)
	if err != nil {
		return nil, err
	}
	l.Session = m.open(l, o, email, session.StepFirstFactor, PreLoginLifetime)
	l.Session.ReturnTo = o.ReturnTo
	token, err := m.sessions.Create(ctx, l.Session)
	if err != nil {
		return nil, err
	}
	return &Result{Next: session.StepFirstFactor, Methods: methods, Token: token}, nil
}

// OpenSSO opens a login that goes to an identity provider: it has no email
// until the provider says who it is. Like Identify, it ends the session this
// browser had on this host, complete or not. l.Session is the new login (the edge adds the attempt to it)
// and Result.Token its cookie value.
func (m *Machine) OpenSSO(ctx context.Context, l *Login, o Opening) (*Result, error) {
	if err := m.lockout.Identify(ctx, l.Client); err != nil {
		return nil, err
	}
	// Whatever this browser had on this host ends here, a complete session
	// too: the new login's cookie takes its place, so a session kept in the
	// store would live on unreachable by its owner, still valid for
	// whoever copied its cookie (issue 16 finding 13).
	if err := m.replace(ctx, l); err != nil {
		return nil, err
	}
	l.Session = m.open(l, o, "", session.StepFirstFactor, PreLoginLifetime)
	l.Session.ReturnTo = o.ReturnTo
	token, err := m.sessions.Create(ctx, l.Session)
	if err != nil {
		return nil, err
	}
	return &Result{Next: session.StepFirstFactor, Token: token}, nil
}

// replace ends the session a new login or sign-up takes the place of.
func (m *Machine) replace(ctx context.Context, l *Login) error {
	if l.Session == nil {
		return nil
	}
	if err := m.sessions.Delete(ctx, l.Session.Handle); err != nil {
		return err
	}
	l.Session = nil
	return nil
}

// open is a new login or sign-up at now, not yet proven.
func (m *Machine) open(l *Login, o Opening, email, next string, lifetime time.Duration) *session.Session {
	now := m.now()
	ua := o.UserAgent
	if len(ua) > 256 {
		ua = ua[:256]
	}
	return &session.Session{
		Email:      email,
		Next:       next,
		LoginHost:  o.Host,
		CreatedAt:  now,
		LastSeenAt: now,
		ExpiresAt:  now.Add(lifetime),
		IP:         l.Client.String(),
		UserAgent:  ua,
	}
}

// firstFactors lists the first factors an account offers; nil (unknown)
// looks like a password account (CONTRACT §5).
func (m *Machine) firstFactors(ctx context.Context, l *Login, acct *accounts.Account) ([]string, error) {
	// A passkey is offered to every password account and to unknown emails
	// alike: its options are the same for all (a discoverable credential),
	// so the answer does not tell which accounts hold one (ASVS V6.3.8).
	methods := []string{"password", "passkey"}
	if emailCodeAllowed(acct) {
		// Accounts the unification flagged (password and MFA erased) sign in by email code.
		methods = []string{"email_code"}
	}
	if acct != nil {
		ids, err := m.accounts.SSOIdentities(ctx, acct.ID)
		if err != nil {
			return nil, internal(err)
		}
		for _, id := range ids {
			if m.cfg.SSOProviders[id.Provider] {
				methods = append(methods, "sso:"+id.Provider)
			}
		}
	}
	return onHost(l, methods), nil
}

// onHost drops what a legacy login page cannot offer: passkeys belong to
// the account host's RP ID.
func onHost(l *Login, methods []string) []string {
	if l.LegacyConsole == "" {
		return methods
	}
	return slices.DeleteFunc(slices.Clone(methods), func(m string) bool { return m == "passkey" })
}

// inProgress returns ErrNoLogin unless l is a login in progress, and
// ErrWrongStep unless it waits for step.
func inProgress(l *Login, step string) error {
	if err := started(l); err != nil {
		return err
	}
	if l.Session.Next != step {
		return ErrWrongStep
	}
	return nil
}

// started: l is a login in progress (identified, not complete).
func started(l *Login) error {
	if l.Session == nil || l.Session.Complete() || l.Session.Email == "" {
		return ErrNoLogin
	}
	return nil
}

// State is GET /login/state: the step the login waits for, and what it offers.
func (m *Machine) State(ctx context.Context, l *Login) (*Result, error) {
	if err := started(l); err != nil {
		return nil, err
	}
	res := &Result{Next: l.Session.Next}
	switch l.Session.Next {
	case session.StepFirstFactor:
		acct, err := m.accountByEmail(ctx, l.Session.Email)
		if err != nil {
			return nil, err
		}
		if res.Methods, err = m.firstFactors(ctx, l, acct); err != nil {
			return nil, err
		}
	case session.StepMFA:
		f, err := m.mfaOf(ctx, l.Session.AccountID)
		if err != nil {
			return nil, err
		}
		res.MFAMethods = onHost(l, f.methods())
	}
	return res, nil
}

// accountByEmail is the account of email, or nil when there is none.
func (m *Machine) accountByEmail(ctx context.Context, email string) (*accounts.Account, error) {
	acct, err := m.accounts.AccountByEmail(ctx, email)
	if errors.Is(err, accounts.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, internal(err)
	}
	return acct, nil
}

// emailCodeAllowed: the email code signs in only accounts the unification
// flagged (password and MFA erased), the limitation SECURITY.md decides.
func emailCodeAllowed(acct *accounts.Account) bool {
	return acct != nil && acct.PasswordSetRequired
}
