package session

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// CachedStore is a RedisStore with a per-replica cache of sessions in front,
// so that a warm session costs no Redis round trip (DESIGN.md "The request
// path"), while a revocation still reaches every replica at once.
//
// Only Get is served from memory. Every write (Save, Rotate, Delete,
// DeleteAccount) goes to Redis, then drops the local copies concerned and
// PUBLISHes the handles on a channel every replica subscribes to; each
// replica drops them on receipt, typically within a millisecond. Handoffs,
// counters, listings and Ping go straight to Redis.
//
// A cached session is served only while all of these hold:
//   - the invalidation subscription is up: it is confirmed by Redis and
//     answers pings. The moment it breaks (a killed Redis closes the
//     connection at once; a silent one misses a ping) the whole cache is
//     dropped and every Get goes to Redis, so a Redis outage is refused with
//     ErrUnavailable (503, CONTRACT §7) rather than served from memory. When
//     the subscription is confirmed again the cache starts empty: messages
//     published while it was down are lost.
//   - it was read from Redis less than MaxAge ago (and less than the idle
//     ttl of the call).
//   - its absolute expiry (ExpiresAt) is still ahead on the store's clock
//     (ASVS V7.3.2), checked on every hit.
//
// Revocation bound: a session revoked on one replica is refused there at
// once, and on the others as soon as the invalidation arrives. If that
// message is lost without the subscription noticing (a failed PUBLISH after
// a successful write, which is logged and reported to OnError but does not
// fail the write), another replica may still accept the session for at
// most MaxAge after the revocation: its copy was read before it, and no copy
// is served more than MaxAge after its read.
//
// Idle timeout: a hit does not extend the session's Redis TTL; the next Get
// after MaxAge does (GETEX). A session used only through hits therefore
// expires between ttl-MaxAge and ttl after its last use (ASVS V7.3.1).
type CachedStore struct {
	passthrough // the calls no cache changes go straight to Redis
	client      redis.UniversalClient
	channel     string
	maxAge      time.Duration
	maxEntries  int
	pingEvery   time.Duration
	log         *slog.Logger
	onError     func(op string)

	entries  sync.Map     // handle → *cacheEntry; lock-free reads on the hit path
	count    atomic.Int64 // about len(entries): exact after each prune
	healthy  atomic.Bool  // the subscription is confirmed and answering
	evicting sync.Mutex   // one prune at a time

	// afterFetch, when set by a test, runs between the Redis read of a miss
	// and the decision to cache its result.
	afterFetch func(handle string)

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	ps        *redis.PubSub // the current subscription, closed by Close
	closed    bool
}

// CacheOptions configure a CachedStore. The zero value is usable.
type CacheOptions struct {
	// MaxAge is how long a session read from Redis is served from memory
	// without asking Redis again; 0 (or less) is 250ms. It bounds how long a
	// lost invalidation can leave a revoked session accepted by another
	// replica, and how much earlier than ttl an idle session may expire.
	MaxAge time.Duration
	// MaxEntries bounds the number of cached sessions; 0 (or less) is
	// 100_000. When it is reached, stale entries and then arbitrary ones are
	// dropped, a sixteenth of the cache at a time.
	MaxEntries int
	// Channel is the pub/sub channel of invalidations; "" is the store's key
	// prefix followed by "session-invalidate". Every replica of one
	// deployment must use the same.
	Channel string
	// Logger receives the subscription's state changes and failed
	// publishes; nil discards them.
	Logger *slog.Logger
	// OnError, when set, is called once per failure of the cache's own
	// Redis traffic, with op "publish" or "subscribe" (for
	// unigate_session_store_errors_total). It must be safe for concurrent use.
	OnError func(op string)

	// pingEvery is how long the subscription may stay quiet before it is
	// pinged, and how long the ping may go unanswered before the link is
	// declared dead; 0 is 1s. Tests shorten it.
	pingEvery time.Duration
}

// Defaults of CacheOptions, and the pace of the subscription's upkeep.
const (
	defaultCacheMaxAge     = 250 * time.Millisecond
	defaultCacheMaxEntries = 100_000
	defaultCachePingEvery  = time.Second
	// cacheSweepEvery is how often entries past MaxAge are dropped, so that
	// memory follows the sessions in use rather than MaxEntries.
	cacheSweepEvery = 5 * time.Second
	// Retry pace of a broken subscription (go-redis redials on each try).
	cacheMinBackoff = 50 * time.Millisecond
	cacheMaxBackoff = time.Second
)

