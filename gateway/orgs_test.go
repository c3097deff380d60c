package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"unigate/mail"
)

// invitationToken reads the token out of the invitation mail's link.
func (m *recordingMailer) invitationToken(t testing.TB, to string) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.sent) - 1; i >= 0; i-- {
		if d, ok := m.sent[i].data.(mail.InvitationData); ok && m.sent[i].to == to {
			return d.AcceptURL[strings.LastIndex(d.AcceptURL, "/")+1:]
		}
	}
	t.Fatalf("no invitation to %s", to)
	return ""
}

func TestOrganizationsFlow(t *testing.T) {
	h := newHarness(t)
	h.createAccount("owner@example.com", "correct horse battery")
	h.createAccount("member@example.com", "correct horse battery")
	h.createAccount("other@example.com", "correct horse battery")
	mailer := h.gw.mailer.(*recordingMailer)
	owner, member, other := h.browser(), h.browser(), h.browser()
	owner.login("owner@example.com", "correct horse battery")
	member.login("member@example.com", "correct horse battery")
	other.login("other@example.com", "correct horse battery")

	r := owner.do("POST", accountURL+"/api/v1/orgs", map[string]string{"name": "Acme"})
	if r.StatusCode != 201 || r.json(t)["role"] != "owner" {
		t.Fatalf("create: %d %s", r.StatusCode, r.body)
	}
	orgID := r.json(t)["id"].(string)
	if r := other.do("GET", accountURL+"/api/v1/orgs/"+orgID+"/members", nil); r.StatusCode != 404 {
		t.Fatalf("members seen by a non-member: %d", r.StatusCode)
	}
	r = owner.do("POST", accountURL+"/api/v1/orgs/"+orgID+"/invitations", map[string]string{"email": "Member@Example.com", "role": "member"})
	if r.StatusCode != 201 {
		t.Fatalf("invite: %d %s", r.StatusCode, r.body)
	}
	token := mailer.invitationToken(t, "member@example.com")
	// Another account cannot accept it; the invited one can.
	if r := other.do("POST", accountURL+"/api/v1/invitations/"+token+"/accept", map[string]string{}); r.StatusCode != 403 {
		t.Fatalf("accept by another email: %d", r.StatusCode)
	}
	if r := member.do("POST", accountURL+"/api/v1/invitations/"+token+"/accept", map[string]string{}); r.StatusCode != 204 {
		t.Fatalf("accept: %d %s", r.StatusCode, r.body)
	}
	if r := member.do("POST", accountURL+"/api/v1/invitations/"+token+"/accept", map[string]string{}); r.StatusCode != 404 {
		t.Fatalf("accept twice: %d", r.StatusCode)
	}
	r = member.do("GET", accountURL+"/api/v1/orgs", nil)
	if !strings.Contains(string(r.body), `"name":"Acme","role":"member"`) {
		t.Fatalf("member's organizations: %s", r.body)
	}
	r = owner.do("GET", accountURL+"/api/v1/orgs/"+orgID+"/members", nil)
	if !strings.Contains(string(r.body), `"email":"member@example.com","role":"member"`) {
		t.Fatalf("members: %s", r.body)
	}
	var ownerID, memberID string
	for _, m := range r.json(t)["members"].([]any) {
		mm := m.(map[string]any)
		switch mm["email"] {
		case "owner@example.com":
			ownerID = mm["account_id"].(string)
		case "member@example.com":
			memberID = mm["account_id"].(string)
		}
	}
	// A member cannot invite or change roles.
	if r := member.do("POST", accountURL+"/api/v1/orgs/"+orgID+"/invitations", map[string]string{"email": "x@example.com", "role": "member"}); r.StatusCode != 403 {
		t.Fatalf("member invites: %d", r.StatusCode)
	}
	if r := member.do("PATCH", accountURL+"/api/v1/orgs/"+orgID+"/members/"+ownerID, map[string]string{"role": "member"}); r.StatusCode != 403 {
		t.Fatalf("member demotes the owner: %d", r.StatusCode)
	}
	// The last owner cannot go.
	if r := owner.do("PATCH", accountURL+"/api/v1/orgs/"+orgID+"/members/"+ownerID, map[string]string{"role": "member"}); r.StatusCode != 409 || r.json(t)["error"] != "last_owner" {
		t.Fatalf("demote the last owner: %d %s", r.StatusCode, r.body)
	}
	if r := owner.do("DELETE", accountURL+"/api/v1/orgs/"+orgID+"/members/"+ownerID, nil); r.StatusCode != 409 {
		t.Fatalf("remove the last owner: %d", r.StatusCode)
	}
	// Promote to admin: admins change members only.
	if r := owner.do("PATCH", accountURL+"/api/v1/orgs/"+orgID+"/members/"+memberID, map[string]string{"role": "admin"}); r.StatusCode != 204 {
		t.Fatalf("promote: %d %s", r.StatusCode, r.body)
	}
	if r := member.do("PATCH", accountURL+"/api/v1/orgs/"+orgID+"/members/"+ownerID, map[string]string{"role": "admin"}); r.StatusCode != 403 {
		t.Fatalf("admin changes an owner: %d", r.StatusCode)
	}
	// Entering a console with the organization: headers and assertion carry it.
	r = member.do("POST", accountURL+"/api/v1/consoles/scaleway/enter", map[string]string{"organization_id": orgID})
	if r.StatusCode != 200 {
		t.Fatalf("enter with organization: %d %s", r.StatusCode, r.body)
	}
	member.handoff(r.json(t)["redirect"].(string))
	member.do("GET", scalewayURL+"/", nil)
	got := h.scaleway.last(t).Header
	if got.Get("X-Auth-Organization-Id") != orgID || got.Get("X-Auth-Organization-Role") != "admin" {
		t.Fatalf("organization headers: %q %q", got.Get("X-Auth-Organization-Id"), got.Get("X-Auth-Organization-Role"))
	}
	claims := verifyAssertion(t, h, got.Get("X-Auth-Assertion"))
	if claims["org_id"] != orgID || claims["role"] != "admin" {
		t.Fatalf("assertion claims: %v", claims)
	}
	if r := other.do("POST", accountURL+"/api/v1/consoles/scaleway/enter", map[string]string{"organization_id": orgID}); r.StatusCode != 404 {
		t.Fatalf("non-member enters with the organization: %d", r.StatusCode)
	}
}

