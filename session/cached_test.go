package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The CachedStore tests run on the real Redis of redis_test.go, with its
// skip rules, key prefixes and relays.

// invalidationWait is the longest a test waits for an invalidation to reach
// another replica; it normally takes well under a millisecond.
const invalidationWait = 200 * time.Millisecond

// newTestCachedStore returns a CachedStore, closed at the end of the test,
// once its subscription is confirmed (the cache is on).
func newTestCachedStore(tb testing.TB, inner *RedisStore, client redis.UniversalClient, opts CacheOptions) *CachedStore {
	tb.Helper()
	c := NewCachedStore(inner, client, opts)
	tb.Cleanup(func() { c.Close() })
	waitFor(tb, 5*time.Second, "the cache to turn on", c.healthy.Load)
	return c
}

// waitFor polls cond until it holds and returns how long that took.
func waitFor(tb testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			tb.Fatalf("waited %v for %s", limit, what)
		}
		time.Sleep(100 * time.Microsecond)
	}
	return time.Since(start)
}

// cacheLen counts the cache's slots, placeholders included.
func cacheLen(c *CachedStore) int {
	n := 0
	c.entries.Range(func(any, any) bool { n++; return true })
	return n
}

// replica is one gateway replica: a CachedStore on its own client, whose
// commands are recorded.
type replica struct {
	*CachedStore
	rec *cmdRecorder
}

// newReplicas returns n replicas sharing one Redis key space.
func newReplicas(t *testing.T, n int, opts CacheOptions) []replica {
	t.Helper()
	prefix := testPrefix(t, testRedisClient(t))
	var out []replica
	for range n {
		c := testRedisClient(t)
		rec := &cmdRecorder{}
		c.AddHook(rec)
		inner := NewRedisStore(c, RedisOptions{KeyPrefix: prefix})
		out = append(out, replica{newTestCachedStore(t, inner, c, opts), rec})
	}
	return out
}

// warm reads handle on r until it is served from memory, and checks it is.
func (r replica) warm(t *testing.T, handle string) {
	t.Helper()
	for i := range 2 {
		if _, err := r.Get(t.Context(), handle, time.Hour); err != nil {
			t.Fatalf("Get %d: %v", i, err)
		}
		if got := r.rec.take(); i == 1 && len(got) != 0 {
			t.Fatalf("second Get sent %v, want nothing (served from memory)", got)
		}
	}
}

// waitGet polls r.Get(handle) until ok accepts its answer, for at most
// invalidationWait, and returns how long that took.
func waitGet(t *testing.T, r replica, handle string, what string, ok func(*Session, error) bool) time.Duration {
	t.Helper()
	var (
		got *Session
		err error
	)
	d := waitFor(t, invalidationWait, what, func() bool {
		got, err = r.Get(t.Context(), handle, time.Hour)
		return ok(got, err)
	})
	return d
}

func isNotFound(_ *Session, err error) bool { return errors.Is(err, ErrNotFound) }

