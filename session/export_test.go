package session

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

// What the external tests (conformance_test.go, package session_test, which
// may import sessiontest) need from this package's own test helpers.

// NewFakeClock is the memory store tests' injected clock.
var NewFakeClock = newFakeClock

// NewTestCachedStore is a CachedStore closed when the test ends, returned
// once its cache is on.
func NewTestCachedStore(tb testing.TB, inner *RedisStore, client redis.UniversalClient, opts CacheOptions) *CachedStore {
	return newTestCachedStore(tb, inner, client, opts)
}
