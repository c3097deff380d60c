package gateway

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"unigate/access"
	"unigate/account"
	"unigate/session"
)

// An organization's MFA rule (CONTRACT §11): its owner requires a second
// factor of the members, with a grace of 0 to 30 days. Package account
// keeps the rule; here it is applied when a member enters a console with
// the organization (a store read per entry), and the deadline is recorded
// in the console selection, where package access checks it on every request
// without a store read. A rule set or changed reaches the sessions already
// inside a console at once: package account tells the edge, which rewrites
// every member's sessions (memberships.go), as for a role change.

// mfaNotice is what the chooser tells a member who owes an organization a
// second factor.
type mfaNotice struct {
	Owed     bool // the organization requires one and the account holds none
	DaysLeft int  // days of grace left, rounded up; 0: the grace is over
}

// owesSecondFactor: some organization of orgs requires a second factor and
// the account holds none (read only when a rule is on).
func (s *Server) owesSecondFactor(r *http.Request, accountID string, orgs []account.Org) (bool, error) {
	for _, o := range orgs {
		if o.RequireMFA {
			holds, err := s.holdsSecondFactor(r, accountID)
			return !holds, err
		}
	}
	return false, nil
}

// secondFactors is what second factors the account holds, from the store.
func (s *Server) secondFactors(r *http.Request, accountID string) (totp bool, passkeys int, err error) {
	totp, passkeys, err = s.accounts.MFAMethods(r.Context(), accountID)
	if err != nil {
		return false, 0, internal(err)
	}
	return totp, passkeys, nil
}

// holdsSecondFactor: the account holds a TOTP or a passkey.
func (s *Server) holdsSecondFactor(r *http.Request, accountID string) (bool, error) {
	totp, passkeys, err := s.secondFactors(r, accountID)
	return totp || passkeys > 0, err
}

// orgViewOf is an organization as the API and the pages show it; owes:
// the member holds no second factor.
func (s *Server) orgViewOf(o account.Org, owes bool) orgView {
	v := orgView{ID: o.ID, Name: o.Name, Role: o.Role, RequireMFA: o.RequireMFA, MFAGraceDays: o.MFAGraceDays}
	if o.RequireMFA && owes {
		v.MFA.Owed = true
		if left := o.MFADeadline.Sub(s.now()); left > 0 {
			v.MFA.DaysLeft = int(math.Ceil(left.Hours() / 24))
		}
	}
	return v
}

// errMFARequiredByOrganization: the grace is over and the member holds no
// second factor.
var errMFARequiredByOrganization = fail("mfa_required_by_organization")

// orgMFAAtEntry applies the organization's MFA rule to sess entering a
// console with orgID: the grace deadline to record in the selection (zero
// without a rule; memberships.go keeps it current when the rule changes),
// or 403 mfa_required_by_organization once it is over for a member without
// a second factor. What the account holds is recorded in the session
// (HoldsMFA), read from the store here, once.
func (s *Server) orgMFAAtEntry(r *http.Request, sess *session.Session, orgID string) (time.Time, error) {
	orgs, err := s.orgs.List(r.Context(), account.Actor{AccountID: sess.AccountID})
	if err != nil {
		return time.Time{}, err
	}
	for _, o := range orgs {
		if o.ID != orgID || !o.RequireMFA {
			continue
		}
		holds, err := s.holdsSecondFactor(r, sess.AccountID)
		if err != nil {
			return time.Time{}, err
		}
		sess.HoldsMFA = &holds
		if access.OrgMFARefused(session.ConsoleSelection{OrganizationID: orgID, MFADeadline: o.MFADeadline}, sess, s.now()) {
			s.audit(r, "org.mfa_refused", sess.AccountID, map[string]string{"organization_id": orgID})
			return time.Time{}, errMFARequiredByOrganization
		}
		return o.MFADeadline, nil
	}
	return time.Time{}, nil
}

// pageOrgMFA is the MFA rule form of an organization's page (owners).
func (s *Server) pageOrgMFA(w http.ResponseWriter, r *http.Request) {
	cur, ok := s.orgForm(w, r)
	if !ok {
		return
	}
	require := r.PostForm.Get("require_mfa") != ""
	days, err := strconv.Atoi(r.PostForm.Get("grace_days"))
	if err != nil && r.PostForm.Get("grace_days") == "" {
		days, err = 0, nil
	}
	if err == nil {
		err = s.orgs.SetMFARule(r.Context(), s.actor(r, cur), r.PathValue("id"), require, days)
	} else {
		err = account.ErrInvalidGraceDays
	}
	s.orgFormDone(w, r, err, "mfa_rule")
}
