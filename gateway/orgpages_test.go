package gateway

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"unigate/session"
)

// The organization pages print only sentences of fixed tables: a crafted
// ?error= or ?notice= shows nothing (issue 11, issue 16 finding 11).
func TestOrgPagesShowOnlyKnownMessages(t *testing.T) {
	h := newHarness(t)
	h.createAccount("owner@example.com", "correct horse battery")
	b := h.browser()
	b.login("owner@example.com", "correct horse battery")
	r := b.do("POST", accountURL+"/api/v1/orgs", map[string]string{"name": "Acme"})
	orgID := r.json(t)["id"].(string)

	crafted := "Your account is suspended: call +1 555 0100"
	for _, path := range []string{
		"/orgs?error=" + url.QueryEscape(crafted),
		"/orgs/" + orgID + "?error=" + url.QueryEscape(crafted),
		"/orgs/" + orgID + "?notice=" + url.QueryEscape(crafted),
	} {
		r := b.do("GET", accountURL+path, nil)
		// (The language links repeat the query, URL-encoded: only the text counts.)
		if r.StatusCode != 200 || strings.Contains(string(r.body), "suspended: call") {
			t.Errorf("GET %s: %d, crafted text shown: %v", path, r.StatusCode, strings.Contains(string(r.body), "suspended: call"))
		}
	}
	for path, want := range map[string]string{
		"/orgs?error=invalid_name":                  "Give a name of 1 to 100 characters, without control characters.",
		"/orgs/" + orgID + "?error=last_owner":      "An organization needs at least one owner.",
		"/orgs/" + orgID + "?notice=invited":        "Invitation sent.",
		"/orgs/" + orgID + "?notice=role_changed":   "Role changed.",
		"/orgs/" + orgID + "?error=no_such_code_xy": "<h1>Acme</h1>",
	} {
		if r := b.do("GET", accountURL+path, nil); r.StatusCode != 200 || !strings.Contains(string(r.body), want) {
			t.Errorf("GET %s: %d, want %q in the page", path, r.StatusCode, want)
		}
	}

	// A form's refusal comes back as its code, shown from the table.
	r = b.do("POST", accountURL+"/orgs", url.Values{"name": {strings.Repeat("x", 101)}})
	if loc := r.Header.Get("Location"); r.StatusCode != 303 || loc != "/orgs?error=invalid_name" {
		t.Fatalf("create with a long name: %d, Location %q", r.StatusCode, loc)
	}
}

// The organization pages answer a session-store outage with 503, never with
// the login page (CONTRACT §7: fail closed and say so).
func TestOrgPagesStoreDown(t *testing.T) {
	h0 := newHarness(t)
	store := &failingStore{Store: session.NewMemoryStore(h0.clock.Now)}
	h := newHarnessWithStore(t, store)
	h.createAccount("owner@example.com", "correct horse battery")
	b := h.browser()
	b.login("owner@example.com", "correct horse battery")
	orgID := b.do("POST", accountURL+"/api/v1/orgs", map[string]string{"name": "Acme"}).json(t)["id"].(string)

	store.down.Store(true)
	for _, path := range []string{"/orgs", "/orgs/" + orgID, "/invitations/" + strings.Repeat("a", 43)} {
		if r := b.do("GET", accountURL+path, nil); r.StatusCode != 503 {
			t.Errorf("GET %s with the store down: %d, want 503", path, r.StatusCode)
		}
	}
	if r := b.do("POST", accountURL+"/orgs", url.Values{"name": {"Other"}}); r.StatusCode != 503 {
		t.Errorf("POST /orgs with the store down: %d, want 503", r.StatusCode)
	}
	store.down.Store(false)
	if r := b.do("GET", accountURL+"/orgs/"+orgID, nil); r.StatusCode != 200 {
		t.Errorf("after the store is back: %d", r.StatusCode)
	}
}

// Invitations are limited per address, per inviter and per organization
// (issue 16 finding 8): 50 invitations to one address in a second no longer
// send 50 mails.
func TestInvitationMailLimits(t *testing.T) {
	h := newHarness(t)
	h.createAccount("owner@example.com", "correct horse battery")
	b := h.browser()
	b.login("owner@example.com", "correct horse battery")
	mailer := h.gw.mailer.(*recordingMailer)

	var orgs []string
	for _, name := range []string{"Acme", "Globex"} {
		orgs = append(orgs, b.do("POST", accountURL+"/api/v1/orgs", map[string]string{"name": name}).json(t)["id"].(string))
	}
	accepted, limited := 0, 0
	for i := range 50 {
		r := b.do("POST", accountURL+"/api/v1/orgs/"+orgs[i%2]+"/invitations", map[string]string{"email": "victim@example.com"})
		switch r.StatusCode {
		case 201:
			accepted++
		case 429:
			limited++
			if r.Header.Get("Retry-After") == "" || r.json(t)["error"] != "rate_limited" {
				t.Fatalf("429 without Retry-After or code: %v %s", r.Header, r.body)
			}
		default:
			t.Fatalf("invitation %d: %d %s", i, r.StatusCode, r.body)
		}
	}
	if accepted != 5 || limited != 45 {
		t.Fatalf("to one address: %d sent, %d refused; want 5 and 45", accepted, limited)
	}
	if n := mailer.countTo("victim@example.com"); n != 5 {
		t.Fatalf("mails queued to the address: %d, want 5", n)
	}

	// One inviter: 20 an hour whatever the addresses (5 already counted).
	accepted = 0
	for i := range 30 {
		r := b.do("POST", accountURL+"/api/v1/orgs/"+orgs[0]+"/invitations", map[string]string{"email": "p" + strconv.Itoa(i) + "@example.com"})
		if r.StatusCode == 201 {
			accepted++
		}
	}
	if accepted != 15 {
		t.Fatalf("one inviter: %d more sent, want 15 (20 an hour)", accepted)
	}
	// An hour later the inviter may invite again.
	h.clock.Advance(61 * time.Minute)
	b.login("owner@example.com", "correct horse battery") // the session idled out meanwhile
	if r := b.do("POST", accountURL+"/api/v1/orgs/"+orgs[0]+"/invitations", map[string]string{"email": "later@example.com"}); r.StatusCode != 201 {
		t.Fatalf("an hour later: %d %s", r.StatusCode, r.body)
	}
}

