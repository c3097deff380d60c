package sessiontest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"unigate/session"
)

// The handoff and counter half of the suite, and the failure rule every
// method shares.

func testHandoffSingleUse(t *testing.T, e Env) {
	ctx := t.Context()
	h := session.Handoff{Token: session.NewToken(), Host: "console.example.test", Path: "/servers?page=2"}
	code, err := e.CreateHandoff(ctx, h, time.Minute)
	if err != nil {
		t.Fatalf("CreateHandoff: %v", err)
	}
	if !isToken(code) {
		t.Fatalf("code %q is not a 256-bit token", code)
	}
	got, err := e.TakeHandoff(ctx, code)
	if err != nil || got != h {
		t.Fatalf("TakeHandoff: got %+v, %v; want %+v", got, err, h)
	}
	_, err = e.TakeHandoff(ctx, code)
	wantErr(t, "second TakeHandoff", err, session.ErrNotFound)
	for _, c := range []string{"", "x", session.NewToken(), code + "A", h.Token, session.HandleOf(code)} {
		_, err := e.TakeHandoff(ctx, c)
		wantErr(t, "TakeHandoff("+c+")", err, session.ErrNotFound)
	}
	if _, err := e.CreateHandoff(ctx, h, 0); err == nil {
		t.Fatalf("CreateHandoff(ttl 0): got nil error")
	}
}

func testHandoffParallelTake(t *testing.T, e Env) {
	code, err := e.CreateHandoff(t.Context(), session.Handoff{Token: session.NewToken(), Host: "h", Path: "/"}, time.Minute)
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
			} else if !errors.Is(err, session.ErrNotFound) {
				t.Errorf("TakeHandoff: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("parallel TakeHandoff: %d succeeded, want exactly 1", ok)
	}
}

func testHandoffExpiry(t *testing.T, e Env) {
	code, err := e.CreateHandoff(t.Context(), session.Handoff{Token: session.NewToken(), Host: "h", Path: "/"}, suiteIdle)
	if err != nil {
		t.Fatalf("CreateHandoff: %v", err)
	}
	e.Advance(suitePast)
	_, err = e.TakeHandoff(t.Context(), code)
	wantErr(t, "TakeHandoff after its ttl", err, session.ErrNotFound)
}

func testCountersParallel(t *testing.T, e Env) {
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

func testCounterWindow(t *testing.T, e Env) {
	ctx := t.Context()
	c, ttl1, err := e.Hit(ctx, "k", suiteIdle)
	if err != nil || c != 1 || ttl1 <= 0 || ttl1 > suiteIdle {
		t.Fatalf("first Hit: got %d, ttl %v, %v; want 1 and a ttl within the window", c, ttl1, err)
	}
	c, ttl2, err := e.Hit(ctx, "k", suiteIdle)
	if err != nil || c != 2 || ttl2 > ttl1 {
		t.Fatalf("second Hit: got %d, ttl %v (first %v), %v; want 2 and the window not pushed back", c, ttl2, ttl1, err)
	}
	e.Advance(suitePast)
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

func testUnhit(t *testing.T, e Env) {
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

func testPeekReset(t *testing.T, e Env) {
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
func testCanceledContext(t *testing.T, e Env) {
	s := newSession(e.Now(), "acct-1")
	mustCreate(t, e, s, suiteLong)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range Calls(s) {
		if err := c.Call(ctx, e); !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("%s with a canceled context: got %v, want session.ErrUnavailable", c.Name, err)
		}
	}
}