// cacheEntry is one slot of the cache. It is never modified once stored: a
// refresh stores a new one. An entry with a nil s is a placeholder stored
// while a Get reads Redis (see fetch).
type cacheEntry struct {
	s       *Session
	fetched time.Time // when the Redis read began (monotonic)
}

var _ Store = (*CachedStore)(nil)

// NewCachedStore puts a cache in front of inner and subscribes, on client,
// to the invalidation channel. client may be inner's own client; it stays
// the caller's to close, after Close. The cache is off (every Get goes to
// Redis) until Redis has confirmed the subscription, a few milliseconds.
func NewCachedStore(inner *RedisStore, client redis.UniversalClient, opts CacheOptions) *CachedStore {
	if inner == nil || client == nil {
		panic("session: NewCachedStore needs a RedisStore and a client")
	}
	c := &CachedStore{
		passthrough: passthrough{inner},
		client:      client,
		channel:     opts.Channel,
		maxAge:      opts.MaxAge,
		maxEntries:  opts.MaxEntries,
		pingEvery:   opts.pingEvery,
		log:         opts.Logger,
		onError:     opts.OnError,
		done:        make(chan struct{}),
	}
	if c.channel == "" {
		c.channel = inner.prefix + "session-invalidate"
	}
	if c.maxAge <= 0 {
		c.maxAge = defaultCacheMaxAge
	}
	if c.maxEntries <= 0 {
		c.maxEntries = defaultCacheMaxEntries
	}
	if c.pingEvery <= 0 {
		c.pingEvery = defaultCachePingEvery
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.onError == nil {
		c.onError = func(string) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.listen(ctx)
	return c
}

// Close stops the subscription and waits for its goroutine to end. The
// store keeps working afterwards, without the cache. It does not close the
// client.
func (c *CachedStore) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		c.mu.Lock()
		c.closed = true
		if c.ps != nil {
			_ = c.ps.Close() // wakes a Receive blocked on the connection
		}
		c.mu.Unlock()
		<-c.done
		c.healthy.Store(false)
		c.flush()
	})
	return nil
}

// Get serves the session from memory when it may (see CachedStore), else
// reads it from Redis, extending its idle TTL (GETEX), and caches it. The
// caller gets its own copy either way and may change it.
func (c *CachedStore) Get(ctx context.Context, handle string, ttl time.Duration) (*Session, error) {
	if err := ctx.Err(); err != nil {
		// As the other stores: a canceled request is a failure, not an answer.
		return nil, unavailable(err)
	}
	if !c.healthy.Load() {
		return c.inner.Get(ctx, handle, ttl)
	}
	start := time.Now()
	v, _ := c.entries.Load(handle)
	e, _ := v.(*cacheEntry)
	if e != nil && e.s != nil && start.Sub(e.fetched) < min(c.maxAge, ttl) && c.inner.now().Before(e.s.ExpiresAt) {
		return e.s.clone(), nil
	}
	return c.fetch(ctx, handle, ttl, e, start)
}

// fetch reads a session from Redis and caches it, unless its slot changed
// while the read was in flight. Invalidations and flushes delete slots, so a
// changed slot means the value read may predate a write that this replica
// has already been told about: caching it would bring a revoked or
// overwritten session back. The slot's own identity is the generation
// counter: slot is the entry found at the start (nil if none, and then a
// placeholder is stored), and the result replaces it only by compare-and-swap.
func (c *CachedStore) fetch(ctx context.Context, handle string, ttl time.Duration, slot *cacheEntry, start time.Time) (*Session, error) {
	if !validHandle(handle) {
		return nil, ErrNotFound // no placeholder for what cannot be a session
	}
	if slot == nil {
		placeholder := new(cacheEntry)
		v, loaded := c.entries.LoadOrStore(handle, placeholder)
		if loaded {
			slot = v.(*cacheEntry) // another Get's placeholder or result
		} else {
			slot = placeholder
			c.added()
		}
	}
	s, err := c.inner.Get(ctx, handle, ttl)
	if c.afterFetch != nil {
		c.afterFetch(handle)
	}
	if err != nil || !s.Complete() {
		// Neither absence nor failure is cached: a new login is never refused
		// because of an earlier miss, and an outage is not remembered. A login
		// in progress is not cached either: its one-time state (email code
		// tries, WebAuthn challenge) is always read from Redis.
		if c.entries.CompareAndDelete(handle, slot) {
			c.count.Add(-1)
		}
		return s, err
	}
	c.entries.CompareAndSwap(handle, slot, &cacheEntry{s: s.clone(), fetched: start})
	return s, nil
}

