package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestGCRA(t *testing.T) {
	const interval, burst = 20, 3 // µs
	tests := []struct {
		name          string
		tat, now, n   int64
		wantTAT, wait int64
	}{
		{"idle bucket: the burst goes at once", 0, 1000, 3, 1060, 0},
		{"idle bucket: one past the burst waits one interval", 0, 1000, 4, 1080, 20},
		{"busy bucket: the next send waits its turn", 1060, 1000, 1, 1080, 20},
		{"a past time counts as now", 500, 1000, 1, 1020, 0},
		{"within the burst ahead", 1020, 1000, 1, 1040, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gotTAT, wait := gcra(tc.tat, tc.now, interval, burst, tc.n)
			if gotTAT != tc.wantTAT || wait != tc.wait {
				t.Errorf("gcra = %d, %d; want %d, %d", gotTAT, wait, tc.wantTAT, tc.wait)
			}
		})
	}
}

// countGrants has workers share a limiter for d and counts the sends
// granted.
func countGrants(t *testing.T, limiters []Limiter, workers int, d time.Duration) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var granted atomic.Int64
	var wg sync.WaitGroup
	for i := range workers {
		l := limiters[i%len(limiters)]
		wg.Go(func() {
			for {
				n := l.Burst()
				if err := l.Wait(ctx, n); err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("Wait: %v", err)
					}
					return
				}
				granted.Add(int64(n))
			}
		})
	}
	wg.Wait()
	return granted.Load()
}

func TestLocalLimiterRate(t *testing.T) {
	l, err := NewLocalLimiter(200)
	if err != nil {
		t.Fatal(err)
	}
	// 200/s for 1s: 200, plus the burst (20) and the grants already made
	// when the deadline cut the last waits.
	if got := countGrants(t, []Limiter{l}, 4, time.Second); got < 170 || got > 250 {
		t.Errorf("granted %d in 1s at 200/s, want about 200", got)
	}
}

func testRedis(t *testing.T) redis.UniversalClient {
	t.Helper()
	url := os.Getenv("UNIGATE_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if os.Getenv("UNIGATE_REQUIRE_SERVICES") == "1" {
			t.Fatalf("Redis does not answer and UNIGATE_REQUIRE_SERVICES=1: %v", err)
		}
		t.Skipf("Redis does not answer (%v); set UNIGATE_TEST_REDIS_URL", err)
	}
	return c
}

// TestRedisLimiterShared: two limiters (two replicas) on one key share the
// rate; a Redis that does not answer grants nothing.
func TestRedisLimiterShared(t *testing.T) {
	c := testRedis(t)
	b := make([]byte, 6)
	rand.Read(b)
	key := RateLimitKey("test:" + hex.EncodeToString(b) + ":")
	t.Cleanup(func() { c.Del(context.Background(), key) })
	var ls []Limiter
	for range 2 {
		l, err := NewRedisLimiter(c, key, 100)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	if got := countGrants(t, ls, 6, 2*time.Second); got < 170 || got > 230 {
		t.Errorf("two limiters granted %d in 2s at 100/s together, want about 200", got)
	}
	ttl, err := c.PTTL(context.Background(), key).Result()
	if err != nil || ttl <= 0 || ttl > 2*time.Second {
		t.Errorf("bucket TTL %v (%v), want a short expiry", ttl, err)
	}

	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { down.Close() })
	l, err := NewRedisLimiter(down, key, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Wait(context.Background(), 1); err == nil {
		t.Error("Wait with Redis down = nil, want an error (fail closed)")
	}
}

// failingLimiter never grants.
type failingLimiter struct{ calls atomic.Int32 }

func (f *failingLimiter) Wait(context.Context, int) error {
	f.calls.Add(1)
	return errors.New("redis: connection refused")
}
func (f *failingLimiter) Burst() int { return 5 }

// TestSenderRateLimit: with a limiter the sender claims no more than it was
// granted at a time, the urgent first; with the limiter failing it claims
// and sends nothing.
func TestSenderRateLimit(t *testing.T) {
	r := mustRenderer(t)
	t.Run("fails closed", func(t *testing.T) {
		store, ft := &memOutbox{}, &fakeTransport{}
		mustQueue(t, store, r, "code", KindEmailCode, "waiting@example.com", codeData("12345678"))
		fl := &failingLimiter{}
		s := mustSender(t, store, ft, SenderOptions{Limiter: fl})
		if n := s.sendDue(context.Background()); n != 0 || len(ft.sentTo()) != 0 || fl.calls.Load() != 1 {
			t.Errorf("claimed %d, sent %d, limiter asked %d times; want 0, 0, 1", n, len(ft.sentTo()), fl.calls.Load())
		}
		if pending, _ := store.PendingMail(context.Background()); pending != 1 {
			t.Errorf("%d pending, want the code still pending", pending)
		}
	})
	t.Run("paced, urgent first", func(t *testing.T) {
		store, ft := &memOutbox{}, &fakeTransport{}
		for i := range 30 {
			mustQueue(t, store, r, "bulk"+string(rune('a'+i)), KindAccountExists, "bulk@example.com", AccountExistsData{})
		}
		mustQueue(t, store, r, "code", KindEmailCode, "waiting@example.com", codeData("12345678"))
		l, err := NewLocalLimiter(100) // burst 10
		if err != nil {
			t.Fatal(err)
		}
		s := mustSender(t, store, ft, SenderOptions{Limiter: l, Concurrency: 20})
		start := time.Now()
		if n := s.sendDue(context.Background()); n != 31 {
			t.Fatalf("claimed %d, want 31", n)
		}
		// 31 sends at 100/s, 10 at once: 21 after the burst, about 0.2s.
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("31 sends at 100/s took %v, want about 0.2s", d)
		}
		if got := ft.sentTo(); !slices.Contains(got[:10], "waiting@example.com") {
			t.Errorf("sent %q, want the code in the first claim", got)
		}
		if most := slices.Max(store.limits); most > 10 {
			t.Errorf("a claim asked for %d messages, want at most the burst (10)", most)
		}
	})
}