func (m *recordingMailer) countTo(to string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, q := range m.sent {
		if q.to == to {
			n++
		}
	}
	return n
}

// The profile and an organization's name, through the API and the pages
// (CONTRACT §9b).
func TestProfileAndOrganizationName(t *testing.T) {
	h := newHarness(t)
	h.createAccount("anna@example.com", "correct horse battery")
	h.createAccount("member@example.com", "correct horse battery")
	b, m := h.browser(), h.browser()
	b.login("anna@example.com", "correct horse battery")
	m.login("member@example.com", "correct horse battery")

	r := b.do("GET", accountURL+"/api/v1/me/profile", nil)
	if got := r.json(t); r.StatusCode != 200 || got["email"] != "anna@example.com" || got["name"] != "" || got["locale"] != "en" {
		t.Fatalf("profile: %d %s", r.StatusCode, r.body)
	}
	for _, tc := range []struct {
		body   map[string]any
		status int
		code   string
	}{
		{map[string]any{"name": "  Anna Karénine "}, 204, ""},
		{map[string]any{"locale": "fr"}, 204, ""},
		{map[string]any{"name": ""}, 400, "invalid_name"},
		{map[string]any{"name": strings.Repeat("é", 101)}, 400, "invalid_name"},
		{map[string]any{"name": "bell\a"}, 400, "invalid_name"},
		{map[string]any{"locale": "de"}, 400, "invalid_locale"},
		{map[string]any{"name": "Not stored", "locale": "xx"}, 400, "invalid_locale"},
	} {
		r := b.do("PATCH", accountURL+"/api/v1/me/profile", tc.body)
		if r.StatusCode != tc.status || (tc.code != "" && r.json(t)["error"] != tc.code) {
			t.Errorf("PATCH %v: %d %s, want %d %s", tc.body, r.StatusCode, r.body, tc.status, tc.code)
		}
	}
	r = b.do("GET", accountURL+"/api/v1/me/profile", nil)
	if got := r.json(t); got["name"] != "Anna Karénine" || got["locale"] != "fr" {
		t.Fatalf("profile after the changes: %s", r.body)
	}
	if r := h.browser().do("GET", accountURL+"/api/v1/me/profile", nil); r.StatusCode != 401 {
		t.Fatalf("profile without a session: %d", r.StatusCode)
	}
	// The settings page shows the name and saves it.
	if r := b.do("GET", accountURL+"/settings", nil); !strings.Contains(string(r.body), `value="Anna Karénine"`) {
		t.Fatalf("settings page lacks the name: %s", r.body)
	}
	if r := b.do("POST", accountURL+"/settings/profile", url.Values{"name": {"Anna K."}}); r.StatusCode != 303 || r.Header.Get("Location") != "/settings?notice=profile" {
		t.Fatalf("name form: %d %v", r.StatusCode, r.Header)
	}
	if r := b.do("GET", accountURL+"/api/v1/me/profile", nil); r.json(t)["name"] != "Anna K." {
		t.Fatalf("after the form: %s", r.body)
	}

	// An organization renamed by its owner; a member may not.
	orgID := b.do("POST", accountURL+"/api/v1/orgs", map[string]string{"name": "Acme"}).json(t)["id"].(string)
	ctx := context.Background()
	memberID := m.do("GET", accountURL+"/api/v1/session", nil).json(t)["user"].(map[string]any)["id"].(string)
	if err := h.accounts.AddMembership(ctx, orgID, memberID, "member", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if r := b.do("PATCH", accountURL+"/api/v1/orgs/"+orgID, map[string]string{"name": "Acme Corporation"}); r.StatusCode != 204 {
		t.Fatalf("rename: %d %s", r.StatusCode, r.body)
	}
	if r := m.do("PATCH", accountURL+"/api/v1/orgs/"+orgID, map[string]string{"name": "Mine now"}); r.StatusCode != 403 || r.json(t)["error"] != "forbidden" {
		t.Fatalf("rename by a member: %d %s", r.StatusCode, r.body)
	}
	if r := h.browser().do("PATCH", accountURL+"/api/v1/orgs/"+orgID, map[string]string{"name": "x"}); r.StatusCode != 401 {
		t.Fatalf("rename without a session: %d", r.StatusCode)
	}
	if r := b.do("PATCH", accountURL+"/api/v1/orgs/"+orgID, map[string]string{"name": " "}); r.StatusCode != 400 {
		t.Fatalf("blank name: %d", r.StatusCode)
	}
	if r := m.do("GET", accountURL+"/api/v1/orgs", nil); !strings.Contains(string(r.body), "Acme Corporation") {
		t.Fatalf("the member sees: %s", r.body)
	}
	r = b.do("POST", accountURL+"/orgs/"+orgID+"/name", url.Values{"name": {"Acme SA"}})
	if r.StatusCode != 303 || !strings.HasSuffix(r.Header.Get("Location"), "?notice=renamed") {
		t.Fatalf("rename form: %d %v", r.StatusCode, r.Header)
	}
	if r := b.do("GET", accountURL+"/orgs/"+orgID, nil); !strings.Contains(string(r.body), "<h1>Acme SA</h1>") {
		t.Fatalf("org page after the rename: %s", r.body)
	}
}