// TestCachedStoreReplicas: a write through one replica reaches the cache of
// another through the invalidation channel, not through MaxAge (an hour here).
func TestCachedStoreReplicas(t *testing.T) {
	t.Parallel()
	testRedisClient(t)
	opts := CacheOptions{MaxAge: time.Hour}

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		rs := newReplicas(t, 2, opts)
		a, b := rs[0], rs[1]
		ctx := t.Context()
		var lat []time.Duration
		for range 20 {
			s := newTestSession(time.Now(), "acct-1")
			mustCreate(t, a, s, time.Hour)
			a.warm(t, s.Handle)
			b.warm(t, s.Handle)
			if err := a.Delete(ctx, s.Handle); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := a.Get(ctx, s.Handle, time.Hour); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get on the deleting replica: got %v, want ErrNotFound at once", err)
			}
			lat = append(lat, waitGet(t, b, s.Handle, "the other replica to refuse a deleted session", isNotFound))
		}
		slices.Sort(lat)
		t.Logf("invalidation latency over %d deletes: median %v, max %v", len(lat), lat[len(lat)/2], lat[len(lat)-1])
		if med := lat[len(lat)/2]; med > 10*time.Millisecond {
			t.Errorf("median invalidation latency %v, want a few milliseconds", med)
		}
	})

	t.Run("Save", func(t *testing.T) {
		t.Parallel()
		rs := newReplicas(t, 2, opts)
		a, b := rs[0], rs[1]
		s := newTestSession(time.Now(), "acct-1")
		mustCreate(t, a, s, time.Hour)
		b.warm(t, s.Handle)
		s.ActiveConsole = "scaleway"
		s.Consoles = map[string]ConsoleSelection{"scaleway": {AccountID: "sc-1"}}
		if err := a.Save(t.Context(), s, time.Hour); err != nil {
			t.Fatalf("Save: %v", err)
		}
		d := waitGet(t, b, s.Handle, "the other replica to see the saved session", func(got *Session, err error) bool {
			return err == nil && got.ActiveConsole == "scaleway"
		})
		got, _ := b.Get(t.Context(), s.Handle, time.Hour)
		sameSession(t, got, s)
		t.Logf("saved session seen after %v", d)
	})

	t.Run("Rotate", func(t *testing.T) {
		t.Parallel()
		rs := newReplicas(t, 2, opts)
		a, b := rs[0], rs[1]
		s := newTestSession(time.Now(), "acct-1")
		mustCreate(t, a, s, time.Hour)
		old := s.Handle
		b.warm(t, old)
		if _, err := a.Rotate(t.Context(), s, time.Hour); err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		waitGet(t, b, old, "the other replica to refuse the rotated-away handle", isNotFound)
		got, err := b.Get(t.Context(), s.Handle, time.Hour)
		if err != nil {
			t.Fatalf("Get(new handle) on the other replica: %v", err)
		}
		sameSession(t, got, s)
	})

	t.Run("DeleteAccount", func(t *testing.T) {
		t.Parallel()
		rs := newReplicas(t, 2, opts)
		a, b := rs[0], rs[1]
		var mine []*Session
		for range 3 {
			s := newTestSession(time.Now(), "acct-a")
			mustCreate(t, a, s, time.Hour)
			b.warm(t, s.Handle)
			mine = append(mine, s)
		}
		other := newTestSession(time.Now(), "acct-b")
		mustCreate(t, a, other, time.Hour)
		b.warm(t, other.Handle)
		a.rec.take()

		n, err := a.DeleteAccount(t.Context(), "acct-a", mine[1].Handle)
		if err != nil || n != 2 {
			t.Fatalf("DeleteAccount: got %d, %v; want 2", n, err)
		}
		var publishes int
		for _, c := range a.rec.take() {
			if c == "publish" {
				publishes++
			}
		}
		if publishes != 1 {
			t.Errorf("DeleteAccount published %d messages, want 1 for all the handles", publishes)
		}
		for _, i := range []int{0, 2} {
			waitGet(t, b, mine[i].Handle, "the other replica to refuse a revoked session", isNotFound)
		}
		b.rec.take()
		for _, s := range []*Session{mine[1], other} {
			if _, err := b.Get(t.Context(), s.Handle, time.Hour); err != nil {
				t.Fatalf("a session DeleteAccount kept: %v", err)
			}
		}
		if got := b.rec.take(); len(got) != 0 {
			t.Errorf("Gets of sessions DeleteAccount kept sent %v, want nothing: only the removed handles are dropped", got)
		}
	})
}

// TestCachedStoreHitNoRoundTrip: a warm session costs no Redis command
// (DESIGN.md), and each caller gets its own copy.
func TestCachedStoreHitNoRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := testRedisClient(t)
	rec := &cmdRecorder{}
	c.AddHook(rec)
	cs := newTestCachedStore(t, NewRedisStore(c, RedisOptions{KeyPrefix: testPrefix(t, c)}), c, CacheOptions{MaxAge: time.Minute})

	s := newTestSession(time.Now(), "acct-1")
	s.Consoles = map[string]ConsoleSelection{"dedibox": {AccountID: "ded-1"}}
	mustCreate(t, cs, s, time.Hour)
	rec.take()
	for i := range 100 {
		got, err := cs.Get(ctx, s.Handle, time.Hour)
		if err != nil {
			t.Fatalf("Get %d: %v", i, err)
		}
		sameSession(t, got, s)
		// The caller owns what it gets: changing it changes nothing cached.
		got.Factors[0] = "changed"
		got.Factors = append(got.Factors, "more")
		got.Consoles["dedibox"] = ConsoleSelection{AccountID: "changed"}
		got.Consoles["scaleway"] = ConsoleSelection{AccountID: "added"}
		got.Email = "changed"
	}
	if got := rec.take(); len(got) > 1 || (len(got) == 1 && got[0] != "getex") {
		t.Fatalf("100 Gets within MaxAge sent %v, want at most one GETEX", got)
	}
}

