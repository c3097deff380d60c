package account

import (
	"context"
	"errors"
	"strconv"
	"time"

	"unigate/accounts"
	"unigate/session"
)

// The account's sessions (ASVS V7.5.2, CONTRACT §5 /me/sessions): listed,
// ended one by one, or all at once.

// SessionItem is one signed-in session of the account.
type SessionItem struct {
	ID                    string
	CreatedAt, LastSeenAt time.Time
	IP, UserAgent         string
	Device                string // the browser and system the User-Agent names (session.DeviceOf)
	Current               bool
}

func isNotFound(err error) bool { return errors.Is(err, accounts.ErrNotFound) }

// Sessions lists the account's signed-in sessions (logins in progress
// left out), oldest first (the store's order).
func (s *Security) Sessions(ctx context.Context, c Caller) ([]SessionItem, error) {
	list, err := s.list(ctx, c)
	if err != nil {
		return nil, err
	}
	items := make([]SessionItem, 0, len(list))
	for _, o := range list {
		if !o.Complete() {
			continue
		}
		items = append(items, SessionItem{ID: o.Handle, CreatedAt: o.CreatedAt.UTC(), LastSeenAt: o.LastSeenAt.UTC(),
			IP: o.IP, UserAgent: o.UserAgent, Device: session.DeviceOf(o.UserAgent), Current: o.Handle == c.Handle})
	}
	return items, nil
}

func (s *Security) list(ctx context.Context, c Caller) ([]*session.Session, error) {
	list, err := s.cfg.Sessions.ListAccount(ctx, c.AccountID)
	if err != nil {
		s.cfg.Events.StoreFailed("list")
		return nil, unavailable(err)
	}
	return list, nil
}

// RevokeSession ends one of the account's own sessions: it is refused from
// its next request. An id that is not one of them is not_found, whoever's
// it is. current reports that the caller ended its own session.
func (s *Security) RevokeSession(ctx context.Context, c Caller, id string) (current bool, err error) {
	list, err := s.list(ctx, c)
	if err != nil {
		return false, err
	}
	var target *session.Session
	for _, o := range list {
		if o.Handle == id {
			target = o
		}
	}
	if target == nil {
		return false, ErrNotFound
	}
	if err := s.cfg.Sessions.Delete(ctx, target.Handle); err != nil {
		s.cfg.Events.StoreFailed("delete")
		return false, unavailable(err)
	}
	s.cfg.Events.SessionsRevoked(1)
	// A prefix of the handle names it in the audit without being a key.
	s.audit(ctx, c, "session.revoke", map[string]string{"session_id": target.Handle[:min(12, len(target.Handle))]})
	return target.Handle == c.Handle, nil
}

// SignOutEverywhere ends every session of the account, the caller's too.
func (s *Security) SignOutEverywhere(ctx context.Context, c Caller) error {
	n, err := s.cfg.Sessions.DeleteAccount(ctx, c.AccountID, "")
	if err != nil {
		s.cfg.Events.StoreFailed("delete")
		return unavailable(err)
	}
	s.cfg.Events.SessionsRevoked(n)
	s.audit(ctx, c, "session.revoke_all", map[string]string{"sessions": strconv.Itoa(n)})
	return nil
}
