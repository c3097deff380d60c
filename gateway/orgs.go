package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"unigate/accounts"
	"unigate/mail"
)

// Organizations (CONTRACT §5 /orgs, /invitations): owners and admins invite
// by email (a link valid 7 days), change roles and remove members; an
// organization never loses its last owner. Only members see an organization.

const invitationLifetime = 7 * 24 * time.Hour

var (
	errForbidden   = fail("forbidden")
	errInvalidRole = fail("invalid_role")
)

// orgView is one organization as its member sees it.
type orgView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
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
	name := strings.TrimSpace(req.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fail("invalid_name")
	}
	org, err := s.accounts.CreateOrganization(r.Context(), name, cur.sess.AccountID, s.now())
	if errors.Is(err, accounts.ErrInvalidOrganizationName) {
		return fail("invalid_name")
	}
	if err != nil {
		return internal(err)
	}
	s.audit(r, "org.create", cur.sess.AccountID, map[string]string{"organization_id": org.ID})
	writeJSON(w, http.StatusCreated, orgView{ID: org.ID, Name: org.Name, Role: accounts.RoleOwner})
	return nil
}

// orgMember is the signed-in account and its role in the path's
// organization; 404 for non-members.
func (s *Server) orgMember(r *http.Request) (*current, string, error) {
	cur, err := s.requireComplete(r)
	if err != nil {
		return nil, "", err
	}
	role, err := s.orgRole(r, cur)
	if err != nil {
		return nil, "", err
	}
	return cur, role, nil
}

// orgRole is the signed-in account's role in the path's organization; 404 for non-members.
func (s *Server) orgRole(r *http.Request, cur *current) (string, error) {
	role, err := s.accounts.MemberRole(r.Context(), r.PathValue("id"), cur.sess.AccountID)
	if errors.Is(err, accounts.ErrNotFound) {
		return "", fail("not_found")
	}
	if err != nil {
		return "", internal(err)
	}
	return role, nil
}

