package gateway

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"unigate/session"
)

// replica starts a second gateway on the same stores as h (another replica
// of one deployment) and a browser for it that shares b's cookies.
func (h *harness) replica(t *testing.T, store session.Store, b *browser) *browser {
	t.Helper()
	gw, err := New(Deps{Config: h.cfg, Sessions: store, Accounts: h.accounts, Hasher: h.hasher, Signer: h.signer,
		Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(), Clock: h.clock.Now, Mailer: &recordingMailer{}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	other := *h
	other.gw, other.srv = gw, srv
	return &browser{h: &other, cookies: b.cookies, headers: b.headers}
}

// orgWithAdmin makes owner@ the owner of an organization and admin@ its
// admin, signed in and inside the Scaleway console with it. It returns the
// organization and the admin's account id.
func orgWithAdmin(t *testing.T, h *harness, owner, admin *browser) (orgID, adminID string) {
	t.Helper()
	h.createAccount("owner@example.com", "correct horse battery")
	a := h.createAccount("admin@example.com", "correct horse battery")
	owner.login("owner@example.com", "correct horse battery")
	admin.login("admin@example.com", "correct horse battery")
	r := owner.do("POST", accountURL+"/api/v1/orgs", map[string]string{"name": "Acme"})
	if r.StatusCode != 201 {
		t.Fatalf("create organization: %d %s", r.StatusCode, r.body)
	}
	orgID = r.json(t)["id"].(string)
	if r := owner.do("POST", accountURL+"/api/v1/orgs/"+orgID+"/invitations", map[string]string{"email": "admin@example.com", "role": "admin"}); r.StatusCode != 201 {
		t.Fatalf("invite: %d %s", r.StatusCode, r.body)
	}
	token := h.gw.mailer.(*recordingMailer).invitationToken(t, "admin@example.com")
	if r := admin.do("POST", accountURL+"/api/v1/invitations/"+token+"/accept", map[string]string{}); r.StatusCode != 204 {
		t.Fatalf("accept: %d %s", r.StatusCode, r.body)
	}
	r = admin.do("POST", accountURL+"/api/v1/consoles/scaleway/enter", map[string]string{"organization_id": orgID})
	if r.StatusCode != 200 {
		t.Fatalf("enter with the organization: %d %s", r.StatusCode, r.body)
	}
	admin.handoff(r.json(t)["redirect"].(string))
	return orgID, a.ID
}

// consoleOrg sends one console request and returns what the upstream was
// told of the organization: the headers, and the assertion's claims.
func consoleOrg(t *testing.T, h *harness, b *browser) (id, role string, claims map[string]any) {
	t.Helper()
	before := h.scaleway.count()
	if r := b.do("GET", scalewayURL+"/instances", nil, "Accept", "application/json"); r.StatusCode != 200 {
		t.Fatalf("console request: %d %s", r.StatusCode, r.body)
	}
	if h.scaleway.count() != before+1 {
		t.Fatal("the console request did not reach the upstream")
	}
	got := h.scaleway.last(t).Header
	return got.Get("X-Auth-Organization-Id"), got.Get("X-Auth-Organization-Role"), verifyAssertion(t, h, got.Get("X-Auth-Assertion"))
}

// TestMembershipChangeReachesNextRequest: a demoted admin's next console
// request carries the new role, a removed one's carries no organization at
// all, in the headers and in the assertion (issue 16, finding 1).
func TestMembershipChangeReachesNextRequest(t *testing.T) {
	h := newHarness(t)
	owner, admin := h.browser(), h.browser()
	orgID, adminID := orgWithAdmin(t, h, owner, admin)
	if id, role, claims := consoleOrg(t, h, admin); id != orgID || role != "admin" || claims["role"] != "admin" {
		t.Fatalf("before: organization %q role %q, claims %v; want %s admin", id, role, claims, orgID)
	}

	if r := owner.do("PATCH", accountURL+"/api/v1/orgs/"+orgID+"/members/"+adminID, map[string]string{"role": "member"}); r.StatusCode != 204 {
		t.Fatalf("demote: %d %s", r.StatusCode, r.body)
	}
	id, role, claims := consoleOrg(t, h, admin)
	if id != orgID || role != "member" || claims["org_id"] != orgID || claims["role"] != "member" {
		t.Errorf("after demotion: organization %q role %q, claims org_id %v role %v; want %s member", id, role, claims["org_id"], claims["role"], orgID)
	}

	if r := owner.do("DELETE", accountURL+"/api/v1/orgs/"+orgID+"/members/"+adminID, nil); r.StatusCode != 204 {
		t.Fatalf("remove: %d %s", r.StatusCode, r.body)
	}
	id, role, claims = consoleOrg(t, h, admin)
	_, hasOrg := claims["org_id"]
	_, hasRole := claims["role"]
	if id != "" || role != "" || hasOrg || hasRole {
		t.Errorf("after removal: organization %q role %q, claims %v; want no organization", id, role, claims)
	}
	// The selection itself is gone: a later save of the session cannot bring it back.
	admin.do("GET", accountURL+"/api/v1/session", nil)
	if _, role, _ := consoleOrg(t, h, admin); role != "" {
		t.Errorf("after another request: role %q, want none", role)
	}
}

// TestStaleRoleNotWrittenBack: a save of the member's session from a copy
// read before the change (a request in flight) does not bring the old
// role back.
func TestStaleRoleNotWrittenBack(t *testing.T) {
	h := newHarness(t)
	owner, admin := h.browser(), h.browser()
	orgID, adminID := orgWithAdmin(t, h, owner, admin)
	ctx := context.Background()
	list, err := h.sessions.ListAccount(ctx, adminID)
	if err != nil || len(list) != 1 {
		t.Fatalf("sessions of the admin: %v %v", list, err)
	}
	inFlight := list[0] // read before the removal
	if r := owner.do("DELETE", accountURL+"/api/v1/orgs/"+orgID+"/members/"+adminID, nil); r.StatusCode != 204 {
		t.Fatalf("remove: %d %s", r.StatusCode, r.body)
	}
	if inFlight.Consoles["scaleway"].OrganizationRole != "admin" {
		t.Fatalf("the in-flight copy should still hold the old role: %+v", inFlight.Consoles)
	}
	if err := h.gw.saveSession(ctx, inFlight); err != nil {
		t.Fatal(err)
	}
	if id, role, claims := consoleOrg(t, h, admin); id != "" || role != "" || claims["role"] != nil {
		t.Errorf("after a stale save: organization %q role %q, claims %v; want none", id, role, claims)
	}
}

// TestMembershipChangeReachesEveryReplica: two replicas with their own
// session cache on one Redis; the admin's requests go to one (its cache
// warm), the owner's removal to the other. The admin's next request on the
// first replica carries no organization.
func TestMembershipChangeReachesEveryReplica(t *testing.T) {
	u := os.Getenv("UNIGATE_TEST_REDIS_URL")
	if u == "" {
		t.Skip("UNIGATE_TEST_REDIS_URL not set")
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opt)
	t.Cleanup(func() { client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Skipf("Redis not reachable: %v", err)
	}
	prefix := "test-memberships-" + strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "") + ":"
	cached := func() *session.CachedStore {
		c := session.NewCachedStore(session.NewRedisStore(client, session.RedisOptions{KeyPrefix: prefix}), client, session.CacheOptions{MaxAge: time.Hour})
		t.Cleanup(func() { c.Close() })
		return c
	}
	h := newHarnessWithStore(t, cached())
	owner, admin := h.browser(), h.browser()
	orgID, adminID := orgWithAdmin(t, h, owner, admin)

	// The admin's console traffic goes to replica 2, whose cache holds the session.
	admin2 := h.replica(t, cached(), admin)
	time.Sleep(100 * time.Millisecond) // the cache turns on once Redis confirms its subscription
	for range 3 {
		if _, role, _ := consoleOrg(t, admin2.h, admin2); role != "admin" {
			t.Fatalf("before: role %q, want admin", role)
		}
	}
	if r := owner.do("DELETE", accountURL+"/api/v1/orgs/"+orgID+"/members/"+adminID, nil); r.StatusCode != 204 {
		t.Fatalf("remove: %d %s", r.StatusCode, r.body)
	}
	// The invalidation travels by pub/sub: give it what it takes on loopback.
	deadline := time.Now().Add(2 * time.Second)
	for {
		id, role, claims := consoleOrg(t, admin2.h, admin2)
		if id == "" && role == "" && claims["role"] == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica 2 still sends organization %q role %q (claims %v) after the removal", id, role, claims)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
