package gateway

import (
	"net/http"

	"unigate/account"
)

// The profile (CONTRACT §9b): GET/PATCH /me/profile, the name form of
// /settings and the rename of an organization; adapters over package account.

type profileView struct {
	Email  string `json:"email"`
	Name   string `json:"name"`
	Locale string `json:"locale"`
}

func (s *Server) apiProfile(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	p, err := s.profile.Get(r.Context(), s.actor(r, cur))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, profileView(p))
	return nil
}

func (s *Server) apiPatchProfile(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name   *string `json:"name"`
		Locale *string `json:"locale"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	if err := s.profile.Update(r.Context(), s.actor(r, cur), account.ProfileChange{Name: req.Name, Locale: req.Locale}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiPatchOrg is PATCH /orgs/{id}: {"name"} renames (owners and admins);
// {"require_mfa", "grace_days"} sets the organization's MFA rule (owners,
// CONTRACT §11).
func (s *Server) apiPatchOrg(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name       *string `json:"name"`
		RequireMFA *bool   `json:"require_mfa"`
		GraceDays  *int    `json:"grace_days"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	change := account.OrgChange{Name: req.Name, RequireMFA: req.RequireMFA, GraceDays: req.GraceDays}
	if err := s.orgs.Patch(r.Context(), s.actor(r, cur), r.PathValue("id"), change); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// pageRenameOrg is the rename form of an organization's page.
func (s *Server) pageRenameOrg(w http.ResponseWriter, r *http.Request) {
	cur, ok := s.orgForm(w, r)
	if !ok {
		return
	}
	err := s.orgs.Rename(r.Context(), s.actor(r, cur), r.PathValue("id"), r.PostForm.Get("name"))
	s.orgFormDone(w, r, err, "renamed")
}
