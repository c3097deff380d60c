// Package sessiontest is the conformance suite every session.Store passes
// (STYLE.md "one suite per interface"): the memory, Redis and cached stores
// of package session run it, and so can a store written elsewhere.
//
//	func TestMyStore(t *testing.T) {
//		sessiontest.Run(t, func(t *testing.T) session.Store { return newMyStore(t) })
//	}
//
// It also holds what tests need to reach the Redis topologies of CI (one
// node, Cluster, Sentinel): see RedisClient.
package sessiontest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"unigate/session"
)

// Env is one store under test with its clock: Now is the clock the store
// reads, Advance moves it (a fake clock injected into the store, or a real
// sleep for a store whose TTLs run on a server's own clock, like Redis).
type Env struct {
	session.Store
	Now     func() time.Time
	Advance func(time.Duration)
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

// Run runs the suite on stores that read the real clock (time.Now) and whose
// expiries pass with real time. newStore must return a fresh, empty store
// for each call (for a shared server: under its own key prefix).
func Run(t *testing.T, newStore func(t *testing.T) session.Store) {
	RunEnv(t, func(t *testing.T) Env {
		return Env{Store: newStore(t), Now: time.Now, Advance: time.Sleep}
	})
}

// RunEnv runs the suite on stores with an injected clock.
func RunEnv(t *testing.T, newEnv func(t *testing.T) Env) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e Env)
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
		{"ListAccountPrunes", testListAccountPrunes},
		{"DeleteAccount", testDeleteAccount},
		{"HandoffSingleUse", testHandoffSingleUse},
		{"HandoffParallelTake", testHandoffParallelTake},
		{"HandoffExpiry", testHandoffExpiry},
		{"CountersExactUnderParallelHits", testCountersParallel},
		{"CounterWindow", testCounterWindow},
		{"UnhitNeverBelowZero", testUnhit},
		{"PeekResetIndependent", testPeekReset},
		{"CanceledContextIsUnavailable", testCanceledContext},
		{"Ping", func(t *testing.T, e Env) {
			if err := e.Ping(t.Context()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newEnv(t))
		})
	}
}

// isToken reports whether t has the shape session.NewToken gives: 43
// characters of unpadded base64url decoding to 32 bytes (ASVS V7.2.3).
func isToken(t string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(t)
	return err == nil && len(b) == 32 && len(t) == 43
}

// newSession is a complete session of account, valid for an hour.
func newSession(now time.Time, account string) *session.Session {
	return &session.Session{
		AccountID: account,
		Email:     account + "@example.test",
		Next:      session.StepDone,
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
func mustCreate(tb testing.TB, st session.Store, s *session.Session, ttl time.Duration) string {
	tb.Helper()
	token, err := st.Create(tb.Context(), s, ttl)
	if err != nil {
		tb.Fatalf("Create: %v", err)
	}
	return token
}

// sameSession compares two sessions as they are stored (JSON) plus the handle.
func sameSession(tb testing.TB, got, want *session.Session) {
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

func handles(ss []*session.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Handle
	}
	return out
}
