package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"unigate/accounts"
	"unigate/session"
)

// enterRequest is the body of POST /consoles/{id}/enter.
type enterRequest struct {
	AccountID      string `json:"account_id"`
	OrganizationID string `json:"organization_id"`
	ReturnTo       string `json:"return_to"`
}

// accountRef is one console account offered to the user.
type accountRef struct {
	ID        string `json:"id"`
	Prelinked bool   `json:"prelinked,omitempty"`
}

// enterConsole selects the console account (and organization) the session
// uses in console c and returns where the browser goes next: through
// /.auth/handoff on the console's own host, or straight to a path_prefix mount.
// path is the local path to land on ("" => "/"). provision allows creating
// the account's first account in that console: only on a POST, so that a
// cross-site link cannot make one (GET has no CSRF check).
func (s *Server) enterConsole(r *http.Request, cur *current, c *consoleSite, req enterRequest, path string, provision bool) (string, error) {
	orgRole := ""
	if req.OrganizationID != "" {
		// Only an organization the account belongs to can be selected.
		role, err := s.accounts.MemberRole(r.Context(), req.OrganizationID, cur.sess.AccountID)
		if errors.Is(err, accounts.ErrNotFound) {
			return "", fail("unknown_organization")
		}
		if err != nil {
			return "", internal(err)
		}
		orgRole = role
	}
	var mfaDeadline time.Time
	if req.OrganizationID != "" {
		var err error
		if mfaDeadline, err = s.orgMFAAtEntry(r, cur.sess, req.OrganizationID); err != nil {
			return "", err
		}
	}
	sel, err := s.selectConsoleAccount(r, cur, c, req.AccountID, provision)
	if err != nil {
		return "", err
	}
	sel.OrganizationID, sel.OrganizationRole = req.OrganizationID, orgRole
	sel.MFADeadline = mfaDeadline
	sess := cur.sess
	if sess.Consoles == nil {
		sess.Consoles = map[string]session.ConsoleSelection{}
	}
	sess.Consoles[c.id] = sel
	sess.ActiveConsole = c.id
	if err := s.saveSession(r.Context(), sess); err != nil {
		return "", err
	}
	return s.consoleEntryURL(r, cur, c, path)
}

// selectConsoleAccount picks the account the session will use in console c:
// the one named, the only one, or a new one when the account has none there
// (every unified account can reach both consoles, CONTRACT §8). Several and
// none named: 409 account_required with the choice.
func (s *Server) selectConsoleAccount(r *http.Request, cur *current, c *consoleSite, wanted string, provision bool) (session.ConsoleSelection, error) {
	all, err := s.accounts.ConsoleAccounts(r.Context(), cur.sess.AccountID)
	if err != nil {
		return session.ConsoleSelection{}, internal(err)
	}
	var mine []accounts.ConsoleAccount
	for _, ca := range all {
		if ca.Console == c.id {
			mine = append(mine, ca)
		}
	}
	if wanted != "" {
		for _, ca := range mine {
			if ca.ExternalID == wanted {
				return session.ConsoleSelection{AccountID: ca.ExternalID, Prelinked: ca.Prelinked}, nil
			}
		}
		return session.ConsoleSelection{}, fail("unknown_account")
	}
	switch {
	case len(mine) == 0 && !provision:
		return session.ConsoleSelection{}, errNeedsEntry
	case len(mine) == 0 && s.provisioningURL(c.id) != "":
		// The console names its accounts: queue the request, and say it is on its way.
		if err := s.accounts.EnqueueProvisioning(r.Context(), cur.sess.AccountID, c.id, s.now()); err != nil {
			return session.ConsoleSelection{}, internal(err)
		}
		s.pokeProvisioning()
		return session.ConsoleSelection{}, errProvisioningPending
	case len(mine) == 0:
		ca := accounts.ConsoleAccount{AccountID: cur.sess.AccountID, Console: c.id, ExternalID: uuid.NewString(), LinkedAt: s.now()}
		if err := s.accounts.AddConsoleAccount(r.Context(), ca); err != nil {
			return session.ConsoleSelection{}, internal(err)
		}
		s.audit(r, "console_account.created", cur.sess.AccountID, map[string]string{"console": c.id})
		return session.ConsoleSelection{AccountID: ca.ExternalID}, nil
	case len(mine) == 1:
		return session.ConsoleSelection{AccountID: mine[0].ExternalID, Prelinked: mine[0].Prelinked}, nil
	}
	refs := make([]accountRef, 0, len(mine))
	for _, ca := range mine {
		refs = append(refs, accountRef{ID: ca.ExternalID, Prelinked: ca.Prelinked})
	}
	return session.ConsoleSelection{}, &failure{Code: "account_required", Extra: map[string]any{"accounts": refs}}
}

