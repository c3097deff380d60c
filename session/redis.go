package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore is the Store every replica shares (DESIGN.md "Sessions").
// Keys, all under RedisOptions.KeyPrefix:
//
//	session:{handle}            JSON Session, TTL = idle timeout (capped by the absolute expiry)
//	account-sessions:{account}  SET of handles, for listing and "end my other sessions"
//	handoff:{sha256(code)}      sealed Handoff, TTL = handoff ttl, taken with GETDEL
//	counter:{key}               rate-limit counter, INCR + PEXPIRE NX in one MULTI
//
// No command spans two keys that must share a slot (multi-key writes are
// non-transactional pipelines, which a Cluster client splits by node; the
// MULTIs and the Lua script touch one key each), so the same code runs on
// one node, Sentinel and Cluster without hash tags: no two keys must live
// together. The conformance suite (sessiontest) runs on all three in CI.
type RedisStore struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
	unhit  *redis.Script
}

// RedisOptions configure a RedisStore.
type RedisOptions struct {
	// KeyPrefix is put before every key; "" puts none. It lets deployments
	// and tests share one Redis. Avoid "{": it would make the prefix a
	// Cluster hash tag and put every key in one slot.
	KeyPrefix string
	// Now is the clock for timestamps and the absolute expiry; nil is
	// time.Now. Idle TTLs run on Redis's own clock.
	Now func() time.Time
}

var _ Store = (*RedisStore)(nil)

// unhitScript decrements a counter but never below zero, atomically: a DECR
// after the counter expired would otherwise leave -1 behind, a free attempt
// for a brute-forcer (ASVS V6.3.1).
const unhitScript = `
local v = tonumber(redis.call('GET', KEYS[1]))
if v and v > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0`

// NewRedisStore returns a Store on client (see NewRedisClient). The client
// stays the caller's to close.
func NewRedisStore(client redis.UniversalClient, opts RedisOptions) *RedisStore {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &RedisStore{
		client: client,
		prefix: opts.KeyPrefix,
		now:    now,
		unhit:  redis.NewScript(unhitScript),
	}
}

// Create stores s under a new token (256 bits, ASVS V7.2.3). SET NX never
// overwrites an existing session; the index is updated in the same round trip.
func (st *RedisStore) Create(ctx context.Context, s *Session, ttl time.Duration) (string, error) {
	now := st.now()
	data, keyTTL, err := prepareNew(s, ttl, now)
	if err != nil {
		return "", err
	}
	token := NewToken()
	handle := HandleOf(token)
	pipe := st.client.Pipeline()
	set := pipe.SetArgs(ctx, st.sessionKey(handle), data, redis.SetArgs{Mode: "NX", TTL: keyTTL})
	st.addToIndex(ctx, pipe, s, handle, now)
	if err := execPipe(ctx, pipe); err != nil {
		return "", err
	}
	if errors.Is(set.Err(), redis.Nil) {
		return "", errors.New("session: new token already in use") // 2^-256: a broken RNG
	}
	s.Handle = handle
	return token, nil
}

// Get reads the session and pushes its idle expiry back in one round trip
// (GETEX, ASVS V7.3.1); the absolute expiry is checked on the record (V7.3.2).
func (st *RedisStore) Get(ctx context.Context, handle string, ttl time.Duration) (*Session, error) {
	if !validHandle(handle) {
		return nil, ErrNotFound
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("session: idle ttl must be positive, got %v", ttl)
	}
	data, err := st.client.GetEx(ctx, st.sessionKey(handle), ttl).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, unavailable(err)
	}
	s, live, err := decodeSession(handle, data, st.now())
	if err != nil {
		return nil, err
	}
	if !live {
		// Best effort: the session is refused whether or not this delete lands.
		_ = st.remove(ctx, handle, s.AccountID)
		return nil, ErrNotFound
	}
	return s, nil
}

