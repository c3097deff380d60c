package session

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// TrackingStore is a RedisStore with a per-replica cache of sessions that
// Redis itself keeps coherent (server-assisted client-side caching, Redis
// "CLIENT TRACKING"). It is the default store on one Redis node or Sentinel:
// a warm session costs no round trip, yet a revoked session is refused on
// its next request on every replica, as with the plain RedisStore.
//
// How it stays coherent. One dedicated connection per replica runs
// "CLIENT TRACKING ON REDIRECT <its own id> BCAST PREFIX <prefix>session:"
// and subscribes to __redis__:invalidate. From then on Redis sends that
// connection the name of every session key any client changes, deletes or
// lets expire, whoever wrote it: no replica needs to publish anything, and no
// write can be missed while the connection lives. Redis writes the message
// in the same event-loop turn as its reply to the write: when a revocation
// has been answered the invalidation has been sent to every replica, and it
// reaches a replica before any request that follows the revocation can (one
// hop from Redis against at least three: Redis to the revoking replica, to
// the client, to this replica; on loopback it is in the socket already). A
// hit is served only when the socket holds nothing unread (see quiet).
//
// A cached session is served only while all of these hold:
//   - the tracking connection is up and Redis has confirmed its
//     subscription. A dropped connection (killed client, Redis restart,
//     failover) flushes the cache, and so does every new connection: Redis
//     tracked nothing for it. Until the new subscription is confirmed every
//     Get goes to Redis, so an outage is refused (503), never served from
//     memory (fail closed).
//   - the connection is quiet: its reader is waiting inside Read and the
//     socket holds no unread byte, so every invalidation Redis has sent is
//     applied (see trackedConn.quiet). Otherwise the Get goes to Redis.
//   - the key's expiry as last read (PTTL) and the session's absolute expiry
//     (ExpiresAt, ASVS V7.3.2) are both ahead.
//   - the idle TTL was pushed back less than refreshEvery(ttl) ago.
//
// Idle timeout (ASVS V7.3.1): changing a key's TTL is a write, and Redis
// invalidates every copy of it, so a hit cannot push the TTL back as GETEX
// does on every RedisStore.Get. Instead the first Get after refreshEvery(ttl)
// (a sixteenth of the idle timeout, at most 10s) goes to Redis with GETEX. A
// session used only through hits therefore expires between
// ttl-refreshEvery(ttl) and ttl after its last use.
//
// Only Get is served from memory; everything else is RedisStore's. Writes
// also drop the local copy at once, before the invalidation comes back.
// Cluster is not supported (a tracking connection sees one node's keys), nor
// TLS: NewTrackingStore refuses them and the caller keeps RedisStore.
type TrackingStore struct {
	passthrough               // the calls no cache changes go straight to Redis
	tracker     *redis.Client // one connection: the subscription; tracking armed on it by OnConnect
	keyPrefix   string        // inner.prefix + "session:"
	maxEntries  int
	pingEvery   time.Duration
	log         *slog.Logger
	onError     func(op string)

	entries   sync.Map     // handle → *trackedEntry; lock-free reads on the hit path
	refreshed sync.Map     // handle → time.Time after which the idle TTL must be pushed back
	count     atomic.Int64 // about len(entries): exact after each prune
	healthy   atomic.Bool  // the subscription on the current connection is confirmed
	link      atomic.Pointer[trackedConn]
	clientID  atomic.Int64 // Redis's id of the tracking connection (tests kill it)
	evicting  sync.Mutex

	// afterFetch, when set by a test, runs between the Redis read of a miss
	// and the decision to cache its result.
	afterFetch func(handle string)

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	ps        *redis.PubSub
	closed    bool
}

// TrackingOptions configure a TrackingStore. The zero value is usable.
type TrackingOptions struct {
	// MaxEntries bounds the number of cached sessions; 0 (or less) is
	// 100_000.
	MaxEntries int
	// Logger receives the tracking connection's state changes; nil discards them.
	Logger *slog.Logger
	// OnError, when set, is called once per failure of the tracking
	// connection, with op "subscribe". It must be safe for concurrent use.
	OnError func(op string)

	// pingEvery: see CacheOptions.pingEvery.
	pingEvery time.Duration
}

// ErrTrackingUnsupported: the client is a Cluster client, or uses TLS (TLS
// reads ahead of what it hands back, so a hit could not prove that no
// invalidation is left unread; see trackedConn).
var ErrTrackingUnsupported = errors.New("session: client-side caching with CLIENT TRACKING needs one Redis node or Sentinel without TLS")