// errNeedsEntry: the account has no account in the console yet, and one is
// only created by entering it from the chooser (a POST).
var errNeedsEntry = &failure{Code: "account_required", Extra: map[string]any{"accounts": []accountRef{}}}

// needsChooser: the user must go through the console chooser (a choice among
// several accounts, or a first entry that creates one).
func needsChooser(err error) bool {
	var f *failure
	return errors.As(err, &f) && f.Code == "account_required"
}

// consoleEntryURL is the URL that lands the browser on console c at path
// with a cookie valid there.
func (s *Server) consoleEntryURL(r *http.Request, cur *current, c *consoleSite, path string) (string, error) {
	if path == "" || !safeLocalPath(path) {
		path = "/"
	}
	if len(c.hosts) == 0 {
		// Mounted on the account host: the account host's cookie already covers it.
		return s.public.Scheme + "://" + s.public.Host + strings.TrimSuffix(c.prefix, "/") + path, nil
	}
	host := c.hosts[0]
	code, err := s.sessions.CreateHandoff(r.Context(), session.Handoff{Token: cur.token, Host: host, Path: path}, s.cfg.Session.HandoffTTL)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("handoff").Inc()
		return "", storeDown(err)
	}
	link := s.siteURL(host) + "/.auth/handoff?code=" + url.QueryEscape(code)
	if site := s.siteOf(r); !site.account {
		from := site.host
		// Minted on a console host (a switch after a legacy login): the code is
		// bound to the browser there, where its session cookie lives.
		link += "&from=" + url.QueryEscape(from)
	}
	return link, nil
}

// consoleOf says which console a validated return target belongs to, and the
// path to land on there; nil when it is a page of the account portal itself.
func (s *Server) consoleOf(rt returnTarget) (*consoleSite, string) {
	if rt.Host != "" && rt.Host != s.accountHost {
		return s.consoleHosts[rt.Host], rt.Path
	}
	for _, m := range s.mounts {
		trimmed := strings.TrimSuffix(m.prefix, "/")
		if rt.Path == trimmed || strings.HasPrefix(rt.Path, m.prefix) {
			return m, strings.TrimPrefix(rt.Path, trimmed)
		}
	}
	return nil, ""
}

// redirectAfterLogin turns a return_to into the URL to follow once the login
// is done. A console target goes through the console's entry (handoff), or
// through the chooser when the account must pick one of several accounts.
func (s *Server) redirectAfterLogin(r *http.Request, cur *current, rt returnTarget, provision bool) string {
	c, path := s.consoleOf(rt)
	if c == nil {
		return rt.URL
	}
	next, err := s.enterConsole(r, cur, c, enterRequest{}, path, provision)
	if err != nil {
		if needsChooser(err) {
			return s.chooserURL(c.id, rt.URL)
		}
		s.log(r).Warn("console entry after login failed", "console", c.id, "err", err)
		return s.public.Scheme + "://" + s.public.Host + "/consoles"
	}
	return next
}

// chooserURL is the console chooser page, asking for an account in console id.
func (s *Server) chooserURL(id, returnTo string) string {
	q := url.Values{"console": {id}}
	if returnTo != "" {
		q.Set("return_to", returnTo)
	}
	return s.public.Scheme + "://" + s.public.Host + "/consoles?" + q.Encode()
}

// loginURL is where an unauthenticated visitor of target is sent.
func (s *Server) loginURL(target string) string {
	u := s.public.Scheme + "://" + s.public.Host + "/login"
	if target != "" {
		u += "?return_to=" + url.QueryEscape(target)
	}
	return u
}

// consolesView is GET /consoles.
type consolesView struct {
	Consoles []consoleView `json:"consoles"`
	Active   string        `json:"active"`
}

type consoleView struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Accounts []accountRef `json:"accounts"`
	// Pending: the console's account is being created by its provisioning endpoint.
	Pending bool `json:"provisioning,omitempty"`
}

func (s *Server) listConsoles(r *http.Request, cur *current) (*consolesView, error) {
	all, err := s.accounts.ConsoleAccounts(r.Context(), cur.sess.AccountID)
	if err != nil {
		return nil, internal(err)
	}
	pending, err := s.accounts.PendingProvisioning(r.Context(), cur.sess.AccountID)
	if err != nil {
		return nil, internal(err)
	}
	v := &consolesView{Active: cur.sess.ActiveConsole, Consoles: make([]consoleView, 0, len(s.consoleList))}
	for _, c := range s.consoleList {
		cv := consoleView{ID: c.id, Name: c.name, Accounts: []accountRef{}, Pending: slices.Contains(pending, c.id)}
		for _, ca := range all {
			if ca.Console == c.id {
				cv.Accounts = append(cv.Accounts, accountRef{ID: ca.ExternalID, Prelinked: ca.Prelinked})
			}
		}
		v.Consoles = append(v.Consoles, cv)
	}
	return v, nil
}
