package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
)

// The organization pages: a list with a form to create one, and each
// organization's members with invitations, role changes and removals. The
// forms reuse the JSON API's rules (orgs.go) through small adapters.

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

func (s *Server) pageOrgs(w http.ResponseWriter, r *http.Request) {
	cur, err := s.loadSession(r)
	if err != nil || cur == nil || !cur.sess.Complete() {
		http.Redirect(w, r, "/login?return_to=%2Forgs", http.StatusFound)
		return
	}
	orgs, err := s.orgViews(r, cur.sess.AccountID)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "orgs", orgsPage{Email: cur.sess.Email, Error: r.URL.Query().Get("error"), Orgs: orgs})
}

// formAsJSON runs an API handler with the form's fields as its JSON body.
func (s *Server) formAsJSON(w http.ResponseWriter, r *http.Request, fields []string, h jsonHandler) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	body := make(map[string]string, len(fields))
	for _, f := range fields {
		body[f] = r.PostForm.Get(f)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return internal(err)
	}
	r2 := r.Clone(r.Context())
	r2.ContentLength = int64(len(raw))
	r2.Body = io.NopCloser(bytes.NewReader(raw))
	r2.Header.Set("Content-Type", "application/json")
	return h(&discardJSON{header: http.Header{}}, r2)
}

func (s *Server) pageCreateOrg(w http.ResponseWriter, r *http.Request) {
	if err := s.formAsJSON(w, r, []string{"name"}, s.apiCreateOrg); err != nil {
		http.Redirect(w, r, "/orgs?error="+url.QueryEscape(describe(err).Message), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/orgs", http.StatusSeeOther)
}

func (s *Server) pageOrg(w http.ResponseWriter, r *http.Request) {
	s.renderOrg(w, r, http.StatusOK, r.URL.Query().Get("error"), r.URL.Query().Get("notice"))
}

func (s *Server) renderOrg(w http.ResponseWriter, r *http.Request, status int, msg, notice string) {
	cur, err := s.loadSession(r)
	if err != nil || cur == nil || !cur.sess.Complete() {
		http.Redirect(w, r, "/login?return_to="+url.QueryEscape(r.URL.Path), http.StatusFound)
		return
	}
	role, err := s.orgRole(r, cur)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	orgID := r.PathValue("id")
	page := orgPage{Email: cur.sess.Email, Error: msg, Notice: notice, Self: cur.sess.AccountID,
		CanManage: role == "owner" || role == "admin", IsOwner: role == "owner"}
	ms, _ := s.accounts.Memberships(r.Context(), cur.sess.AccountID)
	for _, m := range ms {
		if m.OrganizationID == orgID {
			page.Org = orgView{ID: m.OrganizationID, Name: m.Name, Role: m.Role}
		}
	}
	members, err := s.accounts.Members(r.Context(), orgID)
	if err != nil {
		s.errorPage(w, r, internal(err))
		return
	}
	for _, m := range members {
		page.Members = append(page.Members, memberView{AccountID: m.AccountID, Email: m.Email, Role: m.Role})
	}
	invs, err := s.accounts.PendingInvitations(r.Context(), orgID, s.now())
	if err != nil {
		s.errorPage(w, r, internal(err))
		return
	}
	for _, i := range invs {
		page.Invitations = append(page.Invitations, invitationView{ID: i.ID, Email: i.Email, Role: i.Role, ExpiresAt: i.ExpiresAt})
	}
	s.render(w, r, status, "org", page)
}

// orgFormDone answers an organization page form: back to the page, with the error if any.
func (s *Server) orgFormDone(w http.ResponseWriter, r *http.Request, err error, notice string) {
	target := "/orgs/" + url.PathEscape(r.PathValue("id"))
	if err != nil {
		target += "?error=" + url.QueryEscape(describe(err).Message)
	} else {
		target += "?notice=" + url.QueryEscape(notice)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (s *Server) pageInvite(w http.ResponseWriter, r *http.Request) {
	err := s.formAsJSON(w, r, []string{"email", "role"}, s.apiInvite)
	s.orgFormDone(w, r, err, "Invitation sent.")
}

func (s *Server) pageMemberRole(w http.ResponseWriter, r *http.Request) {
	err := s.formAsJSON(w, r, []string{"role"}, s.apiPatchMember)
	s.orgFormDone(w, r, err, "Role changed.")
}

func (s *Server) pageMemberRemove(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
	r.ParseForm()
	err := s.changeMember(r, "", true)
	s.orgFormDone(w, r, err, "Member removed.")
}