// trackingChannel is where Redis sends invalidations to a redirect target.
const trackingChannel = "__redis__:invalidate"

// maxRefreshEvery caps how long a hit may go without pushing the idle TTL back.
const maxRefreshEvery = 10 * time.Second

// refreshEvery is how often the idle TTL of a session served from memory is
// pushed back in Redis.
func refreshEvery(ttl time.Duration) time.Duration { return min(ttl/16, maxRefreshEvery) }

// trackedEntry is one slot of the cache, never modified once stored. An
// entry with a nil s is a placeholder stored while a Get reads Redis.
type trackedEntry struct {
	s     *Session
	until time.Time // the key's expiry in Redis as read (monotonic)
}

var _ Store = (*TrackingStore)(nil)

// NewTrackingStore puts a tracking cache in front of inner. client is the
// one inner uses (or one like it); the store opens its own single
// connection with the same options and closes it in Close. The cache is off
// until Redis has confirmed the tracking subscription, a few milliseconds.
func NewTrackingStore(inner *RedisStore, client redis.UniversalClient, opts TrackingOptions) (*TrackingStore, error) {
	base, ok := client.(*redis.Client)
	if !ok || inner == nil || base.Options().TLSConfig != nil {
		return nil, ErrTrackingUnsupported
	}
	t := &TrackingStore{
		passthrough: passthrough{inner},
		keyPrefix:   inner.prefix + "session:",
		maxEntries:  opts.MaxEntries,
		pingEvery:   opts.pingEvery,
		log:         opts.Logger,
		onError:     opts.OnError,
		done:        make(chan struct{}),
	}
	if t.maxEntries <= 0 {
		t.maxEntries = defaultCacheMaxEntries
	}
	if t.pingEvery <= 0 {
		t.pingEvery = defaultCachePingEvery
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.onError == nil {
		t.onError = func(string) {}
	}
	o := *base.Options() // the client's dialer already resolves Sentinel and applies TLS
	dial := o.Dialer
	o.Protocol = 2 // RESP2: invalidations come as pub/sub messages of trackingChannel
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 1, 0, 0
	o.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// A new connection: Redis tracked nothing for it yet.
		t.healthy.Store(false)
		t.flush()
		tc := newTrackedConn(c)
		t.link.Store(tc)
		return tc, nil
	}
	o.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		id, err := cn.ClientID(ctx).Result()
		if err != nil {
			return err
		}
		t.clientID.Store(id)
		return cn.Do(ctx, "client", "tracking", "on", "redirect", id, "bcast", "prefix", t.keyPrefix).Err()
	}
	t.tracker = redis.NewClient(&o)
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	go t.listen(ctx)
	return t, nil
}

// Close stops the tracking connection and waits for its goroutine. The
// store keeps working afterwards, without the cache.
func (t *TrackingStore) Close() error {
	t.closeOnce.Do(func() {
		t.cancel()
		t.mu.Lock()
		t.closed = true
		if t.ps != nil {
			_ = t.ps.Close()
		}
		t.mu.Unlock()
		<-t.done
		t.healthy.Store(false)
		t.flush()
		_ = t.tracker.Close()
	})
	return nil
}

// Get serves the session from memory when it may (see TrackingStore), else
// reads it from Redis and caches it. The caller gets its own copy.
func (t *TrackingStore) Get(ctx context.Context, handle string, ttl time.Duration) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable(err)
	}
	if !validHandle(handle) {
		return nil, ErrNotFound
	}
	if ttl <= 0 || !t.healthy.Load() {
		return t.inner.Get(ctx, handle, ttl)
	}
	start := time.Now()
	// quiet first, then the entry: an invalidation applied between the two
	// would otherwise let a copy loaded before it through.
	quiet := t.quiet()
	v, _ := t.entries.Load(handle)
	e, _ := v.(*trackedEntry)
	if quiet && e != nil && e.s != nil && start.Before(e.until) && !t.refreshDue(handle, start) &&
		t.inner.now().Before(e.s.ExpiresAt) {
		return e.s.clone(), nil
	}
	return t.fetch(ctx, handle, ttl, e, start)
}

// refreshDue reports whether the idle TTL of handle must be pushed back.
func (t *TrackingStore) refreshDue(handle string, now time.Time) bool {
	v, ok := t.refreshed.Load(handle)
	return !ok || !now.Before(v.(time.Time))
}

