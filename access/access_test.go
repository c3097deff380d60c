package access

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"unigate/session"
	"unigate/upstreams"
)

var testNow = time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)

// fakeSessions answers one fixed session (or error), and counts its calls.
type fakeSessions struct {
	sess  *session.Session
	err   error
	calls int
	host  string
}

func (f *fakeSessions) RequestSession(r *http.Request, host string) (*session.Session, error) {
	f.calls++
	f.host = host
	return f.sess, f.err
}

// fakeEntries answers a first entry with sel or err.
type fakeEntries struct {
	sel   session.ConsoleSelection
	err   error
	calls int
}

func (f *fakeEntries) FirstEntry(r *http.Request, sess *session.Session, console string) (session.ConsoleSelection, error) {
	f.calls++
	return f.sel, f.err
}

// codedErr stands for an edge error with a contract code.
type codedErr string

func (e codedErr) Error() string     { return string(e) }
func (e codedErr) ErrorCode() string { return string(e) }

func mustPublic(t *testing.T, prefixes ...string) upstreams.PublicPaths {
	t.Helper()
	pp, err := upstreams.NewPublicPaths(prefixes)
	if err != nil {
		t.Fatal(err)
	}
	return pp
}

func mustDecider(t *testing.T, s Sessions, e Entries) *Decider {
	t.Helper()
	d, err := New(Config{Sessions: s, Entries: e, SessionIDKey: []byte(strings.Repeat("k", 32)), Clock: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func completeSession() *session.Session {
	return &session.Session{
		Handle: "handle-1", AccountID: "acct-1", Email: "a@example.com", Next: session.StepDone,
		Factors: []string{"password", "totp"}, MFA: "totp", ExpiresAt: testNow.Add(time.Hour),
		Consoles: map[string]session.ConsoleSelection{"dedibox": {AccountID: "ded-1", OrganizationID: "org-1", OrganizationRole: "admin", Prelinked: true}},
	}
}

// TestDecideEveryCombination crosses every kind of path with every kind of
// session: the path is decided first (a non-canonical spelling never reads
// the session), public paths never read it either (a store outage does not
// stop them), and only a complete, unexpired session is let through.
func TestDecideEveryCombination(t *testing.T) {
	type pathCase struct {
		name, method, path string
		mounted            bool
		kind               Kind   // the decision whatever the session, or 0: decided by the session
		want               string // Decision.Path
	}
	paths := []pathCase{
		{"private", "GET", "/servers", false, 0, "/servers"},
		{"private root", "GET", "/", false, 0, "/"},
		{"public", "GET", "/api/v1/servers", false, Public, "/api/v1/servers"},
		{"public exact prefix", "POST", "/api/", false, Public, "/api/"},
		{"public prefix without slash is private", "GET", "/api", false, 0, "/api"},
		{"dot segments, GET", "GET", "/api/../admin", false, Redirect, "/admin"},
		{"dot segments to a public path, GET", "GET", "/x/../api/v1", false, Redirect, "/api/v1"},
		{"double slash, HEAD", "HEAD", "//admin", false, Redirect, "/admin"},
		{"encoded dots, GET", "GET", "/api/%2e%2e/admin", false, Redirect, "/admin"},
		{"dot segments, POST", "POST", "/api/../admin", false, BadPath, ""},
		{"encoded slash", "GET", "/api%2fx", false, BadPath, ""},
		{"backslash", "GET", "/api\\..\\admin", false, BadPath, ""},
		{"dot-dot with parameters", "GET", "/api/..;/admin", false, BadPath, ""},
		{"not absolute", "GET", "api/x", false, BadPath, ""},
		{"mounted private", "GET", "/dedibox/servers", true, 0, "/dedibox/servers"},
		{"mounted public", "GET", "/dedibox/api/x", true, Public, "/dedibox/api/x"},
		{"mounted root", "GET", "/dedibox/", true, 0, "/dedibox/"},
		{"public path of the account host is not the mount's", "GET", "/api/x", true, 0, "/api/x"},
	}
	preAuth := completeSession()
	preAuth.Next = session.StepMFA
	expired := completeSession()
	expired.ExpiresAt = testNow
	noAccount := completeSession()
	noAccount.AccountID = ""
	fresh := completeSession()
	fresh.Consoles = nil
	type sessionCase struct {
		name     string
		sess     *session.Session
		err      error
		entrySel session.ConsoleSelection
		entryErr error
		kind     Kind
		entered  bool // FirstEntry is asked
	}
	storeDown := fmt.Errorf("redis: %w", session.ErrUnavailable)
	sessions := []sessionCase{
		{name: "no session", kind: Login},
		{name: "pre-auth session", sess: preAuth, kind: Login},
		{name: "complete without account id", sess: noAccount, kind: Login},
		{name: "past its absolute expiry", sess: expired, kind: Login},
		{name: "store down", err: storeDown, kind: Unavailable},
		{name: "complete", sess: completeSession(), kind: Allow},
		{name: "first entry, one account", sess: fresh, entrySel: session.ConsoleSelection{AccountID: "ded-9"}, kind: Allow, entered: true},
		{name: "first entry, a choice", sess: fresh, entryErr: fmt.Errorf("%w: %w", ErrChooseAccount, codedErr("account_required")), kind: ChooseAccount, entered: true},
		{name: "first entry, revoked meanwhile", sess: fresh, entryErr: ErrSessionEnded, kind: Login, entered: true},
		{name: "first entry, store down", sess: fresh, entryErr: storeDown, kind: Unavailable, entered: true},
		{name: "first entry, store down (edge error)", sess: fresh, entryErr: codedErr("unavailable"), kind: Unavailable, entered: true},
		{name: "first entry, provisioning", sess: fresh, entryErr: codedErr("provisioning_pending"), kind: Forbidden, entered: true},
		{name: "first entry, account store fails", sess: fresh, entryErr: errors.New("sql: database is closed"), kind: Failed, entered: true},
	}
	console := &Console{ID: "dedibox", Public: mustPublic(t, "/api/"), Prefix: "/dedibox/"}
	for _, pc := range paths {
		for _, sc := range sessions {
			t.Run(pc.name+"/"+sc.name, func(t *testing.T) {
				var sess *session.Session
				if sc.sess != nil {
					cp := *sc.sess
					sess = &cp
				}
				fs := &fakeSessions{sess: sess, err: sc.err}
				fe := &fakeEntries{sel: sc.entrySel, err: sc.entryErr}
				d := mustDecider(t, fs, fe)
				got := d.Decide(Request{Host: "console.online.test", Method: pc.method, Path: pc.path, Console: console, Mounted: pc.mounted})
				want := pc.kind
				if want == 0 {
					want = sc.kind
				}
				if got.Kind != want {
					t.Fatalf("kind: got %v, want %v (err %v)", got.Kind, want, got.Err)
				}
				if got.Path != pc.want {
					t.Errorf("path: got %q, want %q", got.Path, pc.want)
				}
				if readsSession := pc.kind == 0; (fs.calls > 0) != readsSession {
					t.Errorf("session read %d times, want reads: %v", fs.calls, readsSession)
				}
				if fs.calls > 0 && fs.host != "console.online.test" {
					t.Errorf("session looked up for host %q, want the classified one", fs.host)
				}
				if wantEntry := pc.kind == 0 && sc.entered; (fe.calls > 0) != wantEntry {
					t.Errorf("first entry asked %d times, want asked: %v", fe.calls, wantEntry)
				}
				if (got.Identity != nil) != (got.Kind == Allow) {
					t.Errorf("identity %v with kind %v", got.Identity, got.Kind)
				}
				switch got.Kind {
				case Public, Allow, Redirect, Login:
					if got.Err != nil {
						t.Errorf("err %v with kind %v", got.Err, got.Kind)
					}
				default:
					var coded interface{ ErrorCode() string }
					if got.Kind != Failed && !errors.As(got.Err, &coded) {
						t.Errorf("kind %v: err %v has no contract code", got.Kind, got.Err)
					}
					if got.Kind == Failed && got.Err == nil {
						t.Error("failed without an error")
					}
				}
				if got.Kind == BadPath && !errors.Is(got.Err, ErrInvalidPath) {
					t.Errorf("bad path err: got %v, want invalid_path", got.Err)
				}
			})
		}
	}
}

// TestIdentity: what the upstream is told comes from the session and the
// console's selection (CONTRACT §6).
func TestIdentity(t *testing.T) {
	d := mustDecider(t, &fakeSessions{sess: completeSession()}, &fakeEntries{})
	got := d.Decide(Request{Method: "GET", Path: "/x", Console: &Console{ID: "dedibox"}})
	id := got.Identity
	if id == nil {
		t.Fatalf("kind %v, want allow", got.Kind)
	}
	want := upstreams.Identity{UserID: "acct-1", Email: "a@example.com", Console: "dedibox", ConsoleAccountID: "ded-1",
		OrganizationID: "org-1", OrganizationRole: "admin", MFA: "totp", Prelinked: true,
		SessionID: d.SessionID("handle-1"), AMR: []string{"pwd", "otp", "mfa"}}
	if fmt.Sprint(*id) != fmt.Sprint(want) {
		t.Errorf("identity:\n got %+v\nwant %+v", *id, want)
	}
	if err := id.Validate(); err != nil {
		t.Errorf("identity does not validate: %v", err)
	}
}

// TestSessionIDIsKeyedHash: the id sent upstream is not the store key, is
// stable for a session, differs between sessions and between keys (issue
// 16, finding 14).
func TestSessionIDIsKeyedHash(t *testing.T) {
	a := mustDecider(t, &fakeSessions{}, &fakeEntries{})
	other, err := New(Config{Sessions: &fakeSessions{}, Entries: &fakeEntries{}, SessionIDKey: []byte(strings.Repeat("j", 32))})
	if err != nil {
		t.Fatal(err)
	}
	handle := session.HandleOf("token-1")
	got := a.SessionID(handle)
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"not the handle", got != handle && !strings.Contains(handle, got)},
		{"128 bits in hex", len(got) == 32 && strings.Trim(got, "0123456789abcdef") == ""},
		{"stable", a.SessionID(handle) == got},
		{"per session", a.SessionID(session.HandleOf("token-2")) != got},
		{"per key", other.SessionID(handle) != got},
		{"none for no handle", a.SessionID("") == ""},
		{"the same when computed again", a.sid.compute(handle) == got},
	} {
		if !c.ok {
			t.Errorf("%s: session id %q for handle %q", c.name, got, handle)
		}
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	for name, cfg := range map[string]Config{
		"no sessions": {Entries: &fakeEntries{}, SessionIDKey: key},
		"no entries":  {Sessions: &fakeSessions{}, SessionIDKey: key},
		"short key":   {Sessions: &fakeSessions{}, Entries: &fakeEntries{}, SessionIDKey: key[:16]},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

// TestAMR: amr says what was proven, and "mfa" only for a second factor of
// the account (issue 16, finding 2).
func TestAMR(t *testing.T) {
	for _, c := range []struct {
		name    string
		factors []string
		mfa     string
		want    []string
	}{
		{"password only", []string{"password"}, "none", []string{"pwd"}},
		{"password and TOTP", []string{"password", "totp"}, "totp", []string{"pwd", "otp", "mfa"}},
		{"sign-up: the email check is no factor", []string{"password", "email_code"}, "none", []string{"pwd"}},
		{"sign-up, MFA unset", []string{"password", "email_code"}, "", []string{"pwd"}},
		{"email-code sign-in", []string{"email_code"}, "none", []string{"otp"}},
		{"email-code sign-in, then TOTP", []string{"email_code", "totp"}, "totp", []string{"otp", "mfa"}},
		{"two first factors are not MFA", []string{"sso:google", "password"}, "none", []string{"pwd", "fed"}},
		{"SSO and passkey", []string{"sso:github", "passkey"}, "passkey", []string{"hwk", "fed", "mfa"}},
		{"passkey", []string{"passkey"}, "passkey", []string{"hwk", "mfa"}},
		{"recovery code", []string{"password", "recovery_code"}, "recovery_code", []string{"pwd", "otp", "mfa"}},
		{"remembered device is not a proof", []string{"password"}, "remembered", []string{"pwd"}},
		{"repeated factor", []string{"password", "password"}, "none", []string{"pwd"}},
		{"unknown factor", []string{"smoke_signal"}, "none", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := AMR(c.factors, c.mfa); !slices.Equal(got, c.want) {
				t.Errorf("AMR(%q, %q): got %q, want %q", c.factors, c.mfa, got, c.want)
			}
		})
	}
}

func TestDecideAllocations(t *testing.T) {
	d := mustDecider(t, &fakeSessions{sess: completeSession()}, &fakeEntries{})
	req := Request{Method: "GET", Path: "/servers/1", Console: &Console{ID: "dedibox"}}
	// The identity: nothing else per request of a known session.
	if n := testing.AllocsPerRun(100, func() { d.Decide(req) }); n > 1 {
		t.Errorf("Decide allocates %v times per request, want at most 1", n)
	}
}

// FuzzDecide: whatever the path and method, nothing is forwarded (Public,
// Allow) but on the exact canonical form of the path that was asked, a
// redirect only answers GET or HEAD and names a canonical path, and a path
// that is not its own canonical form never reaches the session.
func FuzzDecide(f *testing.F) {
	for _, p := range []string{"/servers", "/api/v1", "/api/../admin", "//admin", "/api/%2e%2e/admin", "/api%2fx", "/api\\x",
		"/api/..;/admin", "/dedibox/api/x", "/api/%252e%252e/admin", "/api/..%20/admin", "/api/...", "/a%00b", "/é"} {
		for _, m := range []string{"GET", "POST", "HEAD"} {
			f.Add(m, p, false)
			f.Add(m, p, true)
		}
	}
	f.Fuzz(func(t *testing.T, method, path string, mounted bool) {
		fs := &fakeSessions{sess: completeSession()}
		d := mustDecider(t, fs, &fakeEntries{})
		console := &Console{ID: "dedibox", Public: mustPublic(t, "/api/"), Prefix: "/dedibox/"}
		got := d.Decide(Request{Method: method, Path: path, Console: console, Mounted: mounted})
		canonical, err := upstreams.CanonicalPath(path)
		switch got.Kind {
		case Public, Allow:
			if err != nil || canonical != path || got.Path != path {
				t.Errorf("%s %q forwarded as %q (canonical %q, %v)", method, path, got.Path, canonical, err)
			}
		case Redirect:
			if method != "GET" && method != "HEAD" {
				t.Errorf("%s %q redirected", method, path)
			}
			if c, err := upstreams.CanonicalPath(got.Path); err != nil || c != got.Path || got.Path == path {
				t.Errorf("%q redirected to %q, not canonical", path, got.Path)
			}
		case BadPath:
		default:
			t.Errorf("%s %q: kind %v with a complete session", method, path, got.Kind)
		}
		if fs.calls > 0 && (err != nil || canonical != path) {
			t.Errorf("%q: session read for a non-canonical path", path)
		}
	})
}

// BenchmarkDecide is the decision's share of a proxied request.
func BenchmarkDecide(b *testing.B) {
	d, err := New(Config{Sessions: &fakeSessions{sess: completeSession()}, Entries: &fakeEntries{}, SessionIDKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		b.Fatal(err)
	}
	req := Request{Method: "GET", Path: "/servers/1", Console: &Console{ID: "dedibox", Public: upstreams.PublicPaths{}}}
	b.ReportAllocs()
	for b.Loop() {
		d.Decide(req)
	}
}

// TestSessionIDTable: with more sessions than the table has slots, every
// id is still the one computed for its own handle.
func TestSessionIDTable(t *testing.T) {
	d := mustDecider(t, &fakeSessions{}, &fakeEntries{})
	handles := make([]string, 2*sessionIDSlots)
	for i := range handles {
		handles[i] = session.HandleOf(fmt.Sprint("token-", i))
	}
	for pass := range 2 {
		for _, h := range handles {
			if got, want := d.SessionID(h), d.sid.compute(h); got != want {
				t.Fatalf("pass %d: SessionID(%s) = %s, want %s", pass, h, got, want)
			}
		}
	}
}
