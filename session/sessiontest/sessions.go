package sessiontest

import (
	"encoding/base64"
	"errors"
	"slices"
	"testing"
	"time"

	"unigate/session"
)

// The session and index half of the suite: create, read, save, rotate,
// expire, list and revoke.

func testCreateGet(t *testing.T, e Env) {
	ctx := t.Context()
	s := newSession(e.Now(), "acct-1")
	token := mustCreate(t, e, s, suiteLong)
	if s.Handle != session.HandleOf(token) {
		t.Fatalf("Handle = %q, want session.HandleOf(token) %q", s.Handle, session.HandleOf(token))
	}
	got, err := e.Get(ctx, s.Handle, suiteLong)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	sameSession(t, got, s)

	for _, h := range []string{
		session.HandleOf(session.NewToken()), // well-formed, never created
		"",
		token, // the token is not a handle
		s.Handle[:63],
		s.Handle + "0",
		"A" + s.Handle[1:],                     // upper-case hex is another spelling: refused
		"*",                                    // glob characters never reach a key
		"../" + s.Handle[3:],                   //
		s.Handle[:62] + "\x00" + s.Handle[63:], //
	} {
		if _, err := e.Get(ctx, h, suiteLong); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Get(%q): got %v, want session.ErrNotFound", h, err)
		}
	}
}

func testCreateRejects(t *testing.T, e Env) {
	ctx := t.Context()
	now := e.Now()
	noExpiry := newSession(now, "a")
	noExpiry.ExpiresAt = time.Time{}
	past := newSession(now, "a")
	past.ExpiresAt = now.Add(-time.Second)
	for _, tc := range []struct {
		name string
		s    *session.Session
		ttl  time.Duration
	}{
		{"nil session", nil, suiteLong},
		{"zero ttl", newSession(now, "a"), 0},
		{"negative ttl", newSession(now, "a"), -time.Second},
		{"no absolute expiry", noExpiry, suiteLong},
		{"already expired", past, suiteLong},
	} {
		_, err := e.Create(ctx, tc.s, tc.ttl)
		if err == nil || errors.Is(err, session.ErrUnavailable) {
			t.Errorf("%s: got %v, want a usage error", tc.name, err)
		}
	}
	if got, err := e.ListAccount(ctx, "a"); err != nil || len(got) != 0 {
		t.Fatalf("ListAccount after refused creates: got %d sessions, %v; want none", len(got), err)
	}
}

