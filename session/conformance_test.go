package session_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"unigate/session"
	"unigate/session/sessiontest"
)

// Every store runs the one conformance suite of sessiontest; the Redis-backed
// ones on each topology of CI: one node, Cluster and Sentinel (CONTRACT §12
// "Redis": sessions work on each exactly as on one node).

func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	sessiontest.RunEnv(t, func(t *testing.T) sessiontest.Env {
		clock := session.NewFakeClock()
		return sessiontest.Env{Store: session.NewMemoryStore(clock.Now), Now: clock.Now, Advance: clock.Advance}
	})
}

func TestRedisStoreConformance(t *testing.T) {
	t.Parallel()
	for _, topo := range sessiontest.Topologies {
		t.Run(string(topo), func(t *testing.T) {
			t.Parallel()
			c := sessiontest.RedisClient(t, topo)
			sessiontest.Run(t, func(t *testing.T) session.Store {
				return session.NewRedisStore(c, session.RedisOptions{KeyPrefix: sessiontest.KeyPrefix(t, c)})
			})
		})
	}
}

// The cached store passes with the default MaxAge, and with one so long that
// every answer that may come from memory does; on a Cluster its
// invalidations go through the cluster-wide PUBLISH.
func TestCachedStoreConformance(t *testing.T) {
	t.Parallel()
	for _, topo := range sessiontest.Topologies {
		for _, tc := range []struct {
			name string
			opts session.CacheOptions
		}{
			{"MaxAge=default", session.CacheOptions{}},
			{"MaxAge=1h", session.CacheOptions{MaxAge: time.Hour}},
		} {
			t.Run(string(topo)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				c := sessiontest.RedisClient(t, topo)
				sessiontest.Run(t, func(t *testing.T) session.Store {
					inner := session.NewRedisStore(c, session.RedisOptions{KeyPrefix: sessiontest.KeyPrefix(t, c)})
					return session.NewTestCachedStore(t, inner, c, tc.opts)
				})
			})
		}
	}
}

// TestRedisDown: with Redis unreachable every method fails with
// ErrUnavailable, and fast, so the gateway answers 503 at once and lets
// nothing through (ASVS V16.5.2, SECURITY.md family 9).
func TestRedisDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	c, err := session.NewRedisClient(session.RedisClientOptions{URL: "redis://" + closed + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := session.NewRedisStore(c, session.RedisOptions{})
	s := &session.Session{AccountID: "acct-1", Handle: session.HandleOf(session.NewToken()), ExpiresAt: time.Now().Add(time.Hour)}

	calls := sessiontest.Calls(s)
	start := time.Now()
	for _, call := range calls {
		if err := call.Call(t.Context(), st); !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("%s with Redis down: got %v, want ErrUnavailable", call.Name, err)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("%d calls with Redis down took %v, want < 3s in all", len(calls), d)
	}
}