// Create stores a new session. Its handle is new: no replica can hold it.
func (c *CachedStore) Create(ctx context.Context, s *Session, ttl time.Duration) (string, error) {
	return c.inner.Create(ctx, s, ttl)
}

// Save overwrites the session in Redis, then has every replica drop its copy.
func (c *CachedStore) Save(ctx context.Context, s *Session, ttl time.Duration) error {
	var handle string
	if s != nil {
		handle = s.Handle
	}
	err := c.inner.Save(ctx, s, ttl)
	c.invalidate(ctx, err, handle)
	return err
}

// Rotate moves the session to a new token, then has every replica drop the
// old handle.
func (c *CachedStore) Rotate(ctx context.Context, s *Session, ttl time.Duration) (string, error) {
	var old string
	if s != nil {
		old = s.Handle
	}
	token, err := c.inner.Rotate(ctx, s, ttl)
	c.invalidate(ctx, err, old)
	return token, err
}

// Delete ends the session in Redis, then on every replica (ASVS V7.4.1).
func (c *CachedStore) Delete(ctx context.Context, handle string) error {
	err := c.inner.Delete(ctx, handle)
	c.invalidate(ctx, err, handle)
	return err
}

// DeleteAccount ends the account's sessions in Redis, then has every replica
// drop the handles removed, in one message (ASVS V7.5.2).
func (c *CachedStore) DeleteAccount(ctx context.Context, accountID, keepHandle string) (int, error) {
	n, deleted, err := c.inner.deleteAccount(ctx, accountID, keepHandle)
	c.invalidate(ctx, err, deleted...)
	return n, err
}

// invalidate follows a write of handles: it drops the local copies and
// publishes the handles to the other replicas. It does so whether the write
// succeeded, found nothing, or failed on the way (it may have landed), and
// skips only writes refused before reaching Redis. A failed publish does not
// fail the write; the other replicas' copies age out within MaxAge.
func (c *CachedStore) invalidate(ctx context.Context, err error, handles ...string) {
	handles = slices.DeleteFunc(handles, func(h string) bool { return !validHandle(h) })
	if len(handles) == 0 {
		return
	}
	c.drop(handles...)
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnavailable) {
		return // a usage error: Redis was not asked
	}
	// The write is done: a request canceled now must not keep the other
	// replicas from hearing of it.
	ctx = context.WithoutCancel(ctx)
	if perr := c.client.Publish(ctx, c.channel, strings.Join(handles, " ")).Err(); perr != nil {
		c.log.Warn("session cache: invalidation not published; other replicas drop their copies within max age",
			"handles", len(handles), "max_age", c.maxAge, "err", perr)
		c.onError("publish")
	}
}

// drop deletes the given handles from the cache, placeholders included.
func (c *CachedStore) drop(handles ...string) {
	for _, h := range handles {
		if _, ok := c.entries.LoadAndDelete(h); ok {
			c.count.Add(-1)
		}
	}
}

// flush empties the cache.
func (c *CachedStore) flush() {
	c.entries.Clear()
	c.count.Store(0)
}

// added accounts for a new slot and makes room when the cache is full.
func (c *CachedStore) added() {
	if c.count.Add(1) <= int64(c.maxEntries) || !c.evicting.TryLock() {
		return
	}
	defer c.evicting.Unlock()
	c.prune(time.Now(), c.maxEntries-c.maxEntries/16)
}

