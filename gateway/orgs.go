package gateway

import (
	"net/http"
	"time"

	"unigate/account"
)

// The organizations' JSON API (CONTRACT §5 /orgs, /invitations): thin
// adapters over package account, which holds every rule.

// orgView is one organization as its member sees it.
type orgView struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Role       string `json:"role"`
	RequireMFA bool   `json:"require_mfa"` // CONTRACT §11
	// For the pages (orgmfa.go): the rule's grace, and what this member
	// owes it.
	MFAGraceDays int       `json:"-"`
	MFA          mfaNotice `json:"-"`
}

type memberView struct {
	AccountID string `json:"account_id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
}

type invitationView struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	ExpiresAt time.Time `json:"expires_at"`
}

// actor is the signed-in person of a request, as package account sees them.
func (s *Server) actor(r *http.Request, cur *current) account.Actor {
	return account.Actor{AccountID: cur.sess.AccountID, Email: cur.sess.Email, IP: s.clientIP(r).String()}
}

// orgViews lists the organizations accountID belongs to.
func (s *Server) orgViews(r *http.Request, accountID string) ([]orgView, error) {
	orgs, err := s.orgs.List(r.Context(), account.Actor{AccountID: accountID})
	if err != nil {
		return nil, err
	}
	owes, err := s.owesSecondFactor(r, accountID, orgs)
	if err != nil {
		return nil, err
	}
	out := make([]orgView, 0, len(orgs))
	for _, o := range orgs {
		out = append(out, s.orgViewOf(o, owes))
	}
	return out, nil
}

func (s *Server) apiOrgs(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	out, err := s.orgViews(r, cur.sess.AccountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"organizations": out})
	return nil
}

func (s *Server) apiCreateOrg(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	org, err := s.orgs.Create(r.Context(), s.actor(r, cur), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.orgViewOf(org, false))
	return nil
}

func (s *Server) apiMembers(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	d, err := s.orgs.Detail(r.Context(), s.actor(r, cur), r.PathValue("id"))
	if err != nil {
		return err
	}
	members, invitations := orgDetailViews(d)
	writeJSON(w, http.StatusOK, map[string]any{"members": members, "invitations": invitations})
	return nil
}

func orgDetailViews(d *account.OrgDetail) ([]memberView, []invitationView) {
	mv := make([]memberView, 0, len(d.Members))
	for _, m := range d.Members {
		mv = append(mv, memberView(m))
	}
	iv := make([]invitationView, 0, len(d.Invitations))
	for _, i := range d.Invitations {
		iv = append(iv, invitationView(i))
	}
	return mv, iv
}

func (s *Server) apiInvite(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	var req struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	id, err := s.orgs.Invite(r.Context(), s.actor(r, cur), r.PathValue("id"), req.Email, req.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
	return nil
}

func (s *Server) apiAcceptInvitation(w http.ResponseWriter, r *http.Request) error {
	if err := decodeJSON(w, r, &struct{}{}); err != nil {
		return err
	}
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	if _, err := s.orgs.Accept(r.Context(), s.actor(r, cur), r.PathValue("token")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiPatchMember(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Role string `json:"role"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	if err := s.orgs.SetRole(r.Context(), s.actor(r, cur), r.PathValue("id"), r.PathValue("account_id"), req.Role); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiDeleteMember(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	if err := s.orgs.Remove(r.Context(), s.actor(r, cur), r.PathValue("id"), r.PathValue("account_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