// Save overwrites the session only if it still exists (SET XX): a session
// revoked meanwhile is not brought back (revocation wins, ASVS V7.4.1).
func (st *RedisStore) Save(ctx context.Context, s *Session, ttl time.Duration) error {
	if err := checkSession(s, ttl); err != nil {
		return err
	}
	if !validHandle(s.Handle) {
		return ErrNotFound
	}
	now := st.now()
	keyTTL, ok := sessionTTL(s, ttl, now)
	if !ok {
		_ = st.remove(ctx, s.Handle, s.AccountID)
		return ErrNotFound
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("session: encoding session: %w", err)
	}
	pipe := st.client.Pipeline()
	set := pipe.SetArgs(ctx, st.sessionKey(s.Handle), data, redis.SetArgs{Mode: "XX", TTL: keyTTL})
	// A login in progress gets its account id on the way: index it now, so
	// that revoking the account's sessions reaches half-finished logins too.
	// If the SET fails the stray member is pruned by the next listing.
	st.addToIndex(ctx, pipe, s, s.Handle, now)
	if err := execPipe(ctx, pipe); err != nil {
		return err
	}
	if errors.Is(set.Err(), redis.Nil) {
		return ErrNotFound
	}
	return nil
}

// Rotate gives s a new token and kills the old one (ASVS V7.2.4): the new
// session is written and the old deleted in one pipeline. If the old one was
// already gone (revoked meanwhile), the new one is deleted again and
// ErrNotFound returned, so a rotation cannot undo a revocation.
func (st *RedisStore) Rotate(ctx context.Context, s *Session, ttl time.Duration) (string, error) {
	if err := checkSession(s, ttl); err != nil {
		return "", err
	}
	if !validHandle(s.Handle) {
		return "", ErrNotFound
	}
	now := st.now()
	keyTTL, ok := sessionTTL(s, ttl, now)
	if !ok {
		_ = st.remove(ctx, s.Handle, s.AccountID)
		return "", ErrNotFound
	}
	data, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("session: encoding session: %w", err)
	}
	old := s.Handle
	token := NewToken()
	handle := HandleOf(token)

	pipe := st.client.Pipeline()
	set := pipe.SetArgs(ctx, st.sessionKey(handle), data, redis.SetArgs{Mode: "NX", TTL: keyTTL})
	st.addToIndex(ctx, pipe, s, handle, now)
	del := pipe.Del(ctx, st.sessionKey(old))
	if s.AccountID != "" {
		pipe.SRem(ctx, st.indexKey(s.AccountID), old)
	}
	if err := execPipe(ctx, pipe); err != nil {
		return "", err
	}
	if errors.Is(set.Err(), redis.Nil) {
		return "", errors.New("session: new token already in use")
	}
	if del.Val() == 0 {
		if err := st.remove(ctx, handle, s.AccountID); err != nil {
			return "", err
		}
		return "", ErrNotFound
	}
	s.Handle = handle
	return token, nil
}

// Delete ends one session server-side (logout, revocation: ASVS V7.4.1).
// Every host's cookie names this one session, so all of them die with it.
func (st *RedisStore) Delete(ctx context.Context, handle string) error {
	if !validHandle(handle) {
		return nil
	}
	data, err := st.client.GetDel(ctx, st.sessionKey(handle)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return unavailable(err)
	}
	var rec struct {
		AccountID string `json:"account_id"`
	}
	if json.Unmarshal(data, &rec) == nil && rec.AccountID != "" {
		// The session is gone already; a stale index member is only pruned later.
		_ = st.client.SRem(ctx, st.indexKey(rec.AccountID), handle).Err()
	}
	return nil
}

// ListAccount returns the account's live sessions, oldest first (ASVS
// V7.5.2). Index members whose session is gone or expired are pruned.
func (st *RedisStore) ListAccount(ctx context.Context, accountID string) ([]*Session, error) {
	if accountID == "" {
		return nil, nil
	}
	idx := st.indexKey(accountID)
	members, err := st.client.SMembers(ctx, idx).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	if len(members) == 0 {
		return nil, nil
	}
	// One GET per member in one pipeline, not MGET: in Cluster the session
	// keys live in different slots.
	pipe := st.client.Pipeline()
	gets := make(map[string]*redis.StringCmd, len(members))
	var stale, expired []string
	for _, h := range members {
		if !validHandle(h) {
			stale = append(stale, h)
			continue
		}
		gets[h] = pipe.Get(ctx, st.sessionKey(h))
	}
	if len(gets) > 0 {
		if err := execPipe(ctx, pipe); err != nil {
			return nil, err
		}
	}
	now := st.now()
	var out []*Session
	for h, get := range gets {
		data, err := get.Bytes()
		if err != nil { // redis.Nil: expired or deleted
			stale = append(stale, h)
			continue
		}
		s, live, err := decodeSession(h, data, now)
		switch {
		case err != nil:
			return nil, err
		case !live:
			expired = append(expired, h)
		case s.AccountID != accountID:
			stale = append(stale, h)
		default:
			out = append(out, s)
		}
	}
	st.prune(ctx, idx, stale, expired)
	sortSessions(out)
	return out, nil
}

