package access

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"unigate/session"
)

// TestStepUpEveryCombination crosses every kind of path (under a rule or
// not, public, another spelling, under a mount) with every age of the last
// proof and every method it was made with, on the decision's injected clock
// (CONTRACT §11).
func TestStepUpEveryCombination(t *testing.T) {
	console := &Console{
		ID: "dedibox", Public: mustPublic(t, "/api/", "/billing/public/"), Prefix: "/dedibox/",
		StepUp: []StepUpRule{
			{PathPrefix: "/billing/", MaxAge: 10 * time.Minute, Methods: []string{"totp", "passkey"}},
			{PathPrefix: "/keys", MaxAge: 5 * time.Minute}, // any second factor, or the password
		},
	}
	type pathCase struct {
		name    string
		path    string
		mounted bool
		rule    string // "billing", "keys", "" (no rule), "public"
	}
	paths := []pathCase{
		{"outside every rule", "/servers", false, ""},
		{"root", "/", false, ""},
		{"under billing", "/billing/invoices", false, "billing"},
		{"billing directory itself", "/billing", false, "billing"},
		{"billing, another case", "/BILLING/invoices", false, "billing"},
		{"billing with parameters", "/billing;jsessionid=1/invoices", false, "billing"},
		{"a longer name than billing", "/billingx", false, ""},
		{"keys exactly", "/keys", false, "keys"},
		{"a name starting with keys", "/keystore", false, "keys"},
		{"public path under billing never steps up", "/billing/public/tariffs", false, "public"},
		{"public api", "/api/v1/x", false, "public"},
		{"mounted billing", "/dedibox/billing/x", true, "billing"},
		{"mounted public", "/dedibox/api/x", true, "public"},
		{"mounted outside", "/dedibox/servers", true, ""},
		{"outside the mount", "/billing/x", true, "billing"},
	}
	type proofCase struct {
		name     string
		factors  []string // the login's factors
		mfa      string   // the login's MFA
		proof    []string // the last re-authentication's, or nil
		holdsMFA *bool
		accepted map[string]bool // by rule name
	}
	yes, no := true, false
	proofs := []proofCase{
		{"password and totp at login", []string{"password", "totp"}, "totp", nil, nil, map[string]bool{"billing": true, "keys": true}},
		{"passwordless passkey", []string{"passkey"}, "passkey", nil, nil, map[string]bool{"billing": true, "keys": true}},
		{"password alone, no factor held", []string{"password"}, "none", nil, nil, map[string]bool{"billing": false, "keys": true}},
		{"sso alone, no factor held", []string{"sso:google"}, "none", nil, nil, map[string]bool{"billing": false, "keys": false}},
		{"password reauth of an account holding totp", []string{"password", "totp"}, "totp", []string{"password"}, &yes, map[string]bool{"billing": false, "keys": false}},
		{"totp reauth", []string{"password", "totp"}, "totp", []string{"totp"}, &yes, map[string]bool{"billing": true, "keys": true}},
		{"passkey reauth", []string{"password", "totp"}, "totp", []string{"passkey"}, &yes, map[string]bool{"billing": true, "keys": true}},
		{"password reauth after the factors were removed", []string{"password", "totp"}, "totp", []string{"password"}, &no, map[string]bool{"billing": false, "keys": true}},
		{"remembered device", []string{"password"}, "remembered", nil, nil, map[string]bool{"billing": false, "keys": false}},
		{"recovery code", []string{"password", "recovery_code"}, "recovery_code", nil, nil, map[string]bool{"billing": false, "keys": true}},
	}
	type ageCase struct {
		name  string
		age   time.Duration // how long ago the last proof was; -1: never recorded
		fresh map[string]bool
	}
	ages := []ageCase{
		{"just now", 0, map[string]bool{"billing": true, "keys": true}},
		{"4 minutes", 4 * time.Minute, map[string]bool{"billing": true, "keys": true}},
		{"exactly 5 minutes", 5 * time.Minute, map[string]bool{"billing": true, "keys": true}},
		{"5 minutes and a second", 5*time.Minute + time.Second, map[string]bool{"billing": true, "keys": false}},
		{"10 minutes and a second", 10*time.Minute + time.Second, map[string]bool{"billing": false, "keys": false}},
		{"an hour", time.Hour, map[string]bool{"billing": false, "keys": false}},
		{"in the future", -time.Hour, map[string]bool{"billing": false, "keys": false}},
		{"unknown", -1, map[string]bool{"billing": false, "keys": false}},
	}
	for _, pc := range paths {
		for _, prc := range proofs {
			for _, ac := range ages {
				t.Run(pc.name+"/"+prc.name+"/"+ac.name, func(t *testing.T) {
					sess := completeSession()
					sess.Factors, sess.MFA, sess.Proof, sess.HoldsMFA = prc.factors, prc.mfa, prc.proof, prc.holdsMFA
					if ac.age != -1 {
						sess.AuthTime = testNow.Add(-ac.age)
					}
					fs := &fakeSessions{sess: sess}
					d := mustDecider(t, fs, &fakeEntries{})
					got := d.Decide(Request{Host: "console.online.test", Method: "GET", Path: pc.path, Console: console, Mounted: pc.mounted})
					want := Allow
					switch {
					case pc.rule == "public":
						want = Public
					case pc.rule != "" && !(prc.accepted[pc.rule] && ac.fresh[pc.rule]):
						want = StepUp
					}
					if got.Kind != want {
						t.Fatalf("kind: got %v, want %v", got.Kind, want)
					}
					if pc.rule == "public" && fs.calls != 0 {
						t.Errorf("a public path read the session %d times", fs.calls)
					}
					if got.Kind == StepUp {
						if !errors.Is(got.Err, ErrStepUpRequired) || got.Identity != nil {
							t.Errorf("step-up: err %v, identity %v; want step_up_required and no identity", got.Err, got.Identity)
						}
						if got.Path != pc.path {
							t.Errorf("path: got %q, want %q", got.Path, pc.path)
						}
					}
				})
			}
		}
	}
}