// TestCachedStoreMaxAge: a copy is served for MaxAge, then Redis is asked
// again with GETEX, so steady traffic keeps the idle TTL moving.
func TestCachedStoreMaxAge(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := testRedisClient(t)
	rec := &cmdRecorder{}
	c.AddHook(rec)
	prefix := testPrefix(t, c)
	// Generous margins: a loaded CI machine can pause a goroutine for hundreds of milliseconds.
	const maxAge, idle = 100 * time.Millisecond, 2 * time.Second
	cs := newTestCachedStore(t, NewRedisStore(c, RedisOptions{KeyPrefix: prefix}), c, CacheOptions{MaxAge: maxAge})

	s := newTestSession(time.Now(), "acct-1")
	mustCreate(t, cs, s, idle)
	rec.take()
	for range 10 {
		if _, err := cs.Get(ctx, s.Handle, idle); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.take(); !slices.Equal(got, []string{"getex"}) {
		t.Fatalf("10 Gets in a row sent %v, want one GETEX", got)
	}
	time.Sleep(maxAge + 10*time.Millisecond)
	if _, err := cs.Get(ctx, s.Handle, idle); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"getex"}) {
		t.Fatalf("Get after MaxAge sent %v, want a GETEX", got)
	}

	// Steady traffic for four idle timeouts: alive only because the GETEX
	// of each MaxAge pushed the idle expiry back.
	const run = 2 * idle
	start := time.Now()
	for time.Since(start) < run {
		if _, err := cs.Get(ctx, s.Handle, idle); err != nil {
			t.Fatalf("Get after %v of steady traffic: %v", time.Since(start), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	getex := len(rec.take())
	if most := int(run/maxAge) + 2; getex < 5 || getex > most {
		t.Errorf("%v of steady traffic sent %d GETEX, want one per MaxAge (%v): between 5 and %d", run, getex, maxAge, most)
	}
	if ttl := c.PTTL(ctx, prefix+"session:"+s.Handle).Val(); ttl <= 0 || ttl > idle {
		t.Errorf("PTTL after steady traffic: got %v, want within the idle timeout %v", ttl, idle)
	}
}

// TestCachedStoreAbsoluteExpiryOnHit: a copy fetched a moment ago is still
// refused once its absolute expiry has passed (ASVS V7.3.2).
func TestCachedStoreAbsoluteExpiryOnHit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := testRedisClient(t)
	rec := &cmdRecorder{}
	c.AddHook(rec)
	clock := newFakeClock()
	inner := NewRedisStore(c, RedisOptions{KeyPrefix: testPrefix(t, c), Now: clock.Now})
	cs := newTestCachedStore(t, inner, c, CacheOptions{MaxAge: time.Hour})

	s := newTestSession(clock.Now(), "acct-1")
	s.ExpiresAt = clock.Now().Add(time.Minute)
	mustCreate(t, cs, s, time.Hour)
	replica{cs, rec}.warm(t, s.Handle)
	clock.Advance(time.Minute - time.Second)
	if _, err := cs.Get(ctx, s.Handle, time.Hour); err != nil {
		t.Fatalf("Get a second before the absolute expiry: %v", err)
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("Get before the absolute expiry sent %v, want a hit", got)
	}
	clock.Advance(time.Second)
	_, err := cs.Get(ctx, s.Handle, time.Hour)
	wantErr(t, "Get of a cached session at its absolute expiry", err, ErrNotFound)
	if _, ok := cs.entries.Load(s.Handle); ok {
		t.Errorf("an expired session stays cached")
	}
}

// TestCachedStoreStaleRefill: a Get whose Redis read predates a write must
// not cache what it read once this replica has heard of the write; else the
// write (a revocation) would be undone here for MaxAge.
func TestCachedStoreStaleRefill(t *testing.T) {
	t.Parallel()
	rs := newReplicas(t, 2, CacheOptions{MaxAge: time.Hour})
	a, b := rs[0], rs[1]
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		write func(s *Session)                   // runs between b's read and its caching
		check func(got *Session, err error) bool // b's next Get
	}{
		{"Delete", func(s *Session) { a.Delete(ctx, s.Handle) }, isNotFound},
		{"Save", func(s *Session) {
			c := s.clone()
			c.ActiveConsole = "dedibox"
			a.Save(ctx, c, time.Hour)
		}, func(got *Session, err error) bool { return err == nil && got.ActiveConsole == "dedibox" }},
		{"DeleteAccount", func(s *Session) { a.DeleteAccount(ctx, s.AccountID, "") }, isNotFound},
		{"Flush", func(s *Session) {
			b.flush()
			a.inner.Delete(ctx, s.Handle) // behind the cache's back: only the flush protects b
		}, isNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestSession(time.Now(), "acct-"+tc.name)
			mustCreate(t, a, s, time.Hour)
			var once sync.Once
			b.afterFetch = func(h string) {
				once.Do(func() {
					tc.write(s)
					waitFor(t, time.Second, "b to drop the slot", func() bool {
						_, ok := b.entries.Load(h)
						return !ok
					})
				})
			}
			got, err := b.Get(ctx, s.Handle, time.Hour)
			b.afterFetch = nil
			if err != nil || got.ActiveConsole != "" {
				t.Fatalf("the racing Get: got %+v, %v; want the session as read before the write", got, err)
			}
			if _, ok := b.entries.Load(s.Handle); ok {
				t.Fatalf("the value read before the write was cached after it")
			}
			got, err = b.Get(ctx, s.Handle, time.Hour)
			if !tc.check(got, err) {
				t.Fatalf("next Get: got %+v, %v; want the write's effect", got, err)
			}
		})
	}
}

