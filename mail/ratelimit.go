package mail

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// mail.rate_per_second (CONTRACT §9) caps what the replicas together hand
// to the transport: a relay throttles or blocks a sender that pours a
// million notices into it, and the codes behind them would wait with them.
//
// The cap is a GCRA (generic cell rate algorithm) bucket: one timestamp,
// the theoretical time of the next send, which each reservation moves
// forward by 1/rate. A reservation of n sends is told how long to wait
// before making them; burst sends may go at once after an idle time. The
// sender reserves before it claims (sender.go), so nothing it leased waits
// for the bucket, and a message someone waits for is picked, in priority
// order, at the next claim.

// Limiter paces the Sender: Wait returns once n more messages may be handed
// to the transport, or with an error (ctx ended, the shared bucket cannot
// be reached): then nothing may be sent.
type Limiter interface {
	Wait(ctx context.Context, n int) error
	// Burst is how many sends may go at once: the most one Wait should
	// ask for.
	Burst() int
}

// burstOf is how many sends may go at once after an idle time: a tenth of
// a second's worth, at least one.
func burstOf(rate int) int { return max(1, rate/10) }

// gcra is the bucket's arithmetic, shared by the local limiter and, in
// Lua, by the Redis one. Times are in microseconds. It returns the new
// theoretical time of the next send and the wait before the n sends.
func gcra(tat, now, interval, burst, n int64) (newTAT, wait int64) {
	tat = max(tat, now)
	// The n sends take the slots tat … tat+(n-1)·interval; burst-1 of
	// them may be taken ahead of their time.
	wait = max(0, tat+(n-1)*interval-(burst-1)*interval-now)
	return tat + n*interval, wait
}

// LocalLimiter is the bucket of one process, for a gateway without Redis
// (session.store memory: one instance only).
type LocalLimiter struct {
	interval, burst int64
	now             func() time.Time

	mu  sync.Mutex
	tat int64
}

// NewLocalLimiter caps this process at rate messages per second (rate > 0).
func NewLocalLimiter(rate int) (*LocalLimiter, error) {
	if rate <= 0 {
		return nil, errors.New("mail: NewLocalLimiter: the rate must be positive")
	}
	return &LocalLimiter{interval: int64(time.Second/time.Microsecond) / int64(rate), burst: int64(burstOf(rate)), now: time.Now}, nil
}

func (l *LocalLimiter) Burst() int { return int(l.burst) }

func (l *LocalLimiter) Wait(ctx context.Context, n int) error {
	l.mu.Lock()
	var wait int64
	l.tat, wait = gcra(l.tat, l.now().UnixMicro(), l.interval, l.burst, int64(n))
	l.mu.Unlock()
	return sleep(ctx, time.Duration(wait)*time.Microsecond)
}

// rateScript is gcra in Lua, run by Redis on the shared bucket in one step:
// it returns the wait in microseconds. The clock is Redis's own (TIME), the
// same for every replica whatever their clocks (Redis 5 and later replicate
// a script's effects, so TIME may precede a write). The key expires once
// the bucket is full again: an idle bucket holds nothing.
//
//go:embed ratelimit.lua
var rateScriptSource string

var rateScript = redis.NewScript(rateScriptSource)

// RedisLimiter is the bucket shared by every replica on one Redis
// (standalone, Sentinel or Cluster: a single key).
type RedisLimiter struct {
	client          redis.UniversalClient
	key             string
	interval, burst int64
}

// RateLimitKey is the bucket's key under prefix (session.redis.key_prefix).
// The braces are a Cluster hash tag: the key's slot is that of "mail-rate"
// whatever the prefix, and a key the script may one day add beside it goes
// to the same slot, as a script's keys must.
func RateLimitKey(prefix string) string { return prefix + "{mail-rate}" }

// NewRedisLimiter caps every sender sharing key on client at rate messages
// per second together (rate > 0).
func NewRedisLimiter(client redis.UniversalClient, key string, rate int) (*RedisLimiter, error) {
	if client == nil || key == "" || rate <= 0 {
		return nil, errors.New("mail: NewRedisLimiter: a client, a key and a positive rate are required")
	}
	return &RedisLimiter{client: client, key: key,
		interval: int64(time.Second/time.Microsecond) / int64(rate), burst: int64(burstOf(rate))}, nil
}

// redisTimeout bounds one reservation: past it Redis counts as down.
const redisTimeout = time.Second

func (l *RedisLimiter) Burst() int { return int(l.burst) }

func (l *RedisLimiter) Wait(ctx context.Context, n int) error {
	rctx, cancel := context.WithTimeout(ctx, redisTimeout)
	wait, err := rateScript.Run(rctx, l.client, []string{l.key}, l.interval, l.burst, n).Int64()
	cancel()
	if err != nil {
		return fmt.Errorf("mail: rate limit: %w", err)
	}
	return sleep(ctx, time.Duration(wait)*time.Microsecond)
}

// sleep waits d, or less if ctx ends first (then its error).
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