// TestStepUpAfterReauth: a session turned away is let through once its
// re-authentication is recorded, and the identity then names that proof.
func TestStepUpAfterReauth(t *testing.T) {
	console := &Console{ID: "dedibox", StepUp: []StepUpRule{{PathPrefix: "/billing/", MaxAge: 10 * time.Minute, Methods: []string{"passkey"}}}}
	sess := completeSession()
	sess.AuthTime = testNow.Add(-time.Hour)
	d := mustDecider(t, &fakeSessions{sess: sess}, &fakeEntries{})
	req := Request{Method: "GET", Path: "/billing/", Console: console}
	if got := d.Decide(req); got.Kind != StepUp {
		t.Fatalf("before: got %v, want step_up", got.Kind)
	}
	yes := true
	sess.AuthTime, sess.Proof, sess.HoldsMFA = testNow.Add(-time.Minute), []string{"passkey"}, &yes
	got := d.Decide(req)
	if got.Kind != Allow {
		t.Fatalf("after: got %v, want allow", got.Kind)
	}
	if got.Identity.AuthTime != testNow.Add(-time.Minute).Unix() {
		t.Errorf("auth time: got %d, want %d", got.Identity.AuthTime, testNow.Add(-time.Minute).Unix())
	}
	if !slices.Equal(got.Identity.AMR, []string{"hwk", "mfa"}) {
		t.Errorf("amr: got %q, want [hwk mfa]", got.Identity.AMR)
	}
}

