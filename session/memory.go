package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MemoryStore keeps everything in this process: for `unigate demo`, tests and
// a single instance (config `session.store: memory`). It behaves as the
// RedisStore does — the same conformance suite runs against both — with
// TTLs measured by the injected clock. Expired entries are dropped when
// touched and by a sweep that runs, at most once a minute of that clock,
// inside an ordinary call: there is no goroutine to stop.
type MemoryStore struct {
	now func() time.Time

	mu        sync.Mutex
	sessions  map[string]memSession          // by handle
	accounts  map[string]map[string]struct{} // account id → handles
	handoffs  map[string]memItem             // by HandleOf(code)
	counters  map[string]memCounter
	nextSweep time.Time
}

// memorySweepInterval is how often (by the store's clock) the whole store is
// scanned for expired entries, so that memory stays flat under churn.
const memorySweepInterval = time.Minute

type memSession struct {
	data      []byte // the same JSON the RedisStore stores
	accountID string
	deadline  time.Time // idle expiry
	expiresAt time.Time // absolute expiry
}

type memItem struct {
	data     []byte
	deadline time.Time
}

type memCounter struct {
	n        int64
	deadline time.Time
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store on the clock now (nil is time.Now).
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{
		now:      now,
		sessions: make(map[string]memSession),
		accounts: make(map[string]map[string]struct{}),
		handoffs: make(map[string]memItem),
		counters: make(map[string]memCounter),
	}
}

// Create stores s under a new token (256 bits, ASVS V7.2.3).
func (st *MemoryStore) Create(ctx context.Context, s *Session, ttl time.Duration) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", unavailable(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.begin()
	data, keyTTL, err := prepareNew(s, ttl, now)
	if err != nil {
		return "", err
	}
	token := NewToken()
	handle := HandleOf(token)
	if _, taken := st.sessions[handle]; taken {
		return "", errors.New("session: new token already in use") // 2^-256: a broken RNG
	}
	st.putLocked(handle, s, data, now.Add(keyTTL))
	s.Handle = handle
	return token, nil
}

// Get returns the session and pushes its idle expiry back (ASVS V7.3.1);
// past its absolute expiry it is deleted instead (V7.3.2).
func (st *MemoryStore) Get(ctx context.Context, handle string, ttl time.Duration) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable(err)
	}
	if !validHandle(handle) {
		return nil, ErrNotFound
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("session: idle ttl must be positive, got %v", ttl)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.begin()
	item, ok := st.liveLocked(handle, now)
	if !ok {
		return nil, ErrNotFound
	}
	s, live, err := decodeSession(handle, item.data, now)
	if err != nil {
		return nil, err
	}
	if !live {
		st.dropLocked(handle)
		return nil, ErrNotFound
	}
	item.deadline = now.Add(ttl)
	st.sessions[handle] = item
	return s, nil
}

// Save overwrites the session only if it still exists: revocation wins (ASVS V7.4.1).
func (st *MemoryStore) Save(ctx context.Context, s *Session, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return unavailable(err)
	}
	if err := checkSession(s, ttl); err != nil {
		return err
	}
	if !validHandle(s.Handle) {
		return ErrNotFound
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.begin()
	if _, ok := st.liveLocked(s.Handle, now); !ok {
		return ErrNotFound
	}
	keyTTL, ok := sessionTTL(s, ttl, now)
	if !ok {
		st.dropLocked(s.Handle)
		return ErrNotFound
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("session: encoding session: %w", err)
	}
	st.putLocked(s.Handle, s, data, now.Add(keyTTL))
	return nil
}

// Rotate moves s to a new token and kills the old one (ASVS V7.2.4). A
// session revoked meanwhile stays revoked: ErrNotFound.
func (st *MemoryStore) Rotate(ctx context.Context, s *Session, ttl time.Duration) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", unavailable(err)
	}
	if err := checkSession(s, ttl); err != nil {
		return "", err
	}
	if !validHandle(s.Handle) {
		return "", ErrNotFound
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.begin()
	if _, ok := st.liveLocked(s.Handle, now); !ok {
		return "", ErrNotFound
	}
	keyTTL, ok := sessionTTL(s, ttl, now)
	if !ok {
		st.dropLocked(s.Handle)
		return "", ErrNotFound
	}
	data, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("session: encoding session: %w", err)
	}
	st.dropLocked(s.Handle)
	token := NewToken()
	handle := HandleOf(token)
	st.putLocked(handle, s, data, now.Add(keyTTL))
	s.Handle = handle
	return token, nil
}

