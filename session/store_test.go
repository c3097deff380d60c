package session

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// storeEnv is one store under test with its clock: now is the clock the
// store reads, advance moves it (the memory store's fake clock, or a real
// sleep for Redis, whose TTLs run on Redis's own clock).
type storeEnv struct {
	Store
	now     func() time.Time
	advance func(time.Duration)
}

// Durations of the suite, short enough for real Redis TTLs (the whole suite
// runs its subtests in parallel and stays within a few seconds).
const (
	suiteIdle   = time.Second             // idle timeout of the time-based tests
	suiteStep   = 700 * time.Millisecond  // less than suiteIdle
	suitePast   = 1300 * time.Millisecond // more than suiteIdle
	suiteLong   = time.Hour               // idle timeout of the other tests
	suiteWindow = 10 * time.Second        // counter window of the non-expiry tests
)

// runStoreSuite is the one conformance suite every Store passes (STYLE.md).
// newStore must return a fresh, empty store for each call.
func runStoreSuite(t *testing.T, newStore func(t *testing.T) storeEnv) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e storeEnv)
	}{
		{"CreateGet", testCreateGet},
		{"CreateRejects", testCreateRejects},
		{"TokensUnique256Bit", testTokensUnique},
		{"Save", testSave},
		{"SaveAfterDeleteRevocationWins", testSaveAfterDelete},
		{"SaveIndexesLoginThatGetsAccount", testSaveIndexes},
		{"IdleExpiry", testIdleExpiry},
		{"GetRefreshesIdle", testGetRefreshesIdle},
		{"AbsoluteExpiry", testAbsoluteExpiry},
		{"Rotate", testRotate},
		{"RotateAfterDelete", testRotateAfterDelete},
		{"ListAccount", testListAccount},
		{"ListAccountPrunesExpired", testListAccountPrunes},
		{"DeleteAccount", testDeleteAccount},
		{"HandoffSingleUse", testHandoffSingleUse},
		{"HandoffParallelTake", testHandoffParallelTake},
		{"HandoffExpiry", testHandoffExpiry},
		{"CountersExactUnderParallelHits", testCountersParallel},
		{"CounterWindow", testCounterWindow},
		{"UnhitNeverBelowZero", testUnhit},
		{"PeekResetIndependent", testPeekReset},
		{"CanceledContextIsUnavailable", testCanceledContext},
		{"Ping", func(t *testing.T, e storeEnv) {
			if err := e.Ping(t.Context()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// fakeClock is the injected clock of the memory store tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 11, 3, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newMemoryEnv(t *testing.T) storeEnv {
	clock := newFakeClock()
	return storeEnv{Store: NewMemoryStore(clock.Now), now: clock.Now, advance: clock.Advance}
}

func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	runStoreSuite(t, newMemoryEnv)
}

// newTestSession is a complete session of account, valid for an hour.
func newTestSession(now time.Time, account string) *Session {
	return &Session{
		AccountID: account,
		Email:     account + "@example.test",
		Next:      StepDone,
		Factors:   []string{"password", "totp"},
		MFA:       "totp",
		LoginHost: "account.example.test",
		CreatedAt: now,
		ExpiresAt: now.Add(time.Hour),
		AuthTime:  now,
		IP:        "192.0.2.1",
		UserAgent: "test",
	}
}

// mustCreate creates s and fails the test on error.
func mustCreate(tb testing.TB, st Store, s *Session, ttl time.Duration) string {
	tb.Helper()
	token, err := st.Create(tb.Context(), s, ttl)
	if err != nil {
		tb.Fatalf("Create: %v", err)
	}
	return token
}

// sameSession compares two sessions as they are stored (JSON) plus the handle.
func sameSession(tb testing.TB, got, want *Session) {
	tb.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) || got.Handle != want.Handle {
		tb.Fatalf("session differs:\n got %s (handle %s)\nwant %s (handle %s)", g, got.Handle, w, want.Handle)
	}
}

func wantErr(tb testing.TB, what string, err, want error) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func handles(ss []*Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Handle
	}
	return out
}

