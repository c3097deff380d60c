package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"unigate/login"
	"unigate/session"
)

// Issue 16 finding 6: `accounts show` tells a locked account, `accounts
// unlock` lifts the lock for every replica (the counters live in Redis).
func TestAccountsUnlock(t *testing.T) {
	redisURL := redisURLForTest(t)
	dir := t.TempDir()
	path := mustConfig(t, dir, "")
	prefix := "unlocktest:" + uuid.NewString()[:8] + ":"
	env := map[string]string{
		"UNIGATE_SESSION_STORE":            "redis",
		"UNIGATE_SESSION_REDIS_URL":        redisURL,
		"UNIGATE_SESSION_REDIS_KEY_PREFIX": prefix,
	}
	if r := runUnigate(t, env, "correct horse battery\n", "accounts", "create", "--email", "locked@example.com", "--password-stdin", "--config", path); r.code != 0 {
		t.Fatalf("accounts create: %v", r)
	}
	ctx := context.Background()
	opt, _ := redis.ParseURL(redisURL)
	client := redis.NewClient(opt)
	defer client.Close()
	sessions := session.NewRedisStore(client, session.RedisOptions{KeyPrefix: prefix})
	// 100 failures in a row, as the replicas count them.
	sum := sha256.Sum256([]byte("locked@example.com"))
	for range login.DefaultMaxConsecutiveFailures {
		if _, _, err := sessions.Hit(ctx, "fail:streak:"+hex.EncodeToString(sum[:16]), time.Hour); err != nil {
			t.Fatal(err)
		}
	}

	show := func() accountView {
		t.Helper()
		r := runUnigate(t, env, "", "accounts", "show", "--email", "locked@example.com", "--json", "--config", path)
		var v accountView
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil || v.Lockout == nil {
			t.Fatalf("accounts show --json: %v", r)
		}
		return v
	}
	if got := show().Lockout; !got.Locked || got.ConsecutiveFailures != 100 || got.Limit != 100 {
		t.Errorf("before unlock: got %+v, want locked at 100 of 100", got)
	}
	r := runUnigate(t, env, "", "accounts", "show", "--email", "locked@example.com", "--config", path)
	if !strings.Contains(r.stdout, "lockout:") || !strings.Contains(r.stdout, "locked after 100 failures in a row") {
		t.Errorf("accounts show lacks the lock:\n%s", r.stdout)
	}

	r = runUnigate(t, env, "", "accounts", "unlock", "--email", "locked@example.com", "--config", path)
	if r.code != 0 || !strings.Contains(r.stdout, "unlocked locked@example.com") {
		t.Fatalf("accounts unlock: %v", r)
	}
	if got := show().Lockout; got.Locked || got.ConsecutiveFailures != 0 {
		t.Errorf("after unlock: got %+v, want not locked", got)
	}
	r = runUnigate(t, env, "", "accounts", "unlock", "--email", "locked@example.com", "--json", "--config", path)
	if r.code != 0 || !strings.Contains(r.stdout, `"was_locked": false`) {
		t.Errorf("a second unlock: %v", r)
	}
	r = runUnigate(t, env, "", "accounts", "unlock", "--email", "nobody@example.com", "--config", path)
	if r.code != 1 || !strings.Contains(r.stderr, "no account with the email nobody@example.com") {
		t.Errorf("unlock of an unknown email: %v", r)
	}
}