func TestInvitationExpires(t *testing.T) {
	h := newHarness(t)
	h.createAccount("owner@example.com", "correct horse battery")
	h.createAccount("late@example.com", "correct horse battery")
	mailer := h.gw.mailer.(*recordingMailer)
	owner := h.browser()
	owner.login("owner@example.com", "correct horse battery")
	orgID := owner.do("POST", accountURL+"/api/v1/orgs", map[string]string{"name": "Acme"}).json(t)["id"].(string)
	owner.do("POST", accountURL+"/api/v1/orgs/"+orgID+"/invitations", map[string]string{"email": "late@example.com"})
	token := mailer.invitationToken(t, "late@example.com")
	h.clock.Advance(7*24*time.Hour + time.Minute)
	late := h.browser()
	late.login("late@example.com", "correct horse battery")
	if r := late.do("POST", accountURL+"/api/v1/invitations/"+token+"/accept", map[string]string{}); r.StatusCode != 404 {
		t.Fatalf("expired invitation: %d", r.StatusCode)
	}
	if r := late.do("POST", accountURL+"/api/v1/invitations/"+fmt.Sprint("x")+"/accept", map[string]string{}); r.StatusCode != 404 {
		t.Fatalf("unknown invitation: %d", r.StatusCode)
	}
}

// TestAccessLogLeavesOutInvitationTokens: an invitation's token is a bearer
// secret in the path; the access log writes "-" in its place, on the
// account host only.
func TestAccessLogLeavesOutInvitationTokens(t *testing.T) {
	h := newHarness(t)
	account := strings.TrimPrefix(strings.TrimPrefix(accountURL, "http://"), "https://")
	for _, tc := range []struct{ host, path, want string }{
		{account, "/invitations/s3cr3t-token", "/invitations/-"},
		{account, "/invitations/s3cr3t-token/accept", "/invitations/-/accept"},
		{account, "/api/v1/invitations/s3cr3t-token/accept", "/api/v1/invitations/-/accept"},
		{account, "/api/v1/orgs", "/api/v1/orgs"},
		{"console.example.test", "/invitations/abc", "/invitations/abc"},
	} {
		r := httptest.NewRequest(http.MethodGet, "http://"+tc.host+tc.path, nil)
		if got := h.gw.logPath(r); got != tc.want {
			t.Errorf("logPath(%s%s) = %q, want %q", tc.host, tc.path, got, tc.want)
		}
	}
}
