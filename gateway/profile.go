package gateway

import (
	"net/http"
	"strings"

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
	// The MFA rule (owners only) before the name, and the name of a request
	// that sets both checked before either: a refused request changes nothing.
	if req.Name != nil && req.RequireMFA != nil && !account.ValidName(strings.TrimSpace(*req.Name)) {
		return account.ErrInvalidName
	}
	if err := s.patchOrgMFA(r, cur, r.PathValue("id"), req.RequireMFA, req.GraceDays); err != nil {
		return err
	}
	if req.Name != nil {
		if err := s.orgs.Rename(r.Context(), s.actor(r, cur), r.PathValue("id"), *req.Name); err != nil {
			return err
		}
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