func testCreateGet(t *testing.T, e storeEnv) {
	ctx := t.Context()
	s := newTestSession(e.now(), "acct-1")
	token := mustCreate(t, e, s, suiteLong)
	if s.Handle != HandleOf(token) {
		t.Fatalf("Handle = %q, want HandleOf(token) %q", s.Handle, HandleOf(token))
	}
	got, err := e.Get(ctx, s.Handle, suiteLong)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	sameSession(t, got, s)

	for _, h := range []string{
		HandleOf(NewToken()), // well-formed, never created
		"",
		token, // the token is not a handle
		s.Handle[:63],
		s.Handle + "0",
		"A" + s.Handle[1:],                     // upper-case hex is another spelling: refused
		"*",                                    // glob characters never reach a key
		"../" + s.Handle[3:],                   //
		s.Handle[:62] + "\x00" + s.Handle[63:], //
	} {
		if _, err := e.Get(ctx, h, suiteLong); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): got %v, want ErrNotFound", h, err)
		}
	}
}

func testCreateRejects(t *testing.T, e storeEnv) {
	ctx := t.Context()
	now := e.now()
	noExpiry := newTestSession(now, "a")
	noExpiry.ExpiresAt = time.Time{}
	past := newTestSession(now, "a")
	past.ExpiresAt = now.Add(-time.Second)
	for _, tc := range []struct {
		name string
		s    *Session
		ttl  time.Duration
	}{
		{"nil session", nil, suiteLong},
		{"zero ttl", newTestSession(now, "a"), 0},
		{"negative ttl", newTestSession(now, "a"), -time.Second},
		{"no absolute expiry", noExpiry, suiteLong},
		{"already expired", past, suiteLong},
	} {
		_, err := e.Create(ctx, tc.s, tc.ttl)
		if err == nil || errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: got %v, want a usage error", tc.name, err)
		}
	}
	if got, err := e.ListAccount(ctx, "a"); err != nil || len(got) != 0 {
		t.Fatalf("ListAccount after refused creates: got %d sessions, %v; want none", len(got), err)
	}
}

func testTokensUnique(t *testing.T, e storeEnv) {
	const n = 200
	seen := make(map[string]bool, n)
	for range n {
		token := mustCreate(t, e, newTestSession(e.now(), ""), suiteLong)
		if seen[token] {
			t.Fatalf("token %d repeated", len(seen))
		}
		seen[token] = true
		b, err := base64.RawURLEncoding.Strict().DecodeString(token)
		if err != nil || len(b) != 32 || len(token) != 43 {
			t.Fatalf("token is %d chars, %d bytes (%v); want 43 chars of base64url, 256 bits (ASVS V7.2.3)", len(token), len(b), err)
		}
	}
}

func testSave(t *testing.T, e storeEnv) {
	ctx := t.Context()
	s := newTestSession(e.now(), "acct-1")
	s.Next = StepMFA
	mustCreate(t, e, s, suiteLong)
	s.Next = StepDone
	s.Factors = append(s.Factors, "passkey")
	s.ActiveConsole = "dedibox"
	if err := e.Save(ctx, s, suiteLong); err != nil {
		t.Fatalf("Save: %v", err)
	}
	got, err := e.Get(ctx, s.Handle, suiteLong)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	sameSession(t, got, s)

	// Save never creates: a well-formed handle that does not exist stays absent.
	ghost := newTestSession(e.now(), "acct-1")
	ghost.Handle = HandleOf(NewToken())
	wantErr(t, "Save(unknown handle)", e.Save(ctx, ghost, suiteLong), ErrNotFound)
	_, err = e.Get(ctx, ghost.Handle, suiteLong)
	wantErr(t, "Get after Save(unknown handle)", err, ErrNotFound)
	ghost.Handle = "not-a-handle"
	wantErr(t, "Save(malformed handle)", e.Save(ctx, ghost, suiteLong), ErrNotFound)
	if list, _ := e.ListAccount(ctx, "acct-1"); len(list) != 1 {
		t.Fatalf("ListAccount after failed saves: got %d sessions, want 1", len(list))
	}
}

func testSaveAfterDelete(t *testing.T, e storeEnv) {
	ctx := t.Context()
	s := newTestSession(e.now(), "acct-1")
	mustCreate(t, e, s, suiteLong)
	if err := e.Delete(ctx, s.Handle); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantErr(t, "Save after Delete", e.Save(ctx, s, suiteLong), ErrNotFound)
	_, err := e.Get(ctx, s.Handle, suiteLong)
	wantErr(t, "Get after Save after Delete", err, ErrNotFound)
	if err := e.Delete(ctx, s.Handle); err != nil {
		t.Fatalf("second Delete: got %v, want nil", err)
	}
	if err := e.Delete(ctx, "not a handle"); err != nil {
		t.Fatalf("Delete(malformed): got %v, want nil", err)
	}
	if list, _ := e.ListAccount(ctx, "acct-1"); len(list) != 0 {
		t.Fatalf("ListAccount after Delete: got %v, want none", handles(list))
	}
}