// quiet reports that every invalidation Redis has sent has been applied.
func (t *TrackingStore) quiet() bool {
	l := t.link.Load()
	return l != nil && l.quiet()
}

// fetch reads a session from Redis (GETEX when its idle TTL is due, else
// GET, with PTTL) and caches it unless its slot changed meanwhile: an
// invalidation or flush deletes slots, so a changed slot means the value
// read may predate a write. Our own GETEX is such a write: the copy it
// brings is usually dropped by its own invalidation, and the next Get, a GET
// this time, caches it.
func (t *TrackingStore) fetch(ctx context.Context, handle string, ttl time.Duration, slot *trackedEntry, start time.Time) (*Session, error) {
	if slot == nil {
		placeholder := new(trackedEntry)
		v, loaded := t.entries.LoadOrStore(handle, placeholder)
		if loaded {
			slot = v.(*trackedEntry)
		} else {
			slot = placeholder
			t.added()
		}
	}
	refresh := t.refreshDue(handle, start)
	key := t.inner.sessionKey(handle)
	pipe := t.inner.client.Pipeline()
	var get *redis.StringCmd
	if refresh {
		get = pipe.GetEx(ctx, key, ttl)
	} else {
		get = pipe.Get(ctx, key)
	}
	pttl := pipe.PTTL(ctx, key)
	s, err := t.read(ctx, pipe, handle, get)
	if t.afterFetch != nil {
		t.afterFetch(handle)
	}
	if err != nil || !s.Complete() {
		// Neither absence nor failure is cached, nor a login in progress
		// (its one-time state is always read from Redis).
		if t.entries.CompareAndDelete(handle, slot) {
			t.count.Add(-1)
		}
		return s, err
	}
	if refresh {
		t.refreshed.Store(handle, start.Add(refreshEvery(ttl)))
	}
	if left := pttl.Val(); left > 0 {
		t.entries.CompareAndSwap(handle, slot, &trackedEntry{s: s.clone(), until: start.Add(left)})
	} else if t.entries.CompareAndDelete(handle, slot) {
		t.count.Add(-1)
	}
	return s, nil
}

// read runs the pipeline of fetch and decodes the session, as RedisStore.Get.
func (t *TrackingStore) read(ctx context.Context, pipe redis.Pipeliner, handle string, get *redis.StringCmd) (*Session, error) {
	if err := execPipe(ctx, pipe); err != nil {
		return nil, err
	}
	data, err := get.Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, unavailable(err)
	}
	s, live, err := decodeSession(handle, data, t.inner.now())
	if err != nil {
		return nil, err
	}
	if !live {
		_ = t.inner.remove(ctx, handle, s.AccountID)
		return nil, ErrNotFound
	}
	return s, nil
}

// Create stores a new session. Its handle is new: no replica can hold it.
func (t *TrackingStore) Create(ctx context.Context, s *Session, ttl time.Duration) (string, error) {
	return t.inner.Create(ctx, s, ttl)
}

// Save overwrites the session in Redis (which invalidates every replica's
// copy) and drops the local one.
func (t *TrackingStore) Save(ctx context.Context, s *Session, ttl time.Duration) error {
	err := t.inner.Save(ctx, s, ttl)
	if s != nil {
		t.drop(s.Handle)
	}
	return err
}

// Rotate moves the session to a new token and drops the old handle's copy.
func (t *TrackingStore) Rotate(ctx context.Context, s *Session, ttl time.Duration) (string, error) {
	var old string
	if s != nil {
		old = s.Handle
	}
	token, err := t.inner.Rotate(ctx, s, ttl)
	t.drop(old)
	return token, err
}

// Delete ends the session in Redis, then here (ASVS V7.4.1); Redis
// invalidates the other replicas' copies.
func (t *TrackingStore) Delete(ctx context.Context, handle string) error {
	err := t.inner.Delete(ctx, handle)
	t.drop(handle)
	return err
}

// DeleteAccount ends the account's sessions (ASVS V7.5.2) and drops the
// local copies of the handles removed.
func (t *TrackingStore) DeleteAccount(ctx context.Context, accountID, keepHandle string) (int, error) {
	n, deleted, err := t.inner.deleteAccount(ctx, accountID, keepHandle)
	t.drop(deleted...)
	return n, err
}

