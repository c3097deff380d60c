package session

import (
	"context"
	"time"
)

// passthrough is what the caches in front of Redis (CachedStore,
// TrackingStore) leave to it as it is: listings, handoff codes, counters
// and the health check. Embedded, it gives them these methods and the
// inner store.
type passthrough struct {
	inner *RedisStore
}

// ListAccount reads from Redis.
func (p passthrough) ListAccount(ctx context.Context, accountID string) ([]*Session, error) {
	return p.inner.ListAccount(ctx, accountID)
}

// CreateHandoff passes through to Redis.
func (p passthrough) CreateHandoff(ctx context.Context, h Handoff, ttl time.Duration) (string, error) {
	return p.inner.CreateHandoff(ctx, h, ttl)
}

// TakeHandoff passes through to Redis.
func (p passthrough) TakeHandoff(ctx context.Context, code string) (Handoff, error) {
	return p.inner.TakeHandoff(ctx, code)
}

// Hit passes through to Redis.
func (p passthrough) Hit(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	return p.inner.Hit(ctx, key, window)
}

// Unhit passes through to Redis.
func (p passthrough) Unhit(ctx context.Context, key string) error { return p.inner.Unhit(ctx, key) }

// Peek passes through to Redis.
func (p passthrough) Peek(ctx context.Context, key string) (int64, time.Duration, error) {
	return p.inner.Peek(ctx, key)
}

// Reset passes through to Redis.
func (p passthrough) Reset(ctx context.Context, key string) error { return p.inner.Reset(ctx, key) }

// Ping checks Redis answers.
func (p passthrough) Ping(ctx context.Context) error { return p.inner.Ping(ctx) }