// Delete ends one session (logout, revocation: ASVS V7.4.1).
func (st *MemoryStore) Delete(ctx context.Context, handle string) error {
	if err := ctx.Err(); err != nil {
		return unavailable(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.begin()
	st.dropLocked(handle)
	return nil
}

// ListAccount returns the account's live sessions, oldest first (ASVS V7.5.2).
func (st *MemoryStore) ListAccount(ctx context.Context, accountID string) ([]*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.begin()
	var out []*Session
	for h := range st.accounts[accountID] {
		item, ok := st.liveLocked(h, now)
		if !ok || item.accountID != accountID {
			st.unindexLocked(accountID, h)
			continue
		}
		s, live, err := decodeSession(h, item.data, now)
		if err != nil {
			return nil, err
		}
		if !live {
			st.dropLocked(h)
			continue
		}
		out = append(out, s)
	}
	sortSessions(out)
	return out, nil
}

// DeleteAccount ends every session of the account but keepHandle (ASVS
// V7.5.2, V7.4.3) and says how many it ended.
func (st *MemoryStore) DeleteAccount(ctx context.Context, accountID, keepHandle string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, unavailable(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.begin()
	removed := 0
	for h := range st.accounts[accountID] {
		if h == keepHandle {
			continue
		}
		if _, ok := st.liveLocked(h, now); ok {
			removed++
		}
		st.dropLocked(h)
		st.unindexLocked(accountID, h)
	}
	return removed, nil
}

// CreateHandoff stores h sealed under a new single-use code (see sealHandoff).
func (st *MemoryStore) CreateHandoff(ctx context.Context, h Handoff, ttl time.Duration) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", unavailable(err)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("session: handoff ttl must be positive, got %v", ttl)
	}
	code := NewToken()
	sealed, err := sealHandoff(code, h)
	if err != nil {
		return "", err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.begin()
	st.handoffs[HandleOf(code)] = memItem{data: sealed, deadline: now.Add(ttl)}
	return code, nil
}

// TakeHandoff returns and deletes the handoff: single use.
func (st *MemoryStore) TakeHandoff(ctx context.Context, code string) (Handoff, error) {
	if err := ctx.Err(); err != nil {
		return Handoff{}, unavailable(err)
	}
	if !validToken(code) {
		return Handoff{}, ErrNotFound
	}
	key := HandleOf(code)
	st.mu.Lock()
	item, ok := st.handoffs[key]
	delete(st.handoffs, key)
	now := st.begin()
	st.mu.Unlock()
	if !ok || !now.Before(item.deadline) {
		return Handoff{}, ErrNotFound
	}
	return openHandoff(code, item.data)
}

// Hit counts one attempt in a window that starts at the first hit.
func (st *MemoryStore) Hit(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, unavailable(err)
	}
	if err := checkWindow(window); err != nil {
		return 0, 0, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.begin()
	c, ok := st.counters[key]
	if !ok || !now.Before(c.deadline) {
		c = memCounter{deadline: now.Add(window)}
	}
	c.n++
	st.counters[key] = c
	return c.n, c.deadline.Sub(now), nil
}

// Unhit takes back one attempt, never going below zero.
func (st *MemoryStore) Unhit(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return unavailable(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.begin()
	if c, ok := st.counters[key]; ok && now.Before(c.deadline) && c.n > 0 {
		c.n--
		st.counters[key] = c
	}
	return nil
}

// Peek reads a counter and its time left without touching either.
func (st *MemoryStore) Peek(ctx context.Context, key string) (int64, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, unavailable(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.begin()
	c, ok := st.counters[key]
	if !ok || !now.Before(c.deadline) {
		return 0, 0, nil
	}
	return c.n, c.deadline.Sub(now), nil
}

// Reset deletes a counter.
func (st *MemoryStore) Reset(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return unavailable(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.begin()
	delete(st.counters, key)
	return nil
}

// Ping always succeeds while ctx is live: the store is this process.
func (st *MemoryStore) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// begin reads the clock for one call and sweeps when a sweep is due. The
// caller holds mu.
func (st *MemoryStore) begin() time.Time {
	now := st.now()
	if now.Before(st.nextSweep) {
		return now
	}
	st.nextSweep = now.Add(memorySweepInterval)
	for h, item := range st.sessions {
		if !now.Before(item.deadline) || !now.Before(item.expiresAt) {
			st.dropLocked(h)
		}
	}
	for k, item := range st.handoffs {
		if !now.Before(item.deadline) {
			delete(st.handoffs, k)
		}
	}
	for k, c := range st.counters {
		if !now.Before(c.deadline) {
			delete(st.counters, k)
		}
	}
	return now
}

// liveLocked returns the session item if it has not passed its idle expiry;
// one that has is dropped.
func (st *MemoryStore) liveLocked(handle string, now time.Time) (memSession, bool) {
	item, ok := st.sessions[handle]
	if !ok {
		return memSession{}, false
	}
	if !now.Before(item.deadline) {
		st.dropLocked(handle)
		return memSession{}, false
	}
	return item, true
}

// putLocked stores a session and lists it under its account. Like the Redis
// index, a handle stays listed under an account it left; listings skip it.
func (st *MemoryStore) putLocked(handle string, s *Session, data []byte, deadline time.Time) {
	st.sessions[handle] = memSession{data: data, accountID: s.AccountID, deadline: deadline, expiresAt: s.ExpiresAt}
	if s.AccountID == "" {
		return
	}
	set := st.accounts[s.AccountID]
	if set == nil {
		set = make(map[string]struct{})
		st.accounts[s.AccountID] = set
	}
	set[handle] = struct{}{}
}

// dropLocked deletes a session and its index entry.
func (st *MemoryStore) dropLocked(handle string) {
	item, ok := st.sessions[handle]
	if !ok {
		return
	}
	delete(st.sessions, handle)
	st.unindexLocked(item.accountID, handle)
}

func (st *MemoryStore) unindexLocked(accountID, handle string) {
	set := st.accounts[accountID]
	delete(set, handle)
	if len(set) == 0 {
		delete(st.accounts, accountID)
	}
}
