package gateway

import (
	"net/http"
	"net/url"
)

// The organization pages: a list with a form to create one, and each
// organization's members with invitations, role changes and removals. Each
// form calls the same function of package account as the JSON API.
//
// A form's outcome travels in the redirect as a code, never as text: the
// page shows only sentences of fixed tables (errorCodes, orgNotices), so
// that nobody can craft a link that prints their words on our page.

type orgsPage struct {
	Email string
	Error string
	Orgs  []orgView
}

type orgPage struct {
	Email       string
	Error       string
	Notice      string
	Org         orgView
	Members     []memberView
	Invitations []invitationView
	CanManage   bool // owner or admin
	IsOwner     bool
	Self        string // the signed-in account id
}

// orgNotices are the sentences an organization page may confirm with.
var orgNotices = map[string]string{
	"invited":      "Invitation sent.",
	"role_changed": "Role changed.",
	"removed":      "Member removed.",
	"renamed":      "The organization was renamed.",
	"mfa_rule":     "The sign-in rule was saved.",
}

// pageMessage is the sentence of an error code given in a page's URL, or ""
// for a code that is not one of errorCodes.
func pageMessage(code string) string {
	if _, ok := errorCodes[code]; !ok || code == "" {
		return ""
	}
	return describe(fail(code)).Message
}

// pageSession is the complete session of a page request. ok is false once
// the page has answered: 503 when the store is down (CONTRACT §7), the
// login page (coming back to this page) when there is no session.
func (s *Server) pageSession(w http.ResponseWriter, r *http.Request) (*current, bool) {
	cur, err := s.loadSession(r)
	if err != nil {
		s.errorPage(w, r, err)
		return nil, false
	}
	if cur == nil || !cur.sess.Complete() {
		http.Redirect(w, r, "/login?return_to="+url.QueryEscape(r.URL.EscapedPath()), http.StatusFound)
		return nil, false
	}
	return cur, true
}

func (s *Server) pageOrgs(w http.ResponseWriter, r *http.Request) {
	cur, ok := s.pageSession(w, r)
	if !ok {
		return
	}
	orgs, err := s.orgViews(r, cur.sess.AccountID)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "orgs", orgsPage{Email: cur.sess.Email, Error: pageMessage(r.URL.Query().Get("error")), Orgs: orgs})
}

func (s *Server) pageCreateOrg(w http.ResponseWriter, r *http.Request) {
	cur, ok := s.orgForm(w, r)
	if !ok {
		return
	}
	if _, err := s.orgs.Create(r.Context(), s.actor(r, cur), r.PostForm.Get("name")); err != nil {
		if p := describe(err); p.Status < 500 {
			http.Redirect(w, r, "/orgs?error="+url.QueryEscape(p.Code), http.StatusSeeOther)
			return
		}
		s.errorPage(w, r, err)
		return
	}
	http.Redirect(w, r, "/orgs", http.StatusSeeOther)
}

func (s *Server) pageOrg(w http.ResponseWriter, r *http.Request) {
	cur, ok := s.pageSession(w, r)
	if !ok {
		return
	}
	d, err := s.orgs.Detail(r.Context(), s.actor(r, cur), r.PathValue("id"))
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	q := r.URL.Query()
	page := orgPage{Email: cur.sess.Email, Error: pageMessage(q.Get("error")), Notice: orgNotices[q.Get("notice")],
		Self: cur.sess.AccountID, Org: s.orgViewOf(d.Org, false), CanManage: d.CanManage(), IsOwner: d.Role == "owner"}
	page.Members, page.Invitations = orgDetailViews(d)
	s.render(w, r, http.StatusOK, "org", page)
}

// orgForm reads an organization form for the signed-in account.
func (s *Server) orgForm(w http.ResponseWriter, r *http.Request) (*current, bool) {
	if !s.parseForm(w, r) {
		return nil, false
	}
	return s.pageSession(w, r)
}

// orgFormDone answers an organization page form: back to the page, with the
// error's code or the notice's.
func (s *Server) orgFormDone(w http.ResponseWriter, r *http.Request, err error, notice string) {
	target := "/orgs/" + url.PathEscape(r.PathValue("id"))
	if err != nil {
		p := describe(err)
		if p.Status >= 500 {
			s.errorPage(w, r, err)
			return
		}
		target += "?error=" + url.QueryEscape(p.Code)
	} else {
		target += "?notice=" + notice
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (s *Server) pageInvite(w http.ResponseWriter, r *http.Request) {
	cur, ok := s.orgForm(w, r)
	if !ok {
		return
	}
	f := r.PostForm
	_, err := s.orgs.Invite(r.Context(), s.actor(r, cur), r.PathValue("id"), f.Get("email"), f.Get("role"))
	s.orgFormDone(w, r, err, "invited")
}

func (s *Server) pageMemberRole(w http.ResponseWriter, r *http.Request) {
	cur, ok := s.orgForm(w, r)
	if !ok {
		return
	}
	err := s.orgs.SetRole(r.Context(), s.actor(r, cur), r.PathValue("id"), r.PathValue("account_id"), r.PostForm.Get("role"))
	s.orgFormDone(w, r, err, "role_changed")
}

func (s *Server) pageMemberRemove(w http.ResponseWriter, r *http.Request) {
	cur, ok := s.orgForm(w, r)
	if !ok {
		return
	}
	err := s.orgs.Remove(r.Context(), s.actor(r, cur), r.PathValue("id"), r.PathValue("account_id"))
	s.orgFormDone(w, r, err, "removed")
}

// pageInvitation is GET /invitations/{token}: sign in (or up) first, then accept with one click.
func (s *Server) pageInvitation(w http.ResponseWriter, r *http.Request) {
	cur, ok := s.pageSession(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "invitation", map[string]string{"Token": r.PathValue("token"), "Email": cur.sess.Email})
}

func (s *Server) pageAcceptInvitation(w http.ResponseWriter, r *http.Request) {
	cur, ok := s.orgForm(w, r)
	if !ok {
		return
	}
	if _, err := s.orgs.Accept(r.Context(), s.actor(r, cur), r.PathValue("token")); err != nil {
		s.errorPage(w, r, err)
		return
	}
	http.Redirect(w, r, "/consoles", http.StatusSeeOther)
}