// DeleteAccount ends every session of the account but keepHandle (ASVS
// V7.5.2; after a password or MFA change, V7.4.3). Removed members are taken
// out of the index one by one rather than the set being rewritten, so a
// session created meanwhile stays indexed; and the index is read again until
// only keepHandle is left (at most three passes), so a session rotated
// during the revocation is caught by the next pass.
func (st *RedisStore) DeleteAccount(ctx context.Context, accountID, keepHandle string) (int, error) {
	removed, _, err := st.deleteAccount(ctx, accountID, keepHandle)
	return removed, err
}

// deleteAccount is DeleteAccount that also returns every well-formed handle
// it sent a DEL for, even when it then failed: the CachedStore tells the
// other replicas to drop exactly those.
func (st *RedisStore) deleteAccount(ctx context.Context, accountID, keepHandle string) (removed int, deleted []string, err error) {
	if accountID == "" {
		return 0, nil, nil
	}
	idx := st.indexKey(accountID)
	for range 3 {
		members, err := st.client.SMembers(ctx, idx).Result()
		if err != nil {
			return removed, deleted, unavailable(err)
		}
		victims := slices.DeleteFunc(members, func(h string) bool { return h == keepHandle })
		if len(victims) == 0 {
			break
		}
		pipe := st.client.Pipeline()
		dels := make([]*redis.IntCmd, 0, len(victims))
		for _, h := range victims {
			if validHandle(h) {
				dels = append(dels, pipe.Del(ctx, st.sessionKey(h)))
				deleted = append(deleted, h)
			}
		}
		pipe.SRem(ctx, idx, toArgs(victims)...)
		if err := execPipe(ctx, pipe); err != nil {
			return removed, deleted, err
		}
		for _, d := range dels {
			removed += int(d.Val())
		}
	}
	return removed, deleted, nil
}

// CreateHandoff stores h sealed under a new single-use code (see sealHandoff).
func (st *RedisStore) CreateHandoff(ctx context.Context, h Handoff, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fmt.Errorf("session: handoff ttl must be positive, got %v", ttl)
	}
	code := NewToken()
	sealed, err := sealHandoff(code, h)
	if err != nil {
		return "", err
	}
	err = st.client.SetArgs(ctx, st.handoffKey(code), sealed, redis.SetArgs{Mode: "NX", TTL: ttl}).Err()
	if errors.Is(err, redis.Nil) {
		return "", errors.New("session: new handoff code already in use")
	}
	if err != nil {
		return "", unavailable(err)
	}
	return code, nil
}

// TakeHandoff reads and deletes the code in one command (GETDEL), so two
// parallel redemptions cannot both succeed (single use, SECURITY.md family 4).
func (st *RedisStore) TakeHandoff(ctx context.Context, code string) (Handoff, error) {
	if !validToken(code) {
		return Handoff{}, ErrNotFound
	}
	data, err := st.client.GetDel(ctx, st.handoffKey(code)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Handoff{}, ErrNotFound
	}
	if err != nil {
		return Handoff{}, unavailable(err)
	}
	return openHandoff(code, data)
}

// Hit counts one attempt. INCR, PEXPIRE NX and PTTL run in one MULTI, so the
// window starts at the first hit, is never pushed back by later ones, and
// parallel hits from any number of replicas are counted exactly (ASVS V6.3.1).
func (st *RedisStore) Hit(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if err := checkWindow(window); err != nil {
		return 0, 0, err
	}
	k := st.counterKey(key)
	pipe := st.client.TxPipeline()
	incr := pipe.Incr(ctx, k)
	pipe.Do(ctx, "pexpire", k, max(window.Milliseconds(), 1), "nx")
	pttl := pipe.PTTL(ctx, k)
	if err := execPipe(ctx, pipe); err != nil {
		return 0, 0, err
	}
	return incr.Val(), max(pttl.Val(), 0), nil
}

// Unhit takes back one attempt, never going below zero (see unhitScript).
func (st *RedisStore) Unhit(ctx context.Context, key string) error {
	if err := st.unhit.Run(ctx, st.client, []string{st.counterKey(key)}).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return unavailable(err)
	}
	return nil
}