// TestCachedStoreResubscribeFlushes: a confirmation of the subscription
// empties the cache, since invalidations published before it were missed.
func TestCachedStoreResubscribeFlushes(t *testing.T) {
	t.Parallel()
	rs := newReplicas(t, 1, CacheOptions{MaxAge: time.Hour})
	r := rs[0]
	s := newTestSession(time.Now(), "acct-1")
	mustCreate(t, r, s, time.Hour)
	r.warm(t, s.Handle)
	if !r.receive(&redis.Subscription{Kind: "subscribe", Channel: r.channel, Count: 1}) {
		t.Fatalf("a subscribe confirmation was not taken as one")
	}
	if n := cacheLen(r.CachedStore); n != 0 {
		t.Fatalf("cache holds %d entries after a new subscription, want none", n)
	}
	for _, msg := range []any{
		&redis.Subscription{Kind: "subscribe", Channel: "other"},
		&redis.Subscription{Kind: "unsubscribe", Channel: r.channel},
		&redis.Pong{},
		&redis.Message{Channel: "other", Payload: s.Handle},
	} {
		r.warm(t, s.Handle)
		if r.receive(msg) || cacheLen(r.CachedStore) != 1 {
			t.Fatalf("receive(%#v) changed the cache", msg)
		}
	}
}