// A login in progress learns its account on the way (first factor); from
// then on revoking the account's sessions must reach it too.
func testSaveIndexes(t *testing.T, e storeEnv) {
	ctx := t.Context()
	s := newTestSession(e.now(), "")
	s.Next = StepFirstFactor
	mustCreate(t, e, s, suiteLong)
	if list, _ := e.ListAccount(ctx, "acct-1"); len(list) != 0 {
		t.Fatalf("anonymous session listed under an account: %v", handles(list))
	}
	s.AccountID = "acct-1"
	s.Next = StepMFA
	if err := e.Save(ctx, s, suiteLong); err != nil {
		t.Fatalf("Save: %v", err)
	}
	list, err := e.ListAccount(ctx, "acct-1")
	if err != nil || !slices.Equal(handles(list), []string{s.Handle}) {
		t.Fatalf("ListAccount: got %v, %v; want [%s]", handles(list), err, s.Handle)
	}
	n, err := e.DeleteAccount(ctx, "acct-1", "")
	if err != nil || n != 1 {
		t.Fatalf("DeleteAccount: got %d, %v; want 1", n, err)
	}
	_, err = e.Get(ctx, s.Handle, suiteLong)
	wantErr(t, "Get after DeleteAccount", err, ErrNotFound)
}

func testIdleExpiry(t *testing.T, e storeEnv) {
	s := newTestSession(e.now(), "acct-1")
	mustCreate(t, e, s, suiteIdle)
	e.advance(suitePast)
	_, err := e.Get(t.Context(), s.Handle, suiteIdle)
	wantErr(t, "Get after the idle timeout (ASVS V7.3.1)", err, ErrNotFound)
}

func testGetRefreshesIdle(t *testing.T, e storeEnv) {
	ctx := t.Context()
	s := newTestSession(e.now(), "acct-1")
	mustCreate(t, e, s, suiteIdle)
	for i := range 2 { // 2 × suiteStep > suiteIdle: alive only because Get refreshed it
		e.advance(suiteStep)
		if _, err := e.Get(ctx, s.Handle, suiteIdle); err != nil {
			t.Fatalf("Get %d within the idle timeout: %v", i, err)
		}
	}
	e.advance(suitePast)
	_, err := e.Get(ctx, s.Handle, suiteIdle)
	wantErr(t, "Get after the idle timeout", err, ErrNotFound)
}

func testAbsoluteExpiry(t *testing.T, e storeEnv) {
	ctx := t.Context()
	now := e.now()
	s := newTestSession(now, "acct-1")
	s.ExpiresAt = now.Add(suiteIdle)
	mustCreate(t, e, s, suiteLong)
	e.advance(suiteStep)
	// Get pushes the idle expiry past the absolute one; the record still wins.
	if _, err := e.Get(ctx, s.Handle, suiteLong); err != nil {
		t.Fatalf("Get before the absolute timeout: %v", err)
	}
	e.advance(suiteStep)
	_, err := e.Get(ctx, s.Handle, suiteLong)
	wantErr(t, "Get after the absolute timeout (ASVS V7.3.2)", err, ErrNotFound)
	wantErr(t, "Save after the absolute timeout", e.Save(ctx, s, suiteLong), ErrNotFound)
	if list, _ := e.ListAccount(ctx, "acct-1"); len(list) != 0 {
		t.Fatalf("ListAccount lists an expired session: %v", handles(list))
	}
}

func testRotate(t *testing.T, e storeEnv) {
	ctx := t.Context()
	s := newTestSession(e.now(), "acct-1")
	s.Next = StepMFA
	oldToken := mustCreate(t, e, s, suiteLong)
	old := s.Handle

	s.Next = StepDone // the login completes: rotate (ASVS V7.2.4)
	token, err := e.Rotate(ctx, s, suiteLong)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if token == oldToken || s.Handle == old || s.Handle != HandleOf(token) {
		t.Fatalf("Rotate: token or handle not renewed (old %s, new %s)", old, s.Handle)
	}
	_, err = e.Get(ctx, old, suiteLong)
	wantErr(t, "Get(old handle) after Rotate", err, ErrNotFound)
	got, err := e.Get(ctx, s.Handle, suiteLong)
	if err != nil {
		t.Fatalf("Get(new handle): %v", err)
	}
	sameSession(t, got, s)
	list, err := e.ListAccount(ctx, "acct-1")
	if err != nil || !slices.Equal(handles(list), []string{s.Handle}) {
		t.Fatalf("ListAccount after Rotate: got %v, %v; want [%s]", handles(list), err, s.Handle)
	}
	// The old handle cannot be saved back to life either.
	stale := *s
	stale.Handle = old
	wantErr(t, "Save(old handle)", e.Save(ctx, &stale, suiteLong), ErrNotFound)
}

