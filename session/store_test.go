package session

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

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
