package account

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"unigate/accounts"
	"unigate/sso"
)

// SSO links (CONTRACT §5 /me/sso; SECURITY family 7): an identity of a
// provider signs in only the account it was linked to. Linking happens only
// from settings, with a recent proof, for an identity whose verified email
// is the account's own; unlinking keeps at least one way to sign in. The
// OAuth redirect and callback are the edge's.

// Link is one linked identity.
type Link struct {
	Provider, Email string
	LinkedAt        time.Time
}

// Links lists the identities linked to the caller's account.
func (s *Security) Links(ctx context.Context, c Caller) ([]Link, error) {
	ids, err := s.cfg.Store.SSOIdentities(ctx, c.AccountID)
	if err != nil {
		return nil, internalError("sso identities", err)
	}
	out := make([]Link, 0, len(ids))
	for _, i := range ids {
		out = append(out, Link{Provider: i.Provider, Email: i.Email, LinkedAt: i.LinkedAt.UTC()})
	}
	return out, nil
}

// Unlinked are the configured providers the caller has not linked, in the
// pages' order.
func (s *Security) Unlinked(links []Link) []string {
	return slices.DeleteFunc(slices.Clone(s.cfg.Providers), func(name string) bool {
		return slices.ContainsFunc(links, func(l Link) bool { return l.Provider == name })
	})
}

// StartLink checks that the caller may go to provider to link it: a
// recent proof, a configured provider. The edge then sends the browser.
func (s *Security) StartLink(c Caller, provider string) error {
	if err := needRecentProof(c); err != nil {
		return err
	}
	if !slices.Contains(s.cfg.Providers, provider) {
		return ErrUnknownProvider
	}
	return nil
}

// FinishLink links the identity the provider vouched for, back from its
// callback: still a recent proof, and the identity's verified email is the
// account's (the provider must not be a way to take over someone else's
// address, V6.8.1).
func (s *Security) FinishLink(ctx context.Context, c Caller, id *sso.Identity) error {
	if err := needRecentProof(c); err != nil {
		return err
	}
	email, err := id.VerifiedEmail()
	if err != nil || email != c.Email {
		return &Error{code: ErrSSOEmailMismatch.code, err: fmt.Errorf("verified email does not match: %v", err)}
	}
	err = s.cfg.Store.LinkSSO(ctx, c.AccountID, id.Provider, id.Subject, email, s.cfg.Now())
	switch {
	case errors.Is(err, accounts.ErrSSOTaken):
		return ErrSSOTaken
	case errors.Is(err, accounts.ErrSSOExists):
		return ErrSSOExists
	case err != nil:
		return internalError("link sso", err)
	}
	s.audit(ctx, c, "sso.link", map[string]string{"provider": id.Provider})
	return nil
}

// Unlink removes the link to provider: a recent proof, and the account
// keeps a way to sign in (a password, a passkey or another link).
func (s *Security) Unlink(ctx context.Context, c Caller, provider string) error {
	if err := needRecentProof(c); err != nil {
		return err
	}
	acct, err := s.account(ctx, c)
	if err != nil {
		return err
	}
	ids, err := s.cfg.Store.SSOIdentities(ctx, acct.ID)
	if err != nil {
		return internalError("sso identities", err)
	}
	_, passkeys, err := s.cfg.Store.MFAMethods(ctx, acct.ID)
	if err != nil {
		return internalError("mfa methods", err)
	}
	if acct.PasswordHash == "" && passkeys == 0 && len(ids) <= 1 {
		return ErrLastSignInMethod
	}
	if err := s.cfg.Store.UnlinkSSO(ctx, acct.ID, provider); err != nil {
		if isNotFound(err) {
			return ErrNotFound
		}
		return internalError("unlink sso", err)
	}
	s.audit(ctx, c, "sso.unlink", map[string]string{"provider": truncate(provider, 32)})
	return nil
}

// truncate bounds a client-given value in the audit log.
func truncate(v string, n int) string {
	if len(v) > n {
		return v[:n]
	}
	return v
}