func testRotateAfterDelete(t *testing.T, e storeEnv) {
	ctx := t.Context()
	s := newTestSession(e.now(), "acct-1")
	mustCreate(t, e, s, suiteLong)
	if err := e.Delete(ctx, s.Handle); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	old := s.Handle
	_, err := e.Rotate(ctx, s, suiteLong)
	wantErr(t, "Rotate of a revoked session", err, ErrNotFound)
	if s.Handle != old {
		t.Fatalf("failed Rotate changed Handle")
	}
	if list, _ := e.ListAccount(ctx, "acct-1"); len(list) != 0 {
		t.Fatalf("failed Rotate left a session behind: %v", handles(list))
	}
	s.Handle = "zz"
	_, err = e.Rotate(ctx, s, suiteLong)
	wantErr(t, "Rotate(malformed handle)", err, ErrNotFound)
}

func testListAccount(t *testing.T, e storeEnv) {
	ctx := t.Context()
	now := e.now()
	var want []string
	for _, age := range []time.Duration{3 * time.Minute, time.Minute, 2 * time.Minute} {
		s := newTestSession(now, "acct-a")
		s.CreatedAt = now.Add(-age)
		mustCreate(t, e, s, suiteLong)
		want = append(want, s.Handle)
	}
	want = []string{want[0], want[2], want[1]} // oldest first
	other := newTestSession(now, "acct-b")
	mustCreate(t, e, other, suiteLong)

	list, err := e.ListAccount(ctx, "acct-a")
	if err != nil || !slices.Equal(handles(list), want) {
		t.Fatalf("ListAccount: got %v, %v; want %v", handles(list), err, want)
	}
	for _, s := range list {
		if s.AccountID != "acct-a" {
			t.Fatalf("ListAccount returned a session of %q", s.AccountID)
		}
	}
	if err := e.Delete(ctx, want[1]); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	list, err = e.ListAccount(ctx, "acct-a")
	if err != nil || !slices.Equal(handles(list), []string{want[0], want[2]}) {
		t.Fatalf("ListAccount after Delete: got %v, %v", handles(list), err)
	}
	for _, id := range []string{"", "nobody"} {
		if list, err := e.ListAccount(ctx, id); err != nil || len(list) != 0 {
			t.Fatalf("ListAccount(%q): got %v, %v; want none", id, handles(list), err)
		}
	}
}

func testListAccountPrunes(t *testing.T, e storeEnv) {
	ctx := t.Context()
	keep := newTestSession(e.now(), "acct-a")
	mustCreate(t, e, keep, suiteLong)
	idle := newTestSession(e.now(), "acct-a")
	mustCreate(t, e, idle, suiteIdle)
	e.advance(suitePast)
	list, err := e.ListAccount(ctx, "acct-a")
	if err != nil || !slices.Equal(handles(list), []string{keep.Handle}) {
		t.Fatalf("ListAccount: got %v, %v; want only the live session", handles(list), err)
	}
}

