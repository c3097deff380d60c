package gateway

import (
	"context"
	"errors"
	"time"

	"unigate/accounts"
	"unigate/session"
)

// A console request is sent with the organization and role kept in the
// session's console selection (CONTRACT §6). A membership change must reach
// the next request of every session of that member, on every replica
// (issue 16, finding 1: a removed admin kept sending role admin).
//
// Chosen: rewrite the member's sessions when the membership changes, rather
// than read the role (or a membership version) on every request. Changes
// are rare and requests are many: a per-request read would cost a Redis or
// database round trip on every proxied request of every organization user,
// and take away what the session cache saves (DESIGN.md: none on a warm
// local cache). A rewritten session reaches every replica the way a
// revocation does: the store's write drops every replica's cached copy
// (session.CachedStore), so the very next request reads the new truth. A
// short cache of roles was refused: it leaves the old role valid on the
// other replicas for its lifetime.
//
// The one hole of a rewrite is a request of the member that read its
// session before the rewrite and saves it after (a login step, an entry in
// another console): it would write the old role back. saveSession closes
// it: whenever a session carrying an organization is saved, the roles are
// read again after the write, and written again if they changed. Either
// that read comes after the membership change and sees it, or it came
// before, and then the change's own rewrite, which reads the sessions after
// the change, comes after this save and corrects it.

// refreshMemberships writes accountID's current organizations and roles into
// every live session of the account: a removed membership leaves the
// selection with no organization, a changed role carries the new one.
func (s *Server) refreshMemberships(ctx context.Context, accountID string) error {
	roles, err := s.memberRoles(ctx, accountID)
	if err != nil {
		return err
	}
	// A session rotated meanwhile (a re-authentication) is gone under its
	// old handle and listed under its new one: one more pass finds it.
	for pass := 0; pass < 3; pass++ {
		rotated, err := s.rewriteSessions(ctx, accountID, roles)
		if err != nil || !rotated {
			return err
		}
	}
	return nil
}

// rewriteSessions is one pass of refreshMemberships; it reports whether a
// session disappeared under it.
func (s *Server) rewriteSessions(ctx context.Context, accountID string, roles map[string]accounts.Membership) (bool, error) {
	all, err := s.sessions.ListAccount(ctx, accountID)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("list").Inc()
		return false, storeDown(err)
	}
	now, gone := s.now(), false
	for _, sess := range all {
		if !applyRoles(sess, roles) {
			continue
		}
		// The session's own idle deadline, not a new one: an organization
		// change is not activity of the member (ASVS V7.3.1).
		ttl := s.cfg.Session.IdleTimeout - now.Sub(sess.LastSeenAt)
		if ttl < time.Second {
			ttl = time.Second
		}
		err := s.sessions.Save(ctx, sess, ttl)
		switch {
		case errors.Is(err, session.ErrNotFound):
			gone = true
		case err != nil:
			s.metrics.storeErrors.WithLabelValues("save").Inc()
			return false, storeDown(err)
		}
	}
	return gone, nil
}

// reconcileOrganizations is the read-after-write of saveSession for a
// session that carries an organization: the roles are read again and, if
// the session holds other ones, it is written again.
func (s *Server) reconcileOrganizations(ctx context.Context, sess *session.Session) error {
	if !carriesOrganization(sess) {
		return nil
	}
	roles, err := s.memberRoles(ctx, sess.AccountID)
	if err != nil {
		// The write succeeded and the change's own rewrite still holds: an
		// account store outage must not fail console traffic, which needs
		// only the session store (this runs on a last_seen_at refresh).
		s.logger.Warn("organization roles not re-read after a session write", "err", err)
		return nil
	}
	if !applyRoles(sess, roles) {
		return nil
	}
	if err := s.sessions.Save(ctx, sess, s.cfg.Session.IdleTimeout); err != nil {
		if errors.Is(err, session.ErrNotFound) {
			return errUnauthenticated
		}
		s.metrics.storeErrors.WithLabelValues("save").Inc()
		return storeDown(err)
	}
	return nil
}

// memberRoles is the account's memberships (role, and the grace deadline of
// the organization's MFA rule) by organization id, from the account store.
func (s *Server) memberRoles(ctx context.Context, accountID string) (map[string]accounts.Membership, error) {
	ms, err := s.accounts.Memberships(ctx, accountID)
	if err != nil {
		return nil, internal(err)
	}
	roles := make(map[string]accounts.Membership, len(ms))
	for _, m := range ms {
		roles[m.OrganizationID] = m
	}
	return roles, nil
}

// applyRoles sets every console selection of sess to the account's current
// role in its organization and the deadline of the organization's MFA rule
// (CONTRACT §11), or to no organization when it is no longer a member. It
// reports whether anything changed.
func applyRoles(sess *session.Session, roles map[string]accounts.Membership) bool {
	changed := false
	for console, sel := range sess.Consoles {
		if sel.OrganizationID == "" {
			continue
		}
		m, member := roles[sel.OrganizationID]
		switch {
		case !member:
			sel.OrganizationID, sel.OrganizationRole, sel.MFADeadline = "", "", time.Time{}
		case m.Role != sel.OrganizationRole || !m.MFADeadline().Equal(sel.MFADeadline):
			sel.OrganizationRole, sel.MFADeadline = m.Role, m.MFADeadline()
		default:
			continue
		}
		sess.Consoles[console] = sel
		changed = true
	}
	return changed
}

func carriesOrganization(sess *session.Session) bool {
	for _, sel := range sess.Consoles {
		if sel.OrganizationID != "" {
			return true
		}
	}
	return false
}

// membershipWatcher lets package account tell the edge that an account's
// memberships changed, so that its sessions are rewritten at once.
type membershipWatcher struct{ s *Server }

func (w membershipWatcher) MembershipChanged(ctx context.Context, accountID string) error {
	return w.s.refreshMemberships(ctx, accountID)
}
