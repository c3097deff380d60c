package session

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func newTestTrackingStore(tb testing.TB, inner *RedisStore, client redis.UniversalClient) *TrackingStore {
	tb.Helper()
	ts, err := NewTrackingStore(inner, client, TrackingOptions{pingEvery: 200 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ts.Close() })
	waitFor(tb, 5*time.Second, "the tracking cache to turn on", ts.healthy.Load)
	return ts
}

// trackingReplica is one gateway replica: a TrackingStore on its own
// client, whose commands are recorded.
type trackingReplica struct {
	*TrackingStore
	rec *cmdRecorder
}

func newTrackingReplicas(t *testing.T, n int) []trackingReplica {
	t.Helper()
	prefix := testPrefix(t, testRedisClient(t))
	var out []trackingReplica
	for range n {
		c := testRedisClient(t)
		rec := &cmdRecorder{}
		c.AddHook(rec)
		inner := NewRedisStore(c, RedisOptions{KeyPrefix: prefix})
		out = append(out, trackingReplica{newTestTrackingStore(t, inner, c), rec})
	}
	return out
}

// warm reads handle on r until it is served from memory (the first Get
// pushes the idle TTL back, which Redis reports as a change of the key).
func (r trackingReplica) warm(t *testing.T, handle string) {
	t.Helper()
	waitFor(t, 5*time.Second, "a hit", func() bool {
		r.rec.take()
		if _, err := r.Get(t.Context(), handle, time.Hour); err != nil {
			t.Fatalf("Get: %v", err)
		}
		return len(r.rec.take()) == 0
	})
}

// TestTrackingStoreHitNoRoundTrip: a warm session costs no Redis command.
func TestTrackingStoreHitNoRoundTrip(t *testing.T) {
	t.Parallel()
	r := newTrackingReplicas(t, 1)[0]
	s := newTestSession(time.Now(), "acct-1")
	mustCreate(t, r, s, time.Hour)
	r.warm(t, s.Handle)
	for i := range 100 {
		got, err := r.Get(t.Context(), s.Handle, time.Hour)
		if err != nil {
			t.Fatalf("Get %d: %v", i, err)
		}
		sameSession(t, got, s)
		got.Factors[0] = "changed" // the caller's copy
	}
	if got := r.rec.take(); len(got) != 0 {
		t.Fatalf("100 warm Gets sent %v, want nothing", got)
	}
}

// TestTrackingStoreRevocationEveryReplica: a write through one replica, or
// straight into Redis, is seen by the other on its very next Get, with no
// wait (revocation as strict as RedisStore, ASVS V7.4.1). Repeated, since a
// lost race would show only sometimes.
func TestTrackingStoreRevocationEveryReplica(t *testing.T) {
	t.Parallel()
	rs := newTrackingReplicas(t, 2)
	a, b := rs[0], rs[1]
	raw := testRedisClient(t)
	ctx := t.Context()
	writes := []struct {
		name  string
		write func(t *testing.T, s *Session)
		check func(got *Session, err error) error
	}{
		{"Delete", func(t *testing.T, s *Session) {
			if err := a.Delete(ctx, s.Handle); err != nil {
				t.Fatal(err)
			}
		}, notFound},
		{"DeleteAccount", func(t *testing.T, s *Session) {
			if _, err := a.DeleteAccount(ctx, s.AccountID, ""); err != nil {
				t.Fatal(err)
			}
		}, notFound},
		{"DEL by another client", func(t *testing.T, s *Session) {
			if err := raw.Del(ctx, a.inner.sessionKey(s.Handle)).Err(); err != nil {
				t.Fatal(err)
			}
		}, notFound},
		{"Save", func(t *testing.T, s *Session) {
			s.Email = "new@example.com"
			if err := a.Save(ctx, s, time.Hour); err != nil {
				t.Fatal(err)
			}
		}, func(got *Session, err error) error {
			if err != nil || got.Email != "new@example.com" {
				return errors.New("the old copy was served")
			}
			return nil
		}},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			for i := range 50 {
				s := newTestSession(time.Now(), "acct-"+w.name+strconv.Itoa(i))
				mustCreate(t, a, s, time.Hour)
				b.warm(t, s.Handle)
				w.write(t, s)
				if err := w.check(b.Get(ctx, s.Handle, time.Hour)); err != nil {
					t.Fatalf("round %d: the other replica's next Get: %v", i, err)
				}
			}
		})
	}
}

func notFound(_ *Session, err error) error {
	if !errors.Is(err, ErrNotFound) {
		return errors.New("got " + errString(err) + ", want ErrNotFound")
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return "a session"
	}
	return err.Error()
}

// TestTrackingStoreConnectionKilled: when Redis drops the tracking
// connection (CLIENT KILL), a revocation made before the replica has
// reconnected is still refused on its next Get (fail closed: the cache is
// never served without a live, confirmed tracking connection), and once
// reconnected the cache works and is invalidated again.
func TestTrackingStoreConnectionKilled(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rs := newTrackingReplicas(t, 1)
	b := rs[0]
	raw := testRedisClient(t)
	for round := range 5 {
		s := newTestSession(time.Now(), "acct-kill"+strconv.Itoa(round))
		mustCreate(t, b, s, time.Hour)
		b.warm(t, s.Handle)
		old := b.clientID.Load()
		if err := raw.ClientKillByFilter(ctx, "ID", strconv.FormatInt(old, 10)).Err(); err != nil {
			t.Fatalf("CLIENT KILL ID %d: %v", old, err)
		}
		if err := raw.Del(ctx, b.inner.sessionKey(s.Handle)).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Get(ctx, s.Handle, time.Hour); !errors.Is(err, ErrNotFound) {
			t.Fatalf("round %d: Get right after the tracking connection was killed and the key deleted: %v, want ErrNotFound", round, err)
		}
		waitFor(t, 5*time.Second, "a new tracking connection", func() bool {
			return b.healthy.Load() && b.clientID.Load() != old
		})
		s2 := newTestSession(time.Now(), "acct-kill2"+strconv.Itoa(round))
		mustCreate(t, b, s2, time.Hour)
		b.warm(t, s2.Handle)
		if err := raw.Del(ctx, b.inner.sessionKey(s2.Handle)).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Get(ctx, s2.Handle, time.Hour); !errors.Is(err, ErrNotFound) {
			t.Fatalf("round %d: after reconnecting, Get of a deleted key: %v, want ErrNotFound", round, err)
		}
	}
}