// Peek reads a counter and its time left without touching either.
func (st *RedisStore) Peek(ctx context.Context, key string) (int64, time.Duration, error) {
	k := st.counterKey(key)
	pipe := st.client.TxPipeline()
	get := pipe.Get(ctx, k)
	pttl := pipe.PTTL(ctx, k)
	if err := execPipe(ctx, pipe); err != nil {
		return 0, 0, err
	}
	if errors.Is(get.Err(), redis.Nil) {
		return 0, 0, nil
	}
	n, err := get.Int64()
	if err != nil {
		return 0, 0, fmt.Errorf("session: counter is not a number: %w", err)
	}
	return n, max(pttl.Val(), 0), nil
}

// Reset deletes a counter (e.g. the account's failures after a successful login).
func (st *RedisStore) Reset(ctx context.Context, key string) error {
	if err := st.client.Del(ctx, st.counterKey(key)).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// Ping checks Redis answers (readiness, CONTRACT §7).
func (st *RedisStore) Ping(ctx context.Context) error {
	if err := st.client.Ping(ctx).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

func (st *RedisStore) sessionKey(handle string) string { return st.prefix + "session:" + handle }

func (st *RedisStore) indexKey(accountID string) string {
	return st.prefix + "account-sessions:" + accountID
}

// handoffKey stores a code under its hash: a key listing yields no code.
func (st *RedisStore) handoffKey(code string) string { return st.prefix + "handoff:" + HandleOf(code) }

func (st *RedisStore) counterKey(key string) string { return st.prefix + "counter:" + key }

// addToIndex queues the SADD that lists handle under its account, and keeps
// the index alive past the session's absolute expiry: EXPIRE NX sets a TTL
// on a new set, EXPIRE GT only ever lengthens it (Redis 7).
func (st *RedisStore) addToIndex(ctx context.Context, pipe redis.Pipeliner, s *Session, handle string, now time.Time) {
	if s.AccountID == "" {
		return
	}
	idx := st.indexKey(s.AccountID)
	life := s.ExpiresAt.Sub(now) + indexTTLSlack
	pipe.SAdd(ctx, idx, handle)
	pipe.ExpireNX(ctx, idx, life)
	pipe.ExpireGT(ctx, idx, life)
}

// remove deletes one session key and its index member in one round trip.
func (st *RedisStore) remove(ctx context.Context, handle, accountID string) error {
	pipe := st.client.Pipeline()
	pipe.Del(ctx, st.sessionKey(handle))
	if accountID != "" {
		pipe.SRem(ctx, st.indexKey(accountID), handle)
	}
	return execPipe(ctx, pipe)
}

// prune drops index members whose session is gone and deletes sessions past
// their absolute expiry. Best effort: a listing is right without it.
func (st *RedisStore) prune(ctx context.Context, idx string, stale, expired []string) {
	if len(stale)+len(expired) == 0 {
		return
	}
	pipe := st.client.Pipeline()
	for _, h := range expired {
		pipe.Del(ctx, st.sessionKey(h))
	}
	pipe.SRem(ctx, idx, toArgs(append(stale, expired...))...)
	_ = execPipe(ctx, pipe)
}

// execPipe runs a pipeline. redis.Nil answers (SET NX/XX not done, GET of a
// missing key) are left for the caller to read on its command; any other
// error means the store failed and is wrapped in ErrUnavailable.
func execPipe(ctx context.Context, pipe redis.Pipeliner) error {
	cmds, err := pipe.Exec(ctx)
	if err == nil {
		return nil
	}
	for _, c := range cmds {
		if e := c.Err(); e != nil && !errors.Is(e, redis.Nil) {
			return unavailable(e)
		}
	}
	if !errors.Is(err, redis.Nil) {
		return unavailable(err)
	}
	return nil
}

// unavailable wraps a backend failure. The cause is kept as text only: the
// caller's test is errors.Is(err, ErrUnavailable), and redis errors carry
// no token (keys hold handles, never tokens).
func unavailable(err error) error {
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

func toArgs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// sortSessions orders sessions oldest first; the handle breaks ties so the
// order is the same on every call and in both stores.
func sortSessions(ss []*Session) {
	slices.SortFunc(ss, func(a, b *Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Handle, b.Handle)
	})
}