// prune drops the entries past MaxAge, then arbitrary ones beyond keep, and
// recounts. Placeholders count but are not aged: their Get is in flight.
func (c *CachedStore) prune(now time.Time, keep int) {
	kept := 0
	c.entries.Range(func(k, v any) bool {
		e := v.(*cacheEntry)
		if (e.s != nil && now.Sub(e.fetched) >= c.maxAge) || kept >= keep {
			c.entries.CompareAndDelete(k, v)
			return true
		}
		kept++
		return true
	})
	c.count.Store(int64(kept))
}

// listen keeps the invalidation subscription and the cache's health in step
// until Close. go-redis redials and resubscribes a broken PubSub by itself;
// listen only notices breaks, flushes, and marks the cache healthy again on
// the next confirmation. A link that stays silent (no answer to a ping) is
// not broken to go-redis, so listen replaces that PubSub itself.
func (c *CachedStore) listen(ctx context.Context) {
	defer close(c.done)
	ps := c.client.Subscribe(ctx, c.channel)
	if !c.setPubSub(ps) {
		return
	}
	var (
		pinged    bool // a ping is unanswered
		wasDown   bool // the last failure has been logged
		backoff   = cacheMinBackoff
		nextSweep = time.Now().Add(cacheSweepEvery)
	)
	for {
		if now := time.Now(); now.After(nextSweep) && c.evicting.TryLock() {
			c.prune(now, c.maxEntries)
			c.evicting.Unlock()
			nextSweep = now.Add(cacheSweepEvery)
		}
		msg, err := ps.ReceiveTimeout(ctx, c.pingEvery)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			pinged = false
			if c.receive(msg) {
				if wasDown {
					c.log.Info("session cache: invalidation channel subscribed again; cache on", "channel", c.channel)
				}
				wasDown, backoff = false, cacheMinBackoff
			}
			continue
		}
		if isTimeout(err) && !pinged {
			// A quiet link: ask whether it is still there.
			if err = ps.Ping(ctx); err == nil {
				pinged = true
				continue
			}
		}
		silent := isTimeout(err) && pinged
		if silent {
			err = errors.New("no answer to a ping within " + c.pingEvery.String())
		}
		pinged = false
		c.down(err, !wasDown)
		wasDown = true
		if silent {
			// go-redis keeps a connection that only times out: replace it.
			_ = ps.Close()
			if ps = c.client.Subscribe(ctx, c.channel); !c.setPubSub(ps) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, cacheMaxBackoff)
	}
}

// receive handles one pub/sub message and reports whether it confirmed the
// subscription.
func (c *CachedStore) receive(msg any) bool {
	switch m := msg.(type) {
	case *redis.Subscription:
		if m.Kind != "subscribe" || m.Channel != c.channel {
			return false
		}
		// Invalidations published while not subscribed are lost: start over.
		c.flush()
		c.healthy.Store(true)
		return true
	case *redis.Message:
		if m.Channel == c.channel {
			for h := range strings.SplitSeq(m.Payload, " ") {
				c.drop(h)
			}
		}
	}
	return false // *redis.Pong: only proof of life
}

// down turns the cache off and empties it: invalidations may be missed
// from now on, and a Redis outage must be refused, not served from memory.
func (c *CachedStore) down(err error, report bool) {
	c.healthy.Store(false)
	c.flush()
	c.onError("subscribe")
	if report {
		c.log.Warn("session cache: invalidation channel lost; cache off until it is back",
			"channel", c.channel, "err", err)
	}
}

// setPubSub records the current subscription for Close, or closes it and
// reports false if Close came first.
func (c *CachedStore) setPubSub(ps *redis.PubSub) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = ps.Close()
		return false
	}
	c.ps = ps
	return true
}

// isTimeout reports a read that hit its deadline: the link may only be quiet.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// clone returns a copy of s that shares nothing the caller may change.
func (s *Session) clone() *Session {
	c := *s
	c.Factors = slices.Clone(s.Factors)
	c.EmailCode = slices.Clone(s.EmailCode)
	c.Ceremony = slices.Clone(s.Ceremony)
	c.Signup = slices.Clone(s.Signup)
	c.SSO = slices.Clone(s.SSO)
	c.Consoles = maps.Clone(s.Consoles)
	c.Proof = slices.Clone(s.Proof)
	if s.HoldsMFA != nil {
		holds := *s.HoldsMFA
		c.HoldsMFA = &holds
	}
	return &c
}
