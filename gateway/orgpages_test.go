package gateway

import (
	"net/url"
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
		"/orgs?error=invalid_name":                  "Give the organization a name of at most 100 characters.",
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
		r := b.do("POST", accountURL+"/api/v1/orgs/"+orgs[0]+"/invitations", map[string]string{"email": "p" + itoa(i) + "@example.com"})
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
