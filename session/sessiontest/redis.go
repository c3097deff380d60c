package sessiontest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"unigate/session"
)

// Topology is one way of running Redis that sessions must work on exactly
// alike (CONTRACT §12 "Redis").
type Topology string

const (
	// Single is one node at UNIGATE_TEST_REDIS_URL (default
	// redis://127.0.0.1:6379/0).
	Single Topology = "single"
	// Cluster is a Redis Cluster whose seed nodes are the comma-separated
	// UNIGATE_TEST_REDIS_CLUSTER_ADDRS.
	Cluster Topology = "cluster"
	// Sentinel is a master behind the comma-separated Sentinels of
	// UNIGATE_TEST_REDIS_SENTINEL_ADDRS, master name
	// UNIGATE_TEST_REDIS_SENTINEL_MASTER (default "unigate").
	Sentinel Topology = "sentinel"
)

// Topologies are every topology, in the order tests run them.
var Topologies = []Topology{Single, Cluster, Sentinel}

// RedisClientOptions returns how to reach topo from the environment. It
// skips the test when the environment does not name topo, or fails it
// under UNIGATE_REQUIRE_SERVICES=1 (CI starts all three: .ci/run).
func RedisClientOptions(tb testing.TB, topo Topology) session.RedisClientOptions {
	tb.Helper()
	switch topo {
	case Single:
		u := os.Getenv("UNIGATE_TEST_REDIS_URL")
		if u == "" {
			u = "redis://127.0.0.1:6379/0"
		}
		return session.RedisClientOptions{URL: u}
	case Cluster:
		addrs := splitAddrs(os.Getenv("UNIGATE_TEST_REDIS_CLUSTER_ADDRS"))
		if len(addrs) == 0 {
			missing(tb, "UNIGATE_TEST_REDIS_CLUSTER_ADDRS is not set (.ci/redis-topologies starts a Cluster)")
		}
		return session.RedisClientOptions{Addrs: addrs, Cluster: true}
	case Sentinel:
		addrs := splitAddrs(os.Getenv("UNIGATE_TEST_REDIS_SENTINEL_ADDRS"))
		if len(addrs) == 0 {
			missing(tb, "UNIGATE_TEST_REDIS_SENTINEL_ADDRS is not set (.ci/redis-topologies starts Sentinels)")
		}
		master := os.Getenv("UNIGATE_TEST_REDIS_SENTINEL_MASTER")
		if master == "" {
			master = "unigate"
		}
		return session.RedisClientOptions{Addrs: addrs, MasterName: master}
	}
	tb.Fatalf("sessiontest: unknown topology %q", topo)
	return session.RedisClientOptions{}
}

// RedisClient returns a client on topo, closed when the test ends, once it
// answers (a Cluster: once every master answers and the cluster says ok).
// A topology that is not configured or does not answer skips the test, or
// fails it under UNIGATE_REQUIRE_SERVICES=1.
func RedisClient(tb testing.TB, topo Topology) redis.UniversalClient {
	tb.Helper()
	opts := RedisClientOptions(tb, topo)
	c, err := session.NewRedisClient(opts)
	if err != nil {
		tb.Fatalf("Redis %s %s: %v", topo, describe(opts), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ping(ctx, c); err != nil {
		c.Close()
		missing(tb, "Redis "+string(topo)+" at "+describe(opts)+" does not answer: "+err.Error())
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func ping(ctx context.Context, c redis.UniversalClient) error {
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return c.Ping(ctx).Err()
	}
	if err := cc.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error { return n.Ping(ctx).Err() }); err != nil {
		return err
	}
	info, err := cc.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return errors.New("cluster_state is not ok")
	}
	return nil
}

// KeyPrefix returns a fresh key prefix whose keys are deleted when the test
// ends, so that tests and people can share one Redis. The prefix has no
// "{": keys spread over a Cluster's slots as in production.
func KeyPrefix(tb testing.TB, c redis.UniversalClient) string {
	tb.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	prefix := "unigate-test:" + hex.EncodeToString(b) + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := deleteKeys(ctx, c, prefix); err != nil {
			tb.Errorf("cleaning up keys %s*: %v", prefix, err)
		}
	})
	return prefix
}

// Keys returns every key under prefix: on a Cluster, of every master.
func Keys(ctx context.Context, c redis.UniversalClient, prefix string) ([]string, error) {
	scan := func(ctx context.Context, n redis.UniversalClient) ([]string, error) {
		var keys []string
		iter := n.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		return keys, iter.Err()
	}
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return scan(ctx, c)
	}
	// ForEachMaster calls in parallel, one goroutine per master.
	var (
		mu  sync.Mutex
		all []string
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		k, err := scan(ctx, n)
		mu.Lock()
		all = append(all, k...)
		mu.Unlock()
		return err
	})
	return all, err
}

// deleteKeys deletes one key per command: keys in different Cluster slots
// cannot share a DEL (CROSSSLOT).
func deleteKeys(ctx context.Context, c redis.UniversalClient, prefix string) error {
	keys, err := Keys(ctx, c, prefix)
	if err != nil || len(keys) == 0 {
		return err
	}
	pipe := c.Pipeline()
	for _, k := range keys {
		pipe.Del(ctx, k)
	}
	_, err = pipe.Exec(ctx)
	return err
}

func missing(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("UNIGATE_REQUIRE_SERVICES") == "1" {
		tb.Fatalf("%s, and UNIGATE_REQUIRE_SERVICES=1", why)
	}
	tb.Skip(why)
}

// describe names where a topology is without its password.
func describe(o session.RedisClientOptions) string {
	if o.URL == "" {
		return strings.Join(o.Addrs, ",")
	}
	if u, err := url.Parse(o.URL); err == nil {
		return u.Redacted()
	}
	return "(unparsable url)"
}

func splitAddrs(s string) []string {
	var out []string
	for a := range strings.SplitSeq(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