// TestOrganizationMFARule: past the grace recorded at entry, a member
// without a second factor is refused with mfa_required_by_organization;
// before it, or with a factor, let through.
func TestOrganizationMFARule(t *testing.T) {
	yes := true
	for _, c := range []struct {
		name     string
		deadline time.Time
		mfa      string
		holds    *bool
		want     Kind
	}{
		{"no rule", time.Time{}, "none", nil, Allow},
		{"during the grace", testNow.Add(time.Second), "none", nil, Allow},
		{"at the end of the grace", testNow, "none", nil, Forbidden},
		{"after the grace", testNow.Add(-time.Hour), "none", nil, Forbidden},
		{"after the grace, signed in with totp", testNow.Add(-time.Hour), "totp", nil, Allow},
		{"after the grace, enrolled since", testNow.Add(-time.Hour), "none", &yes, Allow},
		{"after the grace, no longer a member", testNow.Add(-time.Hour), "none", nil, Allow},
	} {
		t.Run(c.name, func(t *testing.T) {
			sess := completeSession()
			sess.MFA, sess.HoldsMFA = c.mfa, c.holds
			sel := sess.Consoles["dedibox"]
			sel.MFADeadline = c.deadline
			if strings.HasSuffix(c.name, "no longer a member") {
				sel.OrganizationID, sel.OrganizationRole = "", ""
			}
			sess.Consoles["dedibox"] = sel
			d := mustDecider(t, &fakeSessions{sess: sess}, &fakeEntries{})
			got := d.Decide(Request{Method: "GET", Path: "/servers", Console: &Console{ID: "dedibox"}})
			if got.Kind != c.want {
				t.Fatalf("kind: got %v, want %v", got.Kind, c.want)
			}
			if c.want == Forbidden && !errors.Is(got.Err, ErrMFARequiredByOrganization) {
				t.Errorf("err: got %v, want mfa_required_by_organization", got.Err)
			}
		})
	}
}

func TestProofAMR(t *testing.T) {
	for _, c := range []struct {
		name string
		sess session.Session
		want []string
	}{
		{"login password and totp", session.Session{Factors: []string{"password", "totp"}, MFA: "totp"}, []string{"pwd", "otp", "mfa"}},
		{"totp reauth", session.Session{Factors: []string{"password", "totp"}, MFA: "totp", Proof: []string{"totp"}}, []string{"otp"}},
		{"password reauth", session.Session{Factors: []string{"password", "totp"}, MFA: "totp", Proof: []string{"password"}}, []string{"pwd"}},
		{"passkey reauth (user verified)", session.Session{Factors: []string{"password"}, MFA: "none", Proof: []string{"passkey"}}, []string{"hwk", "mfa"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ProofAMR(&c.sess); !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestStepUpAllocations(t *testing.T) {
	console := &Console{ID: "dedibox", StepUp: []StepUpRule{{PathPrefix: "/billing/", MaxAge: 10 * time.Minute}}}
	sess := completeSession()
	sess.AuthTime = testNow
	d := mustDecider(t, &fakeSessions{sess: sess}, &fakeEntries{})
	req := Request{Method: "GET", Path: "/Billing;x/1", Console: console}
	if n := testing.AllocsPerRun(100, func() { d.Decide(req) }); n > 1 {
		t.Errorf("Decide under a step-up rule allocates %v times, want at most 1", n)
	}
}

// FuzzStepUpCovers: the step-up match is never stricter than a plain
// prefix match, and reads another case or a segment's ";params" as the same
// path (an upstream may): a spelling that escapes it would reach a
// protected page with an old proof.
func FuzzStepUpCovers(f *testing.F) {
	for _, c := range [][2]string{
		{"/billing/invoices", "/billing/"}, {"/billing", "/billing/"}, {"/BILLING/x", "/billing/"},
		{"/billing;jsessionid=1/x", "/billing/"}, {"/billingx", "/billing/"}, {"/keys", "/keys"},
		{"/", "/billing/"}, {"/a;b", "/a;b"}, {"", "/"},
	} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, path, prefix string) {
		if prefix == "" {
			return
		}
		got := stepUpCovers(path, prefix)
		if strings.HasPrefix(path, prefix) && !got {
			t.Fatalf("%q starts with %q but is not covered", path, prefix)
		}
		if strings.HasPrefix(asciiLower(path), asciiLower(prefix)) && !strings.Contains(prefix, ";") && !strings.Contains(path, ";") && !got {
			t.Fatalf("%q is %q in another case but is not covered", path, prefix)
		}
		if i := strings.IndexByte(path, ';'); i >= 0 && !strings.Contains(prefix, ";") {
			end := strings.IndexByte(path[i:], '/')
			stripped := path[:i]
			if end >= 0 {
				stripped += path[i+end:]
			}
			if !strings.Contains(stripped, ";") && stepUpCovers(stripped, prefix) && !got {
				t.Fatalf("%q without its parameters (%q) is covered, but not with them", path, stripped)
			}
		}
	})
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerASCII(c)
	}
	return string(b)
}
