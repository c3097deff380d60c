package login

import (
	"context"
	"slices"
	"strings"

	"unigate/accounts"
	"unigate/session"
)

// mfaState is what second factors an account holds.
type mfaState struct {
	totp     bool
	passkeys int
	// recoveryCodes are the unused codes of the account's set: offered at
	// mfa while some are left, never a second factor of their own.
	recoveryCodes int
}

func (f mfaState) any() bool { return f.totp || f.passkeys > 0 }

func (f mfaState) methods() []string {
	var out []string
	if f.totp {
		out = append(out, "totp")
	}
	if f.passkeys > 0 {
		out = append(out, "passkey")
	}
	if f.any() && f.recoveryCodes > 0 {
		out = append(out, "recovery_code")
	}
	return out
}

func (m *Machine) mfaOf(ctx context.Context, accountID string) (mfaState, error) {
	totp, n, err := m.accounts.MFAMethods(ctx, accountID)
	if err != nil {
		return mfaState{}, internal(err)
	}
	f := mfaState{totp: totp, passkeys: n}
	if f.any() && m.recovery != nil {
		if f.recoveryCodes, err = m.unusedRecoveryCodes(ctx, accountID); err != nil {
			return mfaState{}, err
		}
	}
	return f, nil
}

// nextStep is the login state machine: what the account still owes after
// the factors proven so far. The second factor comes first, then a password
// to set (accounts whose password the unification erased), then enrollment
// (accounts that must have MFA and have none).
//
// A login whose first factor was an email code never ends without a second
// factor: the code only proves the mailbox, so such a session can do nothing
// but set a password and enroll (or use) a second factor (SECURITY.md), for
// every account, whatever flags the unification set.
func (m *Machine) nextStep(sess *session.Session, acct *accounts.Account, f mfaState) string {
	mfaDone := sess.MFA == "totp" || sess.MFA == "passkey" || sess.MFA == mfaRecoveryCode
	switch {
	case f.any() && !mfaDone:
		return session.StepMFA
	case acct.PasswordSetRequired:
		return session.StepSetPassword
	case resetting(sess) && !slices.Contains(sess.Factors, factorNewPassword):
		// A reset: the new password once the second factor is proven.
		return session.StepSetPassword
	case !f.any() && (acct.MFAEnrollRequired || m.cfg.RequireMFA || emailCodeFirst(sess)):
		return session.StepEnrollMFA
	}
	return session.StepDone
}

// emailCodeFirst: the login's first factor was an email code.
func emailCodeFirst(sess *session.Session) bool {
	return len(sess.Factors) > 0 && sess.Factors[0] == "email_code"
}

// ErrAccountDisabled: an operator disabled the account (unigate accounts disable).
var ErrAccountDisabled = &Error{"account_disabled"}

// advance decides the step after a factor; when nothing is left, the login
// is complete (and must be rotated by the edge).
func (m *Machine) advance(ctx context.Context, l *Login, acct *accounts.Account) (*Result, error) {
	// A disabled account may prove a factor and gets no further (CONTRACT
	// §12): checked after every factor, so at the first one and again at
	// completion, on the account as the step read it.
	if !acct.DisabledAt.IsZero() {
		m.events.Audit(ctx, l.Client, "login.failure", acct.ID, map[string]string{"reason": "account_disabled"})
		return nil, ErrAccountDisabled
	}
	f, err := m.mfaOf(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	sess := l.Session
	next := m.nextStep(sess, acct, f)
	if next == session.StepDone {
		return m.complete(ctx, l, acct)
	}
	sess.Next = next
	sess.AccountID = acct.ID
	if err := m.sessions.Save(ctx, sess); err != nil {
		return nil, err
	}
	res := &Result{Next: next}
	if next == session.StepMFA {
		res.MFAMethods = onHost(l, f.methods())
	}
	return res, nil
}

// complete makes the pre-auth session a complete one. It is not stored
// here: the edge stores it under a new token (Rotate, ASVS V7.2.4: a
// pre-login id can never be fixed on a victim), then calls Finished.
func (m *Machine) complete(ctx context.Context, l *Login, acct *accounts.Account) (*Result, error) {
	sess := l.Session
	if l.LegacyConsole != "" {
		cas, err := m.accounts.ConsoleAccounts(ctx, acct.ID)
		if err != nil {
			return nil, internal(err)
		}
		i := slices.IndexFunc(cas, func(ca accounts.ConsoleAccount) bool {
			return ca.Console == l.LegacyConsole && ca.Prelinked
		})
		if i < 0 {
			// Fully authenticated, but not one of the accounts that may use
			// this page: the edge ends the session and shows the way to the
			// account portal (CONTRACT §4).
			m.events.Audit(ctx, l.Client, "legacy_login.refused", acct.ID, map[string]string{"console": l.LegacyConsole})
			return nil, &LegacyLoginRefused{LoginURL: m.cfg.PortalLoginURL}
		}
		sess.Consoles = map[string]session.ConsoleSelection{l.LegacyConsole: {AccountID: cas[i].ExternalID, Prelinked: true}}
		sess.ActiveConsole = l.LegacyConsole
	}
	now := m.now()
	sess.Next = session.StepDone
	sess.AccountID = acct.ID
	sess.Email = acct.Email
	if sess.MFA == "" {
		sess.MFA = "none"
	}
	sess.AuthTime = now
	sess.CreatedAt = now
	sess.LastSeenAt = now
	sess.ExpiresAt = now.Add(m.cfg.SessionLifetime)
	return &Result{Next: session.StepDone, Complete: true, Rotate: true}, nil
}

// Finished is told by the edge that a complete login is stored under its
// new token: the account's failures are forgotten and the login audited.
func (m *Machine) Finished(ctx context.Context, l *Login) {
	m.lockout.clearLogin(ctx, l.Session.Email, l.Client)
	m.events.Audit(ctx, l.Client, "login.success", l.Session.AccountID,
		map[string]string{"factors": strings.Join(slices.Compact(slices.Clone(l.Session.Factors)), ",")})
}

// RecentlyProven: a login or re-authentication within RecentProof (ASVS V7.5.1).
func (m *Machine) RecentlyProven(sess *session.Session) bool {
	return !sess.AuthTime.IsZero() && m.now().Sub(sess.AuthTime) <= RecentProof
}