func testDeleteAccount(t *testing.T, e storeEnv) {
	ctx := t.Context()
	var a []*Session
	for range 3 {
		s := newTestSession(e.now(), "acct-a")
		mustCreate(t, e, s, suiteLong)
		a = append(a, s)
	}
	b := newTestSession(e.now(), "acct-b")
	mustCreate(t, e, b, suiteLong)

	n, err := e.DeleteAccount(ctx, "acct-a", a[1].Handle)
	if err != nil || n != 2 {
		t.Fatalf("DeleteAccount(keep one): got %d, %v; want 2", n, err)
	}
	for i, s := range a {
		_, err := e.Get(ctx, s.Handle, suiteLong)
		if i == 1 && err != nil {
			t.Fatalf("kept session: %v", err)
		}
		if i != 1 && !errors.Is(err, ErrNotFound) {
			t.Fatalf("session %d after DeleteAccount: got %v, want ErrNotFound (ASVS V7.5.2)", i, err)
		}
	}
	if _, err := e.Get(ctx, b.Handle, suiteLong); err != nil {
		t.Fatalf("other account's session: %v", err)
	}
	if list, _ := e.ListAccount(ctx, "acct-a"); !slices.Equal(handles(list), []string{a[1].Handle}) {
		t.Fatalf("ListAccount after DeleteAccount: got %v", handles(list))
	}
	n, err = e.DeleteAccount(ctx, "acct-a", "")
	if err != nil || n != 1 {
		t.Fatalf("DeleteAccount(keep none): got %d, %v; want 1", n, err)
	}
	for _, id := range []string{"acct-a", "", "nobody"} {
		if n, err := e.DeleteAccount(ctx, id, ""); err != nil || n != 0 {
			t.Fatalf("DeleteAccount(%q) of nothing: got %d, %v; want 0", id, n, err)
		}
	}
	if _, err := e.Get(ctx, b.Handle, suiteLong); err != nil {
		t.Fatalf("other account's session after all: %v", err)
	}
}

func testHandoffSingleUse(t *testing.T, e storeEnv) {
	ctx := t.Context()
	h := Handoff{Token: NewToken(), Host: "console.example.test", Path: "/servers?page=2"}
	code, err := e.CreateHandoff(ctx, h, time.Minute)
	if err != nil {
		t.Fatalf("CreateHandoff: %v", err)
	}
	if !validToken(code) {
		t.Fatalf("code %q is not a 256-bit token", code)
	}
	got, err := e.TakeHandoff(ctx, code)
	if err != nil || got != h {
		t.Fatalf("TakeHandoff: got %+v, %v; want %+v", got, err, h)
	}
	_, err = e.TakeHandoff(ctx, code)
	wantErr(t, "second TakeHandoff", err, ErrNotFound)
	for _, c := range []string{"", "x", NewToken(), code + "A", h.Token, HandleOf(code)} {
		_, err := e.TakeHandoff(ctx, c)
		wantErr(t, "TakeHandoff("+c+")", err, ErrNotFound)
	}
	if _, err := e.CreateHandoff(ctx, h, 0); err == nil {
		t.Fatalf("CreateHandoff(ttl 0): got nil error")
	}
}

func testHandoffParallelTake(t *testing.T, e storeEnv) {
	code, err := e.CreateHandoff(t.Context(), Handoff{Token: NewToken(), Host: "h", Path: "/"}, time.Minute)
	if err != nil {
		t.Fatalf("CreateHandoff: %v", err)
	}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok int
	)
	for range 20 {
		wg.Go(func() {
			if _, err := e.TakeHandoff(t.Context(), code); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if !errors.Is(err, ErrNotFound) {
				t.Errorf("TakeHandoff: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("parallel TakeHandoff: %d succeeded, want exactly 1", ok)
	}
}

func testHandoffExpiry(t *testing.T, e storeEnv) {
	code, err := e.CreateHandoff(t.Context(), Handoff{Token: NewToken(), Host: "h", Path: "/"}, suiteIdle)
	if err != nil {
		t.Fatalf("CreateHandoff: %v", err)
	}
	e.advance(suitePast)
	_, err = e.TakeHandoff(t.Context(), code)
	wantErr(t, "TakeHandoff after its ttl", err, ErrNotFound)
}

func testCountersParallel(t *testing.T, e storeEnv) {
	const n = 200
	counts := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, ttl, err := e.Hit(t.Context(), "login:ip:192.0.2.1", suiteWindow)
			if err != nil || ttl <= 0 || ttl > suiteWindow {
				t.Errorf("Hit: count %d, ttl %v, %v", c, ttl, err)
			}
			counts[i] = c
		})
	}
	wg.Wait()
	slices.Sort(counts)
	for i, c := range counts {
		if c != int64(i+1) {
			t.Fatalf("parallel hits returned counts %v…, want each of 1..%d once", counts[:min(i+3, n)], n)
		}
	}
	got, _, err := e.Peek(t.Context(), "login:ip:192.0.2.1")
	if err != nil || got != n {
		t.Fatalf("Peek after %d parallel hits: got %d, %v", n, got, err)
	}
}