// orgViews lists the organizations accountID belongs to.
func (s *Server) orgViews(r *http.Request, accountID string) ([]orgView, error) {
	ms, err := s.accounts.Memberships(r.Context(), accountID)
	if err != nil {
		return nil, internal(err)
	}
	out := make([]orgView, 0, len(ms))
	for _, m := range ms {
		out = append(out, orgView{ID: m.OrganizationID, Name: m.Name, Role: m.Role})
	}
	return out, nil
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

func (s *Server) apiMembers(w http.ResponseWriter, r *http.Request) error {
	if _, _, err := s.orgMember(r); err != nil {
		return err
	}
	orgID := r.PathValue("id")
	members, err := s.accounts.Members(r.Context(), orgID)
	if err != nil {
		return internal(err)
	}
	invs, err := s.accounts.PendingInvitations(r.Context(), orgID, s.now())
	if err != nil {
		return internal(err)
	}
	mv := make([]memberView, 0, len(members))
	for _, m := range members {
		mv = append(mv, memberView{AccountID: m.AccountID, Email: m.Email, Role: m.Role})
	}
	iv := make([]invitationView, 0, len(invs))
	for _, i := range invs {
		iv = append(iv, invitationView{ID: i.ID, Email: i.Email, Role: i.Role, ExpiresAt: i.ExpiresAt.UTC()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": mv, "invitations": iv})
	return nil
}

func validRole(role string) bool {
	return role == accounts.RoleOwner || role == accounts.RoleAdmin || role == accounts.RoleMember
}

// mayGrant: owners give any role; admins only member.
func mayGrant(actor, role string) bool {
	switch actor {
	case accounts.RoleOwner:
		return validRole(role)
	case accounts.RoleAdmin:
		return role == accounts.RoleMember
	}
	return false
}

func (s *Server) apiInvite(w http.ResponseWriter, r *http.Request) error {
	cur, actor, err := s.orgMember(r)
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
	email, err := accounts.NormalizeEmail(req.Email)
	if err != nil {
		return errInvalidEmail
	}
	if req.Role == "" {
		req.Role = accounts.RoleMember
	}
	if !validRole(req.Role) {
		return errInvalidRole
	}
	if !mayGrant(actor, req.Role) {
		return errForbidden
	}
	orgs, err := s.accounts.Memberships(r.Context(), cur.sess.AccountID)
	if err != nil {
		return internal(err)
	}
	orgName := ""
	for _, o := range orgs {
		if o.OrganizationID == r.PathValue("id") {
			orgName = o.Name
		}
	}
	tokenBytes := make([]byte, 32)
	rand.Read(tokenBytes)
	token := base64.RawURLEncoding.EncodeToString(tokenBytes)
	sum := sha256.Sum256([]byte(token))
	now := s.now()
	inv := &accounts.Invitation{OrganizationID: r.PathValue("id"), Email: email, Role: req.Role,
		InvitedBy: cur.sess.AccountID, CreatedAt: now, ExpiresAt: now.Add(invitationLifetime)}
	if err := s.accounts.CreateInvitation(r.Context(), inv, sum[:]); err != nil {
		return internal(err)
	}
	locale := "en"
	if invitee, err := s.accounts.AccountByEmail(r.Context(), email); err == nil {
		locale = invitee.Locale
	}
	err = s.mailer.Queue(r.Context(), "invitation:"+inv.ID, "", mail.KindInvitation, locale, email, mail.InvitationData{
		Organization: orgName, Role: req.Role, InvitedBy: cur.sess.Email,
		AcceptURL: s.public.Scheme + "://" + s.public.Host + "/invitations/" + token, ExpiresDays: int(invitationLifetime.Hours() / 24)})
	if err != nil {
		return internal(err)
	}
	s.audit(r, "org.invite", cur.sess.AccountID, map[string]string{"organization_id": inv.OrganizationID, "role": req.Role})
	writeJSON(w, http.StatusCreated, map[string]string{"id": inv.ID})
	return nil
}

// acceptInvitation: the signed-in account whose email was invited joins.
func (s *Server) acceptInvitation(r *http.Request, token string) (string, error) {
	cur, err := s.requireComplete(r)
	if err != nil {
		return "", err
	}
	if len(token) != 43 {
		return "", fail("not_found")
	}
	sum := sha256.Sum256([]byte(token))
	inv, err := s.accounts.InvitationByToken(r.Context(), sum[:])
	if errors.Is(err, accounts.ErrNotFound) || (err == nil && !s.now().Before(inv.ExpiresAt)) {
		return "", fail("not_found")
	}
	if err != nil {
		return "", internal(err)
	}
	if inv.Email != cur.sess.Email {
		return "", fail("forbidden")
	}
	err = s.accounts.AcceptInvitation(r.Context(), inv.ID, cur.sess.AccountID, s.now())
	if errors.Is(err, accounts.ErrNotFound) || errors.Is(err, accounts.ErrInvitationExpired) {
		return "", fail("not_found")
	}
	if err != nil {
		return "", internal(err)
	}
	s.audit(r, "org.join", cur.sess.AccountID, map[string]string{"organization_id": inv.OrganizationID})
	return inv.OrganizationID, nil
}

func (s *Server) apiAcceptInvitation(w http.ResponseWriter, r *http.Request) error {
	if err := decodeJSON(w, r, &struct{}{}); err != nil {
		return err
	}
	if _, err := s.acceptInvitation(r, r.PathValue("token")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// changeMember is PATCH (role != "") or DELETE of /orgs/{id}/members/{account_id}.
func (s *Server) changeMember(r *http.Request, role string, remove bool) error {
	cur, actor, err := s.orgMember(r)
	if err != nil {
		return err
	}
	orgID, target := r.PathValue("id"), r.PathValue("account_id")
	current, err := s.accounts.MemberRole(r.Context(), orgID, target)
	if errors.Is(err, accounts.ErrNotFound) {
		return fail("not_found")
	}
	if err != nil {
		return internal(err)
	}
	self := target == cur.sess.AccountID
	switch {
	case remove && self:
		// Anyone may leave (the last owner excepted, below).
	case actor == accounts.RoleOwner:
	case actor == accounts.RoleAdmin && current == accounts.RoleMember && (remove || role == accounts.RoleMember):
	default:
		return errForbidden
	}
	if remove {
		err = s.accounts.RemoveMember(r.Context(), orgID, target)
	} else {
		if !validRole(role) {
			return errInvalidRole
		}
		err = s.accounts.SetMemberRole(r.Context(), orgID, target, role)
	}
	switch {
	case errors.Is(err, accounts.ErrLastOwner):
		return fail("last_owner")
	case errors.Is(err, accounts.ErrNotFound):
		return fail("not_found")
	case err != nil:
		return internal(err)
	}
	// The member's sessions carry the new truth from their next request on (memberships.go).
	if err := s.refreshMemberships(r.Context(), target); err != nil {
		return err
	}
	kind := "org.role"
	if remove {
		kind = "org.remove"
	}
	s.audit(r, kind, cur.sess.AccountID, map[string]string{"organization_id": orgID, "member": target, "role": role})
	return nil
}

func (s *Server) apiPatchMember(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Role string `json:"role"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := s.changeMember(r, req.Role, false); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiDeleteMember(w http.ResponseWriter, r *http.Request) error {
	if err := s.changeMember(r, "", true); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// pageInvitation is GET /invitations/{token}: sign in (or up) first, then accept with one click.
func (s *Server) pageInvitation(w http.ResponseWriter, r *http.Request) {
	cur, err := s.loadSession(r)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if cur == nil || !cur.sess.Complete() {
		http.Redirect(w, r, "/login?return_to="+url.QueryEscape(r.URL.EscapedPath()), http.StatusFound)
		return
	}
	s.render(w, r, http.StatusOK, "invitation", map[string]string{"Token": r.PathValue("token"), "Email": cur.sess.Email})
}

func (s *Server) pageAcceptInvitation(w http.ResponseWriter, r *http.Request) {
	if _, err := s.acceptInvitation(r, r.PathValue("token")); err != nil {
		s.errorPage(w, r, err)
		return
	}
	http.Redirect(w, r, "/consoles", http.StatusSeeOther)
}