func testTokensUnique(t *testing.T, e Env) {
	const n = 200
	seen := make(map[string]bool, n)
	for range n {
		token := mustCreate(t, e, newSession(e.Now(), ""), suiteLong)
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

func testSave(t *testing.T, e Env) {
	ctx := t.Context()
	s := newSession(e.Now(), "acct-1")
	s.Next = session.StepMFA
	mustCreate(t, e, s, suiteLong)
	s.Next = session.StepDone
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
	ghost := newSession(e.Now(), "acct-1")
	ghost.Handle = session.HandleOf(session.NewToken())
	wantErr(t, "Save(unknown handle)", e.Save(ctx, ghost, suiteLong), session.ErrNotFound)
	_, err = e.Get(ctx, ghost.Handle, suiteLong)
	wantErr(t, "Get after Save(unknown handle)", err, session.ErrNotFound)
	ghost.Handle = "not-a-handle"
	wantErr(t, "Save(malformed handle)", e.Save(ctx, ghost, suiteLong), session.ErrNotFound)
	if list, _ := e.ListAccount(ctx, "acct-1"); len(list) != 1 {
		t.Fatalf("ListAccount after failed saves: got %d sessions, want 1", len(list))
	}
}

func testSaveAfterDelete(t *testing.T, e Env) {
	ctx := t.Context()
	s := newSession(e.Now(), "acct-1")
	mustCreate(t, e, s, suiteLong)
	if err := e.Delete(ctx, s.Handle); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantErr(t, "Save after Delete", e.Save(ctx, s, suiteLong), session.ErrNotFound)
	_, err := e.Get(ctx, s.Handle, suiteLong)
	wantErr(t, "Get after Save after Delete", err, session.ErrNotFound)
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
func testSaveIndexes(t *testing.T, e Env) {
	ctx := t.Context()
	s := newSession(e.Now(), "")
	s.Next = session.StepFirstFactor
	mustCreate(t, e, s, suiteLong)
	if list, _ := e.ListAccount(ctx, "acct-1"); len(list) != 0 {
		t.Fatalf("anonymous session listed under an account: %v", handles(list))
	}
	s.AccountID = "acct-1"
	s.Next = session.StepMFA
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
	wantErr(t, "Get after DeleteAccount", err, session.ErrNotFound)
}

func testIdleExpiry(t *testing.T, e Env) {
	s := newSession(e.Now(), "acct-1")
	mustCreate(t, e, s, suiteIdle)
	e.Advance(suitePast)
	_, err := e.Get(t.Context(), s.Handle, suiteIdle)
	wantErr(t, "Get after the idle timeout (ASVS V7.3.1)", err, session.ErrNotFound)
}

func testGetRefreshesIdle(t *testing.T, e Env) {
	ctx := t.Context()
	s := newSession(e.Now(), "acct-1")
	mustCreate(t, e, s, suiteIdle)
	for i := range 2 { // 2 × suiteStep > suiteIdle: alive only because Get refreshed it
		e.Advance(suiteStep)
		if _, err := e.Get(ctx, s.Handle, suiteIdle); err != nil {
			t.Fatalf("Get %d within the idle timeout: %v", i, err)
		}
	}
	e.Advance(suitePast)
	_, err := e.Get(ctx, s.Handle, suiteIdle)
	wantErr(t, "Get after the idle timeout", err, session.ErrNotFound)
}

func testAbsoluteExpiry(t *testing.T, e Env) {
	ctx := t.Context()
	now := e.Now()
	s := newSession(now, "acct-1")
	s.ExpiresAt = now.Add(suiteIdle)
	mustCreate(t, e, s, suiteLong)
	e.Advance(suiteStep)
	// Get pushes the idle expiry past the absolute one; the record still wins.
	if _, err := e.Get(ctx, s.Handle, suiteLong); err != nil {
		t.Fatalf("Get before the absolute timeout: %v", err)
	}
	e.Advance(suiteStep)
	_, err := e.Get(ctx, s.Handle, suiteLong)
	wantErr(t, "Get after the absolute timeout (ASVS V7.3.2)", err, session.ErrNotFound)
	wantErr(t, "Save after the absolute timeout", e.Save(ctx, s, suiteLong), session.ErrNotFound)
	if list, _ := e.ListAccount(ctx, "acct-1"); len(list) != 0 {
		t.Fatalf("ListAccount lists an expired session: %v", handles(list))
	}
}

func testRotate(t *testing.T, e Env) {
	ctx := t.Context()
	s := newSession(e.Now(), "acct-1")
	s.Next = session.StepMFA
	oldToken := mustCreate(t, e, s, suiteLong)
	old := s.Handle

	s.Next = session.StepDone // the login completes: rotate (ASVS V7.2.4)
	token, err := e.Rotate(ctx, s, suiteLong)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if token == oldToken || s.Handle == old || s.Handle != session.HandleOf(token) {
		t.Fatalf("Rotate: token or handle not renewed (old %s, new %s)", old, s.Handle)
	}
	_, err = e.Get(ctx, old, suiteLong)
	wantErr(t, "Get(old handle) after Rotate", err, session.ErrNotFound)
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
	wantErr(t, "Save(old handle)", e.Save(ctx, &stale, suiteLong), session.ErrNotFound)
}

func testRotateAfterDelete(t *testing.T, e Env) {
	ctx := t.Context()
	s := newSession(e.Now(), "acct-1")
	mustCreate(t, e, s, suiteLong)
	if err := e.Delete(ctx, s.Handle); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	old := s.Handle
	_, err := e.Rotate(ctx, s, suiteLong)
	wantErr(t, "Rotate of a revoked session", err, session.ErrNotFound)
	if s.Handle != old {
		t.Fatalf("failed Rotate changed Handle")
	}
	if list, _ := e.ListAccount(ctx, "acct-1"); len(list) != 0 {
		t.Fatalf("failed Rotate left a session behind: %v", handles(list))
	}
	s.Handle = "zz"
	_, err = e.Rotate(ctx, s, suiteLong)
	wantErr(t, "Rotate(malformed handle)", err, session.ErrNotFound)
}

func testListAccount(t *testing.T, e Env) {
	ctx := t.Context()
	now := e.Now()
	var want []string
	for _, age := range []time.Duration{3 * time.Minute, time.Minute, 2 * time.Minute} {
		s := newSession(now, "acct-a")
		s.CreatedAt = now.Add(-age)
		mustCreate(t, e, s, suiteLong)
		want = append(want, s.Handle)
	}
	want = []string{want[0], want[2], want[1]} // oldest first
	other := newSession(now, "acct-b")
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

func testListAccountPrunes(t *testing.T, e Env) {
	ctx := t.Context()
	keep := newSession(e.Now(), "acct-a")
	mustCreate(t, e, keep, suiteLong)
	idle := newSession(e.Now(), "acct-a")
	mustCreate(t, e, idle, suiteIdle)
	e.Advance(suitePast)
	list, err := e.ListAccount(ctx, "acct-a")
	if err != nil || !slices.Equal(handles(list), []string{keep.Handle}) {
		t.Fatalf("ListAccount: got %v, %v; want only the live session", handles(list), err)
	}
}

func testDeleteAccount(t *testing.T, e Env) {
	ctx := t.Context()
	var a []*session.Session
	for range 3 {
		s := newSession(e.Now(), "acct-a")
		mustCreate(t, e, s, suiteLong)
		a = append(a, s)
	}
	b := newSession(e.Now(), "acct-b")
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
		if i != 1 && !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("session %d after DeleteAccount: got %v, want session.ErrNotFound (ASVS V7.5.2)", i, err)
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