// drop deletes the given handles from the cache, placeholders included.
func (t *TrackingStore) drop(handles ...string) {
	for _, h := range handles {
		if _, ok := t.entries.LoadAndDelete(h); ok {
			t.count.Add(-1)
		}
	}
}

// flush empties the cache.
func (t *TrackingStore) flush() {
	t.entries.Clear()
	t.count.Store(0)
}

// added accounts for a new slot and makes room when the cache is full.
func (t *TrackingStore) added() {
	if t.count.Add(1) <= int64(t.maxEntries) || !t.evicting.TryLock() {
		return
	}
	defer t.evicting.Unlock()
	t.prune(time.Now(), t.maxEntries-t.maxEntries/16)
}

// prune drops expired entries, then arbitrary ones beyond keep, and
// recounts; and forgets idle-TTL pushes that are due anyway.
func (t *TrackingStore) prune(now time.Time, keep int) {
	kept := 0
	t.entries.Range(func(k, v any) bool {
		e := v.(*trackedEntry)
		if (e.s != nil && !now.Before(e.until)) || kept >= keep {
			t.entries.CompareAndDelete(k, v)
			return true
		}
		kept++
		return true
	})
	t.count.Store(int64(kept))
	t.refreshed.Range(func(k, v any) bool {
		if !now.Before(v.(time.Time)) {
			t.refreshed.CompareAndDelete(k, v)
		}
		return true
	})
}

// listen keeps the tracking subscription until Close. Any failure of the
// connection (an error, or no answer to a ping) turns the cache off and
// replaces the subscription with a new connection, on which OnConnect arms
// tracking again; the cache comes back on, empty, when Redis confirms it.
func (t *TrackingStore) listen(ctx context.Context) {
	defer close(t.done)
	ps := t.tracker.Subscribe(ctx, trackingChannel)
	if !t.setPubSub(ps) {
		return
	}
	var (
		pinged    bool
		wasDown   bool
		backoff   = cacheMinBackoff
		nextSweep = time.Now().Add(cacheSweepEvery)
	)
	for {
		if now := time.Now(); now.After(nextSweep) && t.evicting.TryLock() {
			t.prune(now, t.maxEntries)
			t.evicting.Unlock()
			nextSweep = now.Add(cacheSweepEvery)
		}
		msg, err := ps.ReceiveTimeout(ctx, t.pingEvery)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			pinged = false
			if t.receive(msg) {
				if wasDown {
					t.log.Info("session cache: tracking connection back; cache on")
				}
				wasDown, backoff = false, cacheMinBackoff
			}
			continue
		}
		if isTimeout(err) && !pinged {
			if err = ps.Ping(ctx); err == nil {
				pinged = true
				continue
			}
		}
		if isTimeout(err) && pinged {
			err = errors.New("no answer to a ping within " + t.pingEvery.String())
		}
		pinged = false
		t.down(err, !wasDown)
		wasDown = true
		// Replace the connection whatever the failure: an invalidation that
		// could not be read (a FLUSHDB sends one without keys) leaves the
		// link up but the cache unknowable.
		_ = ps.Close()
		if ps = t.tracker.Subscribe(ctx, trackingChannel); !t.setPubSub(ps) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, cacheMaxBackoff)
	}
}

// receive handles one message and reports whether it confirmed the subscription.
func (t *TrackingStore) receive(msg any) bool {
	switch m := msg.(type) {
	case *redis.Subscription:
		if m.Kind != "subscribe" || m.Channel != trackingChannel {
			return false
		}
		t.flush()
		t.healthy.Store(true)
		return true
	case *redis.Message:
		if m.Channel != trackingChannel {
			return false
		}
		for _, key := range m.PayloadSlice {
			if h, ok := strings.CutPrefix(key, t.keyPrefix); ok {
				t.drop(h)
			}
		}
		if m.Payload != "" { // not a key list: cannot tell what changed
			t.flush()
		}
	}
	return false
}

// down turns the cache off and empties it.
func (t *TrackingStore) down(err error, report bool) {
	t.healthy.Store(false)
	t.flush()
	t.onError("subscribe")
	if report {
		t.log.Warn("session cache: tracking connection lost; cache off until it is back", "err", err)
	}
}

// setPubSub records the current subscription for Close, or closes it and
// reports false if Close came first.
func (t *TrackingStore) setPubSub(ps *redis.PubSub) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		_ = ps.Close()
		return false
	}
	t.ps = ps
	return true
}