func testCounterWindow(t *testing.T, e storeEnv) {
	ctx := t.Context()
	c, ttl1, err := e.Hit(ctx, "k", suiteIdle)
	if err != nil || c != 1 || ttl1 <= 0 || ttl1 > suiteIdle {
		t.Fatalf("first Hit: got %d, ttl %v, %v; want 1 and a ttl within the window", c, ttl1, err)
	}
	c, ttl2, err := e.Hit(ctx, "k", suiteIdle)
	if err != nil || c != 2 || ttl2 > ttl1 {
		t.Fatalf("second Hit: got %d, ttl %v (first %v), %v; want 2 and the window not pushed back", c, ttl2, ttl1, err)
	}
	e.advance(suitePast)
	if c, ttl, err := e.Peek(ctx, "k"); err != nil || c != 0 || ttl != 0 {
		t.Fatalf("Peek after the window: got %d, %v, %v; want 0, 0", c, ttl, err)
	}
	if c, _, err := e.Hit(ctx, "k", suiteIdle); err != nil || c != 1 {
		t.Fatalf("Hit in a new window: got %d, %v; want 1", c, err)
	}
	if _, _, err := e.Hit(ctx, "k", 0); err == nil {
		t.Fatalf("Hit(window 0): got nil error")
	}
}

func testUnhit(t *testing.T, e storeEnv) {
	ctx := t.Context()
	if err := e.Unhit(ctx, "absent"); err != nil {
		t.Fatalf("Unhit(absent): %v", err)
	}
	if c, _, _ := e.Peek(ctx, "absent"); c != 0 {
		t.Fatalf("Peek after Unhit(absent): got %d, want 0", c)
	}
	for range 2 {
		e.Hit(ctx, "k", suiteWindow)
	}
	for range 3 {
		if err := e.Unhit(ctx, "k"); err != nil {
			t.Fatalf("Unhit: %v", err)
		}
	}
	c, ttl, err := e.Peek(ctx, "k")
	if err != nil || c != 0 || ttl <= 0 {
		t.Fatalf("Peek after 2 hits and 3 unhits: got %d, ttl %v, %v; want 0 with the window kept", c, ttl, err)
	}
	if c, _, _ := e.Hit(ctx, "k", suiteWindow); c != 1 {
		t.Fatalf("Hit after unhits: got %d, want 1 (a negative count would be a free attempt)", c)
	}
}

func testPeekReset(t *testing.T, e storeEnv) {
	ctx := t.Context()
	for range 3 {
		e.Hit(ctx, "a", suiteWindow)
	}
	e.Hit(ctx, "b", suiteWindow)
	for range 2 {
		if c, ttl, err := e.Peek(ctx, "a"); err != nil || c != 3 || ttl <= 0 || ttl > suiteWindow {
			t.Fatalf("Peek: got %d, %v, %v; want 3", c, ttl, err)
		}
	}
	if err := e.Reset(ctx, "a"); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if c, ttl, _ := e.Peek(ctx, "a"); c != 0 || ttl != 0 {
		t.Fatalf("Peek after Reset: got %d, %v; want 0, 0", c, ttl)
	}
	if c, _, _ := e.Peek(ctx, "b"); c != 1 {
		t.Fatalf("Reset touched another counter: got %d, want 1", c)
	}
	if err := e.Reset(ctx, "absent"); err != nil {
		t.Fatalf("Reset(absent): %v", err)
	}
	if c, _, _ := e.Hit(ctx, "a", suiteWindow); c != 1 {
		t.Fatalf("Hit after Reset: got %d, want 1", c)
	}
}

// A canceled request must not be answered as if the session were absent or
// present: it is a store failure, like Redis timing out.
func testCanceledContext(t *testing.T, e storeEnv) {
	s := newTestSession(e.now(), "acct-1")
	mustCreate(t, e, s, suiteLong)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range storeCalls(s) {
		if err := c.call(ctx, e); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with a canceled context: got %v, want ErrUnavailable", c.name, err)
		}
	}
}