// TestCachedStoreConcurrent: writes on one replica racing reads on another
// leave the reader with the last write, not with a value cached in between.
func TestCachedStoreConcurrent(t *testing.T) {
	t.Parallel()
	rs := newReplicas(t, 2, CacheOptions{MaxAge: time.Hour})
	a, b := rs[0], rs[1]
	ctx := t.Context()
	var sessions []*Session
	for range 4 {
		s := newTestSession(time.Now(), "acct-1")
		mustCreate(t, a, s, time.Hour)
		sessions = append(sessions, s)
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for i := range 8 {
		readers.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				s := sessions[(i+n)%len(sessions)]
				if _, err := b.Get(ctx, s.Handle, time.Hour); err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				if n%50 == 0 {
					a.Get(ctx, s.Handle, time.Hour) // a caches too: its own writes must drop it
				}
			}
		})
	}
	var writers sync.WaitGroup
	for _, s := range sessions {
		writers.Go(func() {
			for v := range 100 {
				c := s.clone()
				c.Email = fmt.Sprintf("v%d@example.test", v)
				if err := a.Save(ctx, c, time.Hour); err != nil {
					t.Errorf("Save: %v", err)
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	for _, s := range sessions {
		for _, r := range rs {
			waitGet(t, r, s.Handle, "the last write everywhere", func(got *Session, err error) bool {
				return err == nil && got.Email == "v99@example.test"
			})
		}
	}
	for _, s := range sessions {
		if err := a.Delete(ctx, s.Handle); err != nil {
			t.Fatal(err)
		}
		waitGet(t, b, s.Handle, "the delete everywhere", isNotFound)
	}
}

// proxiedClient is a client on the test Redis through addr (a relay).
func proxiedClient(tb testing.TB, addr string) redis.UniversalClient {
	tb.Helper()
	opt, err := redis.ParseURL(testRedisURL())
	if err != nil {
		tb.Fatal(err)
	}
	c, err := NewRedisClient(RedisClientOptions{
		Addrs: []string{addr}, DB: opt.DB, Username: opt.Username, Password: opt.Password, TLS: opt.TLSConfig,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func testRedisAddr(tb testing.TB) string {
	tb.Helper()
	opt, err := redis.ParseURL(testRedisURL())
	if err != nil {
		tb.Fatal(err)
	}
	return opt.Addr
}

// TestCachedStoreLinkCut: when the subscription breaks, the cache is emptied
// and off; Gets go to Redis, so a Redis outage is refused (CONTRACT §7)
// rather than served from memory; after recovery the cache is on again.
func TestCachedStoreLinkCut(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	direct := testRedisClient(t)
	prefix := testPrefix(t, direct)
	raw := NewRedisStore(direct, RedisOptions{KeyPrefix: prefix})
	subProxy := startProxy(t, testRedisAddr(t))   // carries the subscription
	storeProxy := startProxy(t, testRedisAddr(t)) // carries the store's commands
	storeClient := proxiedClient(t, storeProxy.addr)
	rec := &cmdRecorder{}
	storeClient.AddHook(rec)
	var (
		mu  sync.Mutex
		ops []string
	)
	cs := newTestCachedStore(t, NewRedisStore(storeClient, RedisOptions{KeyPrefix: prefix}), proxiedClient(t, subProxy.addr),
		CacheOptions{MaxAge: time.Hour, OnError: func(op string) { mu.Lock(); ops = append(ops, op); mu.Unlock() }})
	r := replica{cs, rec}

	s := newTestSession(time.Now(), "acct-1")
	mustCreate(t, raw, s, time.Hour)
	r.warm(t, s.Handle)

	// Redis goes away: both links close at once.
	subProxy.down()
	storeProxy.down()
	d := waitFor(t, time.Second, "the cache to turn off", func() bool { return !cs.healthy.Load() })
	t.Logf("cache off %v after the connection closed", d)
	if n := cacheLen(cs); n != 0 {
		t.Errorf("cache holds %d entries after the link broke, want none", n)
	}
	_, err := cs.Get(ctx, s.Handle, time.Hour)
	wantErr(t, "Get of a warm session with Redis down", err, ErrUnavailable)
	mu.Lock()
	if !slices.Contains(ops, "subscribe") {
		t.Errorf("OnError got %v, want a subscribe failure", ops)
	}
	mu.Unlock()

	// Redis comes back: the cache turns on again by itself.
	if err := subProxy.up(); err != nil {
		t.Skipf("cannot listen on %s again: %v", subProxy.addr, err)
	}
	if err := storeProxy.up(); err != nil {
		t.Skipf("cannot listen on %s again: %v", storeProxy.addr, err)
	}
	d = waitFor(t, 5*time.Second, "the cache to turn on again", cs.healthy.Load)
	t.Logf("cache on %v after Redis came back", d)
	waitFor(t, 5*time.Second, "the store to answer again", func() bool {
		_, err := cs.Get(ctx, s.Handle, time.Hour)
		return err == nil
	})
	rec.take()
	r.warm(t, s.Handle)

	// Only the subscription breaks: Gets still work, from Redis, and see
	// writes made behind this replica's back at once.
	subProxy.down()
	waitFor(t, time.Second, "the cache to turn off", func() bool { return !cs.healthy.Load() })
	for range 3 {
		if _, err := cs.Get(ctx, s.Handle, time.Hour); err != nil {
			t.Fatalf("Get with the subscription down: %v", err)
		}
	}
	if got := rec.take(); !slices.Equal(got, []string{"getex", "getex", "getex"}) {
		t.Errorf("3 Gets with the subscription down sent %v, want a GETEX each", got)
	}
	if err := raw.Delete(ctx, s.Handle); err != nil {
		t.Fatal(err)
	}
	_, err = cs.Get(ctx, s.Handle, time.Hour)
	wantErr(t, "Get after a delete no replica was told of", err, ErrNotFound)
	if err := subProxy.up(); err != nil {
		t.Skipf("cannot listen on %s again: %v", subProxy.addr, err)
	}
	waitFor(t, 5*time.Second, "the cache to turn on again", cs.healthy.Load)
}

// stallRelay forwards TCP to a target and can stall: bytes are then read
// but held, so each end sees a connection that is open and silent (a
// partition, a frozen Redis), which no read or write error reveals.
type stallRelay struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	resume  chan struct{} // closed when a stall ends; nil when not stalled
	conns   map[net.Conn]struct{}
	stopped bool
	wg      sync.WaitGroup
}

func startStallRelay(tb testing.TB, target string) *stallRelay {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &stallRelay{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	r.wg.Go(r.accept)
	tb.Cleanup(func() {
		r.unstall()
		ln.Close()
		r.mu.Lock()
		r.stopped = true
		for c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return r
}

func (r *stallRelay) addr() string { return r.ln.Addr().String() }

func (r *stallRelay) accept() {
	for {
		in, err := r.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", r.target)
		if err != nil {
			in.Close()
			continue
		}
		r.mu.Lock()
		if r.stopped {
			r.mu.Unlock()
			in.Close()
			out.Close()
			return
		}
		r.conns[in], r.conns[out] = struct{}{}, struct{}{}
		r.mu.Unlock()
		r.wg.Go(func() { r.pipe(out, in) })
		r.wg.Go(func() { r.pipe(in, out) })
	}
}

func (r *stallRelay) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			r.mu.Lock()
			resume := r.resume
			r.mu.Unlock()
			if resume != nil {
				<-resume
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *stallRelay) stall() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.resume == nil {
		r.resume = make(chan struct{})
	}
}

func (r *stallRelay) unstall() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.resume != nil {
		close(r.resume)
		r.resume = nil
	}
}

// TestCachedStoreSilentLink: a subscription that stays open but answers
// nothing is found out by an unanswered ping, and the cache turns off.
func TestCachedStoreSilentLink(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	direct := testRedisClient(t)
	prefix := testPrefix(t, direct)
	relay := startStallRelay(t, testRedisAddr(t))
	const pingEvery = 100 * time.Millisecond
	cs := newTestCachedStore(t, NewRedisStore(direct, RedisOptions{KeyPrefix: prefix}), proxiedClient(t, relay.addr()),
		CacheOptions{MaxAge: time.Hour, pingEvery: pingEvery})
	s := newTestSession(time.Now(), "acct-1")
	mustCreate(t, cs, s, time.Hour)
	if _, err := cs.Get(ctx, s.Handle, time.Hour); err != nil {
		t.Fatal(err)
	}

	relay.stall()
	d := waitFor(t, 2*time.Second, "the cache to turn off", func() bool { return !cs.healthy.Load() })
	t.Logf("silent link found out after %v (ping every %v)", d, pingEvery)
	if d > 4*pingEvery+200*time.Millisecond {
		t.Errorf("silent link found out after %v, want about two ping intervals", d)
	}
	if n := cacheLen(cs); n != 0 {
		t.Errorf("cache holds %d entries after the link went silent, want none", n)
	}
	relay.unstall()
	waitFor(t, 10*time.Second, "the cache to turn on again", cs.healthy.Load)
}

// TestCachedStorePublishFailure: a write that succeeded is not failed by
// the PUBLISH after it; the failure is reported, and this replica drops its
// own copy all the same.
func TestCachedStorePublishFailure(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	direct := testRedisClient(t)
	prefix := testPrefix(t, direct)
	proxy := startProxy(t, testRedisAddr(t))
	var (
		mu  sync.Mutex
		ops []string
	)
	cs := newTestCachedStore(t, NewRedisStore(direct, RedisOptions{KeyPrefix: prefix}), proxiedClient(t, proxy.addr),
		CacheOptions{MaxAge: time.Hour, OnError: func(op string) { mu.Lock(); ops = append(ops, op); mu.Unlock() }})
	s := newTestSession(time.Now(), "acct-1")
	mustCreate(t, cs, s, time.Hour)
	if _, err := cs.Get(ctx, s.Handle, time.Hour); err != nil {
		t.Fatal(err)
	}
	proxy.down()
	if err := cs.Delete(ctx, s.Handle); err != nil {
		t.Fatalf("Delete with PUBLISH failing: got %v, want nil (the delete itself succeeded)", err)
	}
	mu.Lock()
	if !slices.Contains(ops, "publish") {
		t.Errorf("OnError got %v, want a publish failure", ops)
	}
	mu.Unlock()
	_, err := cs.Get(ctx, s.Handle, time.Hour)
	wantErr(t, "Get after Delete", err, ErrNotFound)
}

// TestCachedStoreMaxEntries: the cache stays within its bound and keeps
// answering right when full.
func TestCachedStoreMaxEntries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := testRedisClient(t)
	const bound = 16
	cs := newTestCachedStore(t, NewRedisStore(c, RedisOptions{KeyPrefix: testPrefix(t, c)}), c,
		CacheOptions{MaxAge: time.Hour, MaxEntries: bound})
	var all []*Session
	for i := range 100 {
		s := newTestSession(time.Now(), fmt.Sprintf("acct-%d", i))
		mustCreate(t, cs, s, time.Hour)
		all = append(all, s)
		if _, err := cs.Get(ctx, s.Handle, time.Hour); err != nil {
			t.Fatal(err)
		}
		if n := cacheLen(cs); n > bound {
			t.Fatalf("cache holds %d entries, want at most %d", n, bound)
		}
	}
	for _, s := range all {
		got, err := cs.Get(ctx, s.Handle, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		sameSession(t, got, s)
	}
}

// cacheListeners counts the goroutines running a CachedStore's subscription.
func cacheListeners() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), ".(*CachedStore).listen(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestCachedStoreClose: Close ends the subscription goroutine, whether the
// link is up or down, and the store keeps working without the cache. Not
// parallel: it counts goroutines.
func TestCachedStoreClose(t *testing.T) {
	base := testRedisClient(t)
	prefix := testPrefix(t, base)
	before, goroutines := cacheListeners(), runtime.NumGoroutine()

	c, err := NewRedisClient(RedisClientOptions{URL: testRedisURL()})
	if err != nil {
		t.Fatal(err)
	}
	rec := &cmdRecorder{}
	c.AddHook(rec)
	cs := NewCachedStore(NewRedisStore(c, RedisOptions{KeyPrefix: prefix}), c, CacheOptions{})
	waitFor(t, 5*time.Second, "the cache to turn on", cs.healthy.Load)
	if got := cacheListeners(); got != before+1 {
		t.Fatalf("%d subscription goroutines running, want %d", got, before+1)
	}
	s := newTestSession(time.Now(), "acct-1")
	mustCreate(t, cs, s, time.Hour)
	if err := cs.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := cs.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Goroutines of other tests' stores may still be ending under -race on
	// a loaded machine (one was seen once): give the count a moment.
	deadline := time.Now().Add(2 * time.Second)
	for cacheListeners() != before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := cacheListeners(); got != before {
		t.Fatalf("after Close %d subscription goroutines running, want %d", got, before)
	}
	rec.take()
	for range 2 {
		if _, err := cs.Get(t.Context(), s.Handle, time.Hour); err != nil {
			t.Fatalf("Get after Close: %v", err)
		}
	}
	if got := rec.take(); !slices.Equal(got, []string{"getex", "getex"}) {
		t.Errorf("2 Gets after Close sent %v, want a GETEX each (no cache)", got)
	}

	// Close while the subscription cannot connect.
	down, err := NewRedisClient(RedisClientOptions{URL: "redis://" + closedAddr(t) + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	cs = NewCachedStore(NewRedisStore(down, RedisOptions{}), down, CacheOptions{})
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	cs.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close with Redis down took %v", d)
	}
	if got := cacheListeners(); got != before {
		t.Fatalf("after Close with Redis down %d subscription goroutines running, want %d", got, before)
	}

	c.Close()
	down.Close()
	waitFor(t, 2*time.Second, "the goroutine count to come back", func() bool { return runtime.NumGoroutine() <= goroutines })
}

// TestSessionClone: clone copies every field and shares nothing a caller
// may change. A new reference field in Session fails here until clone
// copies it.
func TestSessionClone(t *testing.T) {
	typ := reflect.TypeFor[Session]()
	var refs []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		switch f.Type.Kind() {
		case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface, reflect.Array, reflect.Chan, reflect.Func:
			refs = append(refs, f.Name)
		case reflect.Struct:
			if f.Type != reflect.TypeFor[time.Time]() {
				refs = append(refs, f.Name)
			}
		}
	}
	if want := []string{"Factors", "EmailCode", "Signup", "SSO", "Ceremony", "Consoles", "Proof", "HoldsMFA"}; !slices.Equal(refs, want) {
		t.Fatalf("Session fields holding references: %v, want %v: make clone copy the new ones", refs, want)
	}
	s := newTestSession(time.Now(), "acct-1")
	s.Handle = HandleOf(NewToken())
	s.Consoles = map[string]ConsoleSelection{"dedibox": {AccountID: "ded-1"}}
	s.EmailCode = []byte(`{"hash":"h"}`)
	s.Ceremony = []byte(`{"challenge":"c"}`)
	holds := true
	s.Proof, s.HoldsMFA = []string{"totp"}, &holds
	c := s.clone()
	sameSession(t, c, s)
	c.Factors[0] = "x"
	c.Consoles["dedibox"] = ConsoleSelection{}
	c.EmailCode[2] = 'X'
	c.Ceremony[2] = 'X'
	c.Proof[0] = "x"
	*c.HoldsMFA = false
	if s.Proof[0] != "totp" || !*s.HoldsMFA {
		t.Fatalf("clone shares the proof with the original")
	}
	if s.Factors[0] != "password" || s.Consoles["dedibox"].AccountID != "ded-1" ||
		string(s.EmailCode) != `{"hash":"h"}` || string(s.Ceremony) != `{"challenge":"c"}` {
		t.Fatalf("clone shares a slice or map with the original")
	}
	var empty Session
	if c := empty.clone(); c.Factors != nil || c.Consoles != nil || c.EmailCode != nil || c.Ceremony != nil {
		t.Fatalf("clone of an empty session: got %+v", c)
	}
}

// BenchmarkCachedGet is the hit path (compare BenchmarkRedisGetParallel).
func BenchmarkCachedGet(b *testing.B) {
	c := testRedisClient(b)
	cs := newTestCachedStore(b, NewRedisStore(c, RedisOptions{KeyPrefix: testPrefix(b, c)}), c, CacheOptions{MaxAge: time.Hour})
	var handles []string
	for range 64 {
		s := newTestSession(time.Now(), "acct-1")
		s.Consoles = map[string]ConsoleSelection{"dedibox": {AccountID: "ded-1"}}
		mustCreate(b, cs, s, time.Hour)
		if _, err := cs.Get(b.Context(), s.Handle, time.Hour); err != nil {
			b.Fatal(err)
		}
		handles = append(handles, s.Handle)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for i := 0; pb.Next(); i++ {
			if _, err := cs.Get(ctx, handles[i%len(handles)], time.Hour); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCachedGetSerial is the hit path on one goroutine (compare BenchmarkRedisGet).
func BenchmarkCachedGetSerial(b *testing.B) {
	c := testRedisClient(b)
	cs := newTestCachedStore(b, NewRedisStore(c, RedisOptions{KeyPrefix: testPrefix(b, c)}), c, CacheOptions{MaxAge: time.Hour})
	s := newTestSession(time.Now(), "acct-1")
	s.Consoles = map[string]ConsoleSelection{"dedibox": {AccountID: "ded-1"}}
	mustCreate(b, cs, s, time.Hour)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cs.Get(ctx, s.Handle, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
