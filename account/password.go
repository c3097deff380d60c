package account

import (
	"context"
	"slices"
	"strconv"

	"unigate/accounts"
)

// ChangePassword is POST /me/password (ASVS V6.2.3, V7.4.3): a recent
// proof, the current password (counted by the lockout like any guess, and
// checked as the login checks it), a new one of the policy; every other
// session of the account ends.
func (s *Security) ChangePassword(ctx context.Context, c Caller, current, next string) error {
	if err := needRecentProof(c); err != nil {
		return err
	}
	succeeded, err := s.cfg.Guesses.Begin(ctx, c.Email, c.Client, "password")
	if err != nil {
		return err
	}
	acct, err := s.account(ctx, c)
	if err != nil {
		return err
	}
	ok, _, err := s.cfg.Passwords.VerifyPassword(ctx, acct, current)
	if err != nil {
		// A hasher failure (a corrupt stored hash) is not a wrong password.
		return err
	}
	if !ok {
		s.cfg.Events.Attempt("password", "failure")
		s.audit(ctx, c, "password.change_failure", nil)
		return ErrInvalidCredentials
	}
	succeeded()
	if err := s.cfg.Passwords.CheckPasswordPolicy(next); err != nil {
		return err
	}
	hash, err := s.cfg.Hasher.Hash(ctx, next)
	if err != nil {
		return internalError("hash", err)
	}
	if err := s.cfg.Store.SetPasswordHash(ctx, acct.ID, hash); err != nil {
		return internalError("set password", err)
	}
	n, err := s.cfg.Sessions.DeleteAccount(ctx, acct.ID, c.Handle)
	if err != nil {
		s.cfg.Events.StoreFailed("delete")
		return unavailable(err)
	}
	s.cfg.Events.SessionsRevoked(n)
	s.audit(ctx, c, "password.change", map[string]string{"sessions_revoked": strconv.Itoa(n)})
	return nil
}

// SetLocale is the language form of /settings: the account's pages and
// mails. No recent proof: the language is a preference, not a way in.
func (s *Security) SetLocale(ctx context.Context, c Caller, locale string) error {
	if !slices.Contains(accounts.Locales, locale) {
		return ErrInvalidLocale
	}
	if err := s.cfg.Store.SetLocale(ctx, c.AccountID, locale); err != nil {
		if isNotFound(err) {
			return ErrUnauthenticated // deleted meanwhile
		}
		return internalError("set locale", err)
	}
	s.audit(ctx, c, "account.locale", map[string]string{"locale": locale})
	return nil
}