// storeCalls is one call of every Store method, on s where one is needed.
func storeCalls(s *Session) []struct {
	name string
	call func(context.Context, Store) error
} {
	code := NewToken()
	return []struct {
		name string
		call func(context.Context, Store) error
	}{
		{"Create", func(ctx context.Context, st Store) error {
			_, err := st.Create(ctx, newTestSession(time.Now(), "acct-1"), time.Minute)
			return err
		}},
		{"Get", func(ctx context.Context, st Store) error { _, err := st.Get(ctx, s.Handle, time.Minute); return err }},
		{"Save", func(ctx context.Context, st Store) error { return st.Save(ctx, s, time.Minute) }},
		{"Rotate", func(ctx context.Context, st Store) error {
			c := *s
			_, err := st.Rotate(ctx, &c, time.Minute)
			return err
		}},
		{"Delete", func(ctx context.Context, st Store) error { return st.Delete(ctx, s.Handle) }},
		{"ListAccount", func(ctx context.Context, st Store) error { _, err := st.ListAccount(ctx, "acct-1"); return err }},
		{"DeleteAccount", func(ctx context.Context, st Store) error { _, err := st.DeleteAccount(ctx, "acct-1", ""); return err }},
		{"CreateHandoff", func(ctx context.Context, st Store) error {
			_, err := st.CreateHandoff(ctx, Handoff{Token: NewToken(), Host: "h", Path: "/"}, time.Minute)
			return err
		}},
		{"TakeHandoff", func(ctx context.Context, st Store) error { _, err := st.TakeHandoff(ctx, code); return err }},
		{"Hit", func(ctx context.Context, st Store) error { _, _, err := st.Hit(ctx, "k", time.Minute); return err }},
		{"Unhit", func(ctx context.Context, st Store) error { return st.Unhit(ctx, "k") }},
		{"Peek", func(ctx context.Context, st Store) error { _, _, err := st.Peek(ctx, "k"); return err }},
		{"Reset", func(ctx context.Context, st Store) error { return st.Reset(ctx, "k") }},
		{"Ping", func(ctx context.Context, st Store) error { return st.Ping(ctx) }},
	}
}

func TestNewTokenUnique(t *testing.T) {
	const n = 10000
	seen := make(map[string]bool, n)
	for range n {
		tok := NewToken()
		if seen[tok] || !validToken(tok) {
			t.Fatalf("NewToken gave a repeated or malformed token %q", tok)
		}
		seen[tok] = true
	}
}

func TestValidToken(t *testing.T) {
	good := NewToken()
	for _, tc := range []struct {
		tok  string
		want bool
	}{
		{good, true},
		{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", true},
		{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", false}, // non-zero trailing bits: a second spelling
		{good[:42], false},
		{good + "A", false},
		{good[:42] + "=", false},
		{good[:42] + "+", false},
		{good[:42] + "/", false},
		{good[:42] + "\x00", false},
		{"", false},
	} {
		if got := validToken(tc.tok); got != tc.want {
			t.Errorf("validToken(%q) = %v, want %v", tc.tok, got, tc.want)
		}
	}
}

func TestMemoryStoreSweep(t *testing.T) {
	ctx := t.Context()
	clock := newFakeClock()
	st := NewMemoryStore(clock.Now)
	for range 5 {
		mustCreate(t, st, newTestSession(clock.Now(), "acct-1"), time.Second)
	}
	if _, err := st.CreateHandoff(ctx, Handoff{Token: NewToken()}, time.Second); err != nil {
		t.Fatal(err)
	}
	st.Hit(ctx, "k", time.Second)
	clock.Advance(memorySweepInterval + time.Second)
	st.Hit(ctx, "other", time.Hour) // any call runs the due sweep
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.sessions) != 0 || len(st.accounts) != 0 || len(st.handoffs) != 0 || len(st.counters) != 1 {
		t.Fatalf("after the sweep: %d sessions, %d indexes, %d handoffs, %d counters; want 0, 0, 0, 1",
			len(st.sessions), len(st.accounts), len(st.handoffs), len(st.counters))
	}
}

func TestHandoffSealed(t *testing.T) {
	code := NewToken()
	h := Handoff{Token: NewToken(), Host: "console.example.test", Path: "/"}
	sealed, err := sealHandoff(code, h)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(sealed); containsAny(got, h.Token, code, "console.example.test") {
		t.Fatalf("sealed handoff shows its content")
	}
	if got, err := openHandoff(code, sealed); err != nil || got != h {
		t.Fatalf("openHandoff: got %+v, %v", got, err)
	}
	if _, err := openHandoff(NewToken(), sealed); !errors.Is(err, ErrNotFound) {
		t.Fatalf("openHandoff with another code: got %v, want ErrNotFound", err)
	}
	if _, err := openHandoff(code, sealed[:5]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("openHandoff of a short record: got %v, want ErrNotFound", err)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