// TestTrackingStoreIdleRefresh: hits keep pushing the idle TTL back, at
// least every refreshEvery(ttl) (ASVS V7.3.1).
func TestTrackingStoreIdleRefresh(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	r := newTrackingReplicas(t, 1)[0]
	const ttl = 800 * time.Millisecond // refreshEvery = 50ms
	s := newTestSession(time.Now(), "acct-idle")
	mustCreate(t, r, s, ttl)
	end := time.Now().Add(2 * time.Second)
	for time.Now().Before(end) {
		if _, err := r.Get(ctx, s.Handle, ttl); err != nil {
			t.Fatalf("Get during steady use, past the idle ttl since creation: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(ttl + 100*time.Millisecond)
	if _, err := r.Get(ctx, s.Handle, ttl); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after idling past the ttl: %v, want ErrNotFound", err)
	}
}

// TestTrackingStoreConcurrent: parallel Gets during revocations never
// bring a revoked session back (run with -race).
func TestTrackingStoreConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rs := newTrackingReplicas(t, 2)
	for i := range 20 {
		s := newTestSession(time.Now(), "acct-conc"+strconv.Itoa(i))
		mustCreate(t, rs[0], s, time.Hour)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
						_, _ = rs[1].Get(ctx, s.Handle, time.Hour)
					}
				}
			})
		}
		time.Sleep(5 * time.Millisecond)
		if err := rs[0].Delete(ctx, s.Handle); err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if _, err := rs[1].Get(ctx, s.Handle, time.Hour); !errors.Is(err, ErrNotFound) {
				t.Fatalf("round %d: Get after Delete with Gets in flight: %v, want ErrNotFound", i, err)
			}
		}
		close(stop)
		wg.Wait()
	}
}

// TestTrackingStoreRefusesCluster: a Cluster client is refused, not half served.
func TestTrackingStoreRefusesCluster(t *testing.T) {
	if _, err := NewTrackingStore(NewRedisStore(nil, RedisOptions{}), nil, TrackingOptions{}); !errors.Is(err, ErrTrackingUnsupported) {
		t.Fatalf("NewTrackingStore(nil client): %v, want ErrTrackingUnsupported", err)
	}
}

// BenchmarkStoreHit compares a warm Get of the two caches (the tracking
// cache pays a socket peek per hit, the pub/sub cache does not).
func BenchmarkStoreHit(b *testing.B) {
	c := testRedisClient(b)
	s := newTestSession(time.Now(), "acct-bench")
	for _, tc := range []struct {
		name string
		make func() Store
	}{
		{"Tracking", func() Store {
			return newTestTrackingStore(b, NewRedisStore(c, RedisOptions{KeyPrefix: testPrefix(b, c)}), c)
		}},
		{"Cached", func() Store {
			return newTestCachedStore(b, NewRedisStore(c, RedisOptions{KeyPrefix: testPrefix(b, c)}), c, CacheOptions{MaxAge: time.Hour})
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			st := tc.make()
			s := *s
			mustCreate(b, st, &s, time.Hour)
			for range 3 {
				_, _ = st.Get(b.Context(), s.Handle, time.Hour)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := st.Get(b.Context(), s.Handle, time.Hour); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// TestTrackingStoreRedisGone: when Redis goes away (both links close), the
// very next Get of a warm session is refused with ErrUnavailable, without
// waiting for the reader to notice (the closed socket is not quiet); when
// Redis is back the cache turns on again by itself.
func TestTrackingStoreRedisGone(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	direct := testRedisClient(t)
	prefix := testPrefix(t, direct)
	raw := NewRedisStore(direct, RedisOptions{KeyPrefix: prefix})
	link := startProxy(t, testRedisAddr(t))
	client := proxiedClient(t, link.addr)
	rec := &cmdRecorder{}
	client.AddHook(rec)
	r := trackingReplica{newTestTrackingStore(t, NewRedisStore(client, RedisOptions{KeyPrefix: prefix}), client), rec}

	s := newTestSession(time.Now(), "acct-gone")
	mustCreate(t, raw, s, time.Hour)
	r.warm(t, s.Handle)
	link.down()
	_, err := r.Get(ctx, s.Handle, time.Hour)
	wantErr(t, "Get of a warm session right after Redis went away", err, ErrUnavailable)

	if err := link.up(); err != nil {
		t.Skipf("cannot listen on %s again: %v", link.addr, err)
	}
	waitFor(t, 5*time.Second, "the cache to turn on again", r.healthy.Load)
	r.warm(t, s.Handle)
}

// TestHandleOfAllocs: HandleOf is on every request's path (the cookie's
// token to the store's handle): one allocation, the string it returns.
func TestHandleOfAllocs(t *testing.T) {
	token := NewToken()
	if got := testing.AllocsPerRun(100, func() { _ = HandleOf(token) }); got > 1 {
		t.Fatalf("HandleOf: %v allocations per call, want 1", got)
	}
}
