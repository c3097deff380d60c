package gateway

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestOrganizationMFARule: an owner requires a second factor of the
// members with a grace; before the rule and during the grace a member
// without one enters with the organization (the chooser says how long is
// left), after it entering with the organization answers 403
// mfa_required_by_organization, and a request inside the console is turned
// away the same way, until the member enrolls (CONTRACT §11).
func TestOrganizationMFARule(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.createAccount("alice@example.com", "correct horse battery")
	bob := h.createAccount("bob@example.com", "correct horse battery")
	carol := h.createAccount("carol@example.com", "correct horse battery")
	dave := h.createAccount("dave@example.com", "correct horse battery")
	owner := h.browser()
	owner.login("alice@example.com", "correct horse battery")
	orgID := owner.do("POST", accountURL+"/api/v1/orgs", map[string]string{"name": "Acme"}).json(t)["id"].(string)
	if err := h.accounts.AddMembership(ctx, orgID, bob.ID, "member", h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := h.accounts.AddMembership(ctx, orgID, carol.ID, "admin", h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	signIn := func(email string) *browser {
		t.Helper()
		b := h.browser()
		b.login(email, "correct horse battery")
		return b
	}
	enter := func(b *browser, org string) *response {
		t.Helper()
		return b.do("POST", accountURL+"/api/v1/consoles/dedibox/enter", map[string]string{"organization_id": org})
	}
	wantEntered := func(b *browser, when string) {
		t.Helper()
		r := enter(b, orgID)
		if r.StatusCode != 200 {
			t.Fatalf("%s: enter with the organization: %d %s", when, r.StatusCode, r.body)
		}
		if r := b.handoff(r.json(t)["redirect"].(string)); r.StatusCode != 302 {
			t.Fatalf("%s: handoff: %d %s", when, r.StatusCode, r.body)
		}
		if r := b.do("GET", dediboxURL+"/servers", nil); r.StatusCode != 200 || h.dedibox.last(t).Header.Get("X-Auth-Organization-Id") != orgID {
			t.Fatalf("%s: console: %d %s", when, r.StatusCode, r.body)
		}
	}
	chooser := func(b *browser) string {
		t.Helper()
		return string(b.do("GET", accountURL+"/consoles", nil).body)
	}

	// Before the rule.
	m := signIn("bob@example.com")
	wantEntered(m, "before the rule")
	if r := m.do("GET", accountURL+"/api/v1/orgs", nil); !strings.Contains(string(r.body), `"require_mfa":false`) {
		t.Errorf("GET /orgs before the rule: %s", r.body)
	}

	// Only owners set the rule, with a grace of 0 to 30 days.
	patch := func(b *browser, body map[string]any) *response {
		t.Helper()
		return b.do("PATCH", accountURL+"/api/v1/orgs/"+orgID, body)
	}
	for _, c := range []struct {
		who    *browser
		body   map[string]any
		status int
		code   string
	}{
		{m, map[string]any{"require_mfa": true, "grace_days": 7}, 403, "forbidden"},
		{signIn("carol@example.com"), map[string]any{"require_mfa": true, "grace_days": 7}, 403, "forbidden"},
		{owner, map[string]any{"require_mfa": true, "grace_days": 31}, 400, "invalid_grace_days"},
		{owner, map[string]any{"require_mfa": true, "grace_days": -1}, 400, "invalid_grace_days"},
		{owner, map[string]any{"grace_days": 3}, 400, "invalid_grace_days"},
	} {
		if r := patch(c.who, c.body); r.StatusCode != c.status || r.json(t)["error"] != c.code {
			t.Errorf("PATCH %v: %d %s, want %d %s", c.body, r.StatusCode, r.body, c.status, c.code)
		}
	}
	ruleAt := h.clock.Now()
	if r := patch(owner, map[string]any{"require_mfa": true, "grace_days": 7}); r.StatusCode != 204 {
		t.Fatalf("owner PATCH: %d %s", r.StatusCode, r.body)
	}
	if r := m.do("GET", accountURL+"/api/v1/orgs", nil); !strings.Contains(string(r.body), `"require_mfa":true`) {
		t.Errorf("GET /orgs after the rule: %s", r.body)
	}

	// During the grace.
	if page := chooser(m); !strings.Contains(page, "Acme requires a second factor. Days left to set one up: 7.") {
		t.Errorf("chooser during the grace:\n%s", page)
	}
	wantEntered(m, "at the start of the grace")
	h.clock.Advance(7*24*time.Hour - 10*time.Minute)
	if err := h.accounts.AddMembership(ctx, orgID, dave.ID, "member", ruleAt.Add(5*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	m = signIn("bob@example.com")
	if page := chooser(m); !strings.Contains(page, "Days left to set one up: 1.") {
		t.Errorf("chooser on the last day:\n%s", page)
	}
	wantEntered(m, "ten minutes before the end of the grace")

	// After the grace: the request inside the console, then a new entry.
	h.clock.Advance(10*time.Minute + time.Second)
	if r := m.do("GET", dediboxURL+"/servers", nil, "Accept", "application/json"); r.StatusCode != 403 || r.json(t)["error"] != "mfa_required_by_organization" {
		t.Errorf("console request after the grace: %d %s", r.StatusCode, r.body)
	}
	if r := enter(m, orgID); r.StatusCode != 403 || r.json(t)["error"] != "mfa_required_by_organization" {
		t.Errorf("entry after the grace: %d %s", r.StatusCode, r.body)
	}
	if page := chooser(m); !strings.Contains(page, "Acme requires a second factor: set one up to enter a console with it.") {
		t.Errorf("chooser after the grace:\n%s", page)
	}
	// Without the organization, and for a member who joined later (whose
	// grace runs from the joining), the console still opens.
	if r := enter(m, ""); r.StatusCode != 200 {
		t.Errorf("entry without the organization: %d %s", r.StatusCode, r.body)
	}
	wantEntered(signIn("dave@example.com"), "a member who joined five days after the rule")

	// Once the member enrolls, the organization opens again.
	if r := m.do("POST", accountURL+"/api/v1/me/reauth", map[string]string{"password": "correct horse battery"}); r.StatusCode != 204 {
		t.Fatalf("reauth: %d %s", r.StatusCode, r.body)
	}
	m.enrollTOTP()
	wantEntered(m, "after enrolling")
	if page := chooser(m); strings.Contains(page, "requires a second factor") {
		t.Errorf("chooser after enrolling still warns:\n%s", page)
	}

	// Off again: no rule.
	if r := patch(signIn("alice@example.com"), map[string]any{"require_mfa": false}); r.StatusCode != 204 {
		t.Errorf("rule off: %d %s", r.StatusCode, r.body)
	}
}

// TestOrganizationMFARuleForm: the owner turns the rule on from the
// organization's page; an admin gets no form and is refused.
func TestOrganizationMFARuleForm(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	carol := h.createAccount("carol@example.com", "correct horse battery")
	owner := h.browser()
	owner.login("alice@example.com", "correct horse battery")
	orgID := owner.do("POST", accountURL+"/api/v1/orgs", map[string]string{"name": "Acme"}).json(t)["id"].(string)
	if err := h.accounts.AddMembership(context.Background(), orgID, carol.ID, "admin", h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	page := string(owner.do("GET", accountURL+"/orgs/"+orgID, nil).body)
	if !strings.Contains(page, `action="/orgs/`+orgID+`/mfa"`) || !strings.Contains(page, "without a second factor") {
		t.Fatalf("owner's page has no rule form:\n%s", page)
	}
	r := owner.do("POST", accountURL+"/orgs/"+orgID+"/mfa", "require_mfa=1&grace_days=14")
	if r.StatusCode != 303 || r.Header.Get("Location") != "/orgs/"+orgID+"?notice=mfa_rule" {
		t.Fatalf("form: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	page = string(owner.do("GET", accountURL+r.Header.Get("Location"), nil).body)
	if !strings.Contains(page, "The sign-in rule was saved.") || !strings.Contains(page, `value="14"`) || !strings.Contains(page, "checked") {
		t.Errorf("page after the form:\n%s", page)
	}
	admin := h.browser()
	admin.login("carol@example.com", "correct horse battery")
	if page := string(admin.do("GET", accountURL+"/orgs/"+orgID, nil).body); strings.Contains(page, `/mfa"`) {
		t.Error("an admin is offered the rule form")
	}
	r = admin.do("POST", accountURL+"/orgs/"+orgID+"/mfa", "grace_days=0")
	if r.StatusCode != 303 || r.Header.Get("Location") != "/orgs/"+orgID+"?error=forbidden" {
		t.Errorf("admin's form: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	// A refused request changes nothing: not even the name it also sent.
	r = admin.do("PATCH", accountURL+"/api/v1/orgs/"+orgID, map[string]any{"name": "Renamed", "require_mfa": false})
	if r.StatusCode != 403 {
		t.Errorf("admin's PATCH with a rule: %d %s", r.StatusCode, r.body)
	}
	if r := admin.do("GET", accountURL+"/api/v1/orgs", nil); strings.Contains(string(r.body), "Renamed") || !strings.Contains(string(r.body), `"require_mfa":true`) {
		t.Errorf("after a refused PATCH: %s", r.body)
	}
}

// TestOrganizationMFARuleReachesSessionsInside: a rule set while a member
// is inside a console reaches that session at once (its sessions are
// rewritten, as for a role change): with no grace, the next request is
// refused; the rule turned off lets it through again.
func TestOrganizationMFARuleReachesSessionsInside(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	bob := h.createAccount("bob@example.com", "correct horse battery")
	owner := h.browser()
	owner.login("alice@example.com", "correct horse battery")
	orgID := owner.do("POST", accountURL+"/api/v1/orgs", map[string]string{"name": "Acme"}).json(t)["id"].(string)
	if err := h.accounts.AddMembership(context.Background(), orgID, bob.ID, "member", h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	m := h.browser()
	m.login("bob@example.com", "correct horse battery")
	r := m.do("POST", accountURL+"/api/v1/consoles/dedibox/enter", map[string]string{"organization_id": orgID})
	if r.StatusCode != 200 || m.handoff(r.json(t)["redirect"].(string)).StatusCode != 302 {
		t.Fatalf("enter: %d %s", r.StatusCode, r.body)
	}
	get := func() *response { return m.do("GET", dediboxURL+"/servers", nil, "Accept", "application/json") }
	if r := get(); r.StatusCode != 200 {
		t.Fatalf("before the rule: %d", r.StatusCode)
	}
	if r := owner.do("PATCH", accountURL+"/api/v1/orgs/"+orgID, map[string]any{"require_mfa": true, "grace_days": 0}); r.StatusCode != 204 {
		t.Fatalf("rule on: %d %s", r.StatusCode, r.body)
	}
	before := h.dedibox.count()
	if r := get(); r.StatusCode != 403 || r.json(t)["error"] != "mfa_required_by_organization" {
		t.Errorf("inside the console once the rule is on: %d %s", r.StatusCode, r.body)
	}
	if h.dedibox.count() != before {
		t.Error("the refused request reached the console")
	}
	if r := owner.do("PATCH", accountURL+"/api/v1/orgs/"+orgID, map[string]any{"require_mfa": false}); r.StatusCode != 204 {
		t.Fatalf("rule off: %d %s", r.StatusCode, r.body)
	}
	if r := get(); r.StatusCode != 200 {
		t.Errorf("once the rule is off: %d %s", r.StatusCode, r.body)
	}
}
