package gateway

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"unigate/session"
	"unigate/session/sessiontest"
)

// Failover tests (CONTRACT §12 "Redis"): a Redis master is killed with
// SIGKILL while authenticated requests flow through a real gateway. Every
// answer must be 200 with the session's identity, or 503; never a request
// through without one. Once Redis has failed over, the same cookies work
// again with the same gateway. The killed node is started again through
// .ci/redis-topologies, so that it rejoins as a replica and later tests find
// the topology whole.
//
// They kill processes of the shared topologies, so they run only when
// UNIGATE_TEST_REDIS_FAILOVER=1 (.ci/run runs them on their own, after the
// other tests).

const (
	failoverUsers   = 4                      // sessions, spread over the Cluster's slots
	failoverWorkers = 20                     // goroutines sending requests
	failoverPace    = 40 * time.Millisecond  // pause of each worker between requests
	failoverMax     = 30 * time.Second       // the load never runs longer
	failoverCalm    = 3 * time.Second        // 503-free time after the kill that ends the load
	failoverWarmup  = 500 * time.Millisecond // load before the kill
)

// Each runs twice: on the RedisStore alone (every request reads Redis), and
// with the replica's local cache in front (session.local_cache, whose
// pub/sub link dies with the master too).
func TestRedisFailoverCluster(t *testing.T) {
	runFailover(t, sessiontest.Cluster, func(ctx context.Context, c redis.UniversalClient, sessionKey string) (*redis.Client, error) {
		return c.(*redis.ClusterClient).MasterForKey(ctx, sessionKey)
	})
}

func TestRedisFailoverSentinel(t *testing.T) {
	runFailover(t, sessiontest.Sentinel, func(ctx context.Context, _ redis.UniversalClient, _ string) (*redis.Client, error) {
		opts := sessiontest.RedisClientOptions(t, sessiontest.Sentinel)
		sc := redis.NewSentinelClient(&redis.Options{Addr: opts.Addrs[0]})
		defer sc.Close()
		addr, err := sc.GetMasterAddrByName(ctx, opts.MasterName).Result()
		if err != nil {
			return nil, err
		}
		return redis.NewClient(&redis.Options{Addr: net.JoinHostPort(addr[0], addr[1])}), nil
	})
}

type masterFinder func(context.Context, redis.UniversalClient, string) (*redis.Client, error)

func runFailover(t *testing.T, topo sessiontest.Topology, masterOf masterFinder) {
	if os.Getenv("UNIGATE_TEST_REDIS_FAILOVER") != "1" {
		t.Skip("set UNIGATE_TEST_REDIS_FAILOVER=1 to kill Redis masters of the test topologies (.ci/run does)")
	}
	t.Run("redis", func(t *testing.T) { testRedisFailover(t, topo, false, masterOf) })
	t.Run("local_cache", func(t *testing.T) { testRedisFailover(t, topo, true, masterOf) })
}

// countingLogger stands in for go-redis's own logger during a failover: it
// would print a line for every refused dial, thousands of them.
type countingLogger struct{ lines atomic.Int64 }

func (l *countingLogger) Printf(context.Context, string, ...any) { l.lines.Add(1) }

// stderrLogger is go-redis's default again, once the failover is over.
type stderrLogger struct{}

func (stderrLogger) Printf(_ context.Context, format string, v ...any) {
	log.Printf("redis: "+format, v...)
}

// loadStats counts the answers of the load.
type loadStats struct {
	total, ok, unavailable atomic.Int64
	lastUnavailable        atomic.Int64 // UnixNano of the last 503
	mu                     sync.Mutex
	bad                    []string // answers that are neither 200 nor 503, or a 200 not from the upstream
}

func (s *loadStats) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) < 20 {
		s.bad = append(s.bad, fmt.Sprintf(format, args...))
	}
}

func testRedisFailover(t *testing.T, topo sessiontest.Topology, cached bool, masterOf masterFinder) {
	script, err := filepath.Abs(filepath.Join("..", ".ci", "redis-topologies"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("the restart script: %v", err)
	}
	ctx := t.Context()
	quiet := &countingLogger{}
	redis.SetLogger(quiet)
	t.Cleanup(func() {
		redis.SetLogger(stderrLogger{})
		t.Logf("%d go-redis log lines left out", quiet.lines.Load())
	})
	client := sessiontest.RedisClient(t, topo)
	prefix := sessiontest.KeyPrefix(t, client)
	var store session.Store = session.NewRedisStore(client, session.RedisOptions{KeyPrefix: prefix})
	if cached {
		// serve's default local cache (config.yaml: 250ms).
		c := session.NewCachedStore(store.(*session.RedisStore), client, session.CacheOptions{MaxAge: 250 * time.Millisecond})
		t.Cleanup(func() { c.Close() })
		store = c
	}
	h := newHarnessWithStore(t, store)

	type user struct {
		id      string
		cookies []*http.Cookie
	}
	var users []user
	for i := range failoverUsers {
		email := fmt.Sprintf("failover%d@example.com", i)
		a := h.createAccount(email, "correct horse battery")
		b := h.browser()
		b.login(email, "correct horse battery")
		b.enter("scaleway")
		b.mu.Lock()
		var cs []*http.Cookie
		for _, c := range b.cookies["console.scaleway.test"] {
			cs = append(cs, c)
		}
		b.mu.Unlock()
		users = append(users, user{id: a.ID, cookies: cs})
	}

	// The master that holds a session: killing it is what the requests feel.
	keys, err := sessiontest.Keys(ctx, client, prefix+"session:")
	if err != nil || len(keys) == 0 {
		t.Fatalf("session keys under the test prefix: %v, %v", keys, err)
	}
	master, err := masterOf(ctx, client, keys[0])
	if err != nil {
		t.Fatalf("finding the master: %v", err)
	}
	masterAddr := master.Options().Addr
	// Replication is asynchronous: a session written just before the kill
	// may be lost with the master, and its user must log in again. The test
	// wants the cookies to work after the failover, so it waits until a
	// replica has every session: a write in the same slot, then WAIT on the
	// same connection (the replication stream keeps the master's order).
	pipe := master.Pipeline()
	pipe.Set(ctx, "{"+keys[0]+"}failover-barrier", 1, 10*time.Second)
	acked := pipe.Do(ctx, "wait", 1, 5000)
	if _, err := pipe.Exec(ctx); err != nil || acked.Val() != int64(1) {
		t.Fatalf("WAIT for a replica of %s: %v, %v; want 1 (is the topology whole? .ci/redis-topologies)", masterAddr, acked.Val(), err)
	}
	pid, err := redisPID(ctx, master)
	master.Close()
	if err != nil {
		t.Fatalf("the master's process id: %v", err)
	}

	noRedirect := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(u user, path string) (*http.Response, string, error) {
		req, err := http.NewRequest("GET", h.srv.URL+path, nil)
		if err != nil {
			return nil, "", err
		}
		req.Host = "console.scaleway.test"
		req.Header.Set("Accept", "application/json")
		for _, c := range u.cookies {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, string(body), err
	}
	before := h.scaleway.count()

	var (
		stats  loadStats
		killed atomic.Int64 // UnixNano of the kill
		seq    atomic.Int64
		wg     sync.WaitGroup
	)
	loadCtx, stop := context.WithTimeout(ctx, failoverMax)
	defer stop()
	for w := range failoverWorkers {
		wg.Go(func() {
			u := users[w%len(users)]
			for loadCtx.Err() == nil {
				path := fmt.Sprintf("/load/%d", seq.Add(1))
				resp, body, err := get(u, path)
				stats.total.Add(1)
				switch {
				case err != nil:
					stats.fail("%s: %v", path, err)
				case resp.StatusCode == http.StatusOK && body == "scaleway "+path:
					stats.ok.Add(1)
				case resp.StatusCode == http.StatusServiceUnavailable:
					stats.unavailable.Add(1)
					stats.lastUnavailable.Store(time.Now().UnixNano())
				default:
					stats.fail("%s: %d %.80q", path, resp.StatusCode, body)
				}
				time.Sleep(failoverPace)
			}
		})
	}

	time.Sleep(failoverWarmup)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		stop()
		wg.Wait()
		t.Fatalf("kill -9 %d (master %s): %v", pid, masterAddr, err)
	}
	killedAt := time.Now()
	killed.Store(killedAt.UnixNano())
	t.Cleanup(func() { restartTopology(t, script) })

	// The load ends once the gateway has answered failoverCalm without a 503
	// since the kill (or since the last 503), or at failoverMax.
	for loadCtx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		last := max(stats.lastUnavailable.Load(), killed.Load())
		if stats.unavailable.Load() > 0 && time.Since(time.Unix(0, last)) >= failoverCalm {
			break
		}
		if stats.unavailable.Load() == 0 && time.Since(killedAt) >= 2*failoverCalm {
			break // failed over faster than any request noticed
		}
	}
	timedOut := loadCtx.Err() != nil
	stop()
	wg.Wait()
	loadTime := time.Since(killedAt.Add(-failoverWarmup))

	back := time.Duration(0)
	if last := stats.lastUnavailable.Load(); last > 0 {
		back = time.Unix(0, last).Sub(killedAt)
	}
	t.Logf("%s failover, %s (master %s killed): %d requests in %.1fs, %d answered 200, %d answered 503, service back %.1fs after the kill",
		topo, map[bool]string{false: "RedisStore", true: "local cache 250ms"}[cached], masterAddr, stats.total.Load(), loadTime.Seconds(), stats.ok.Load(), stats.unavailable.Load(), back.Seconds())
	for _, b := range stats.bad {
		t.Errorf("neither 200 from the upstream nor 503: %s", b)
	}
	if timedOut {
		t.Fatalf("the gateway still answered 503 %v after the kill", failoverMax)
	}

	// Every 200 came from the upstream with the identity of a session; no
	// request reached it without one.
	h.scaleway.mu.Lock()
	reqs := h.scaleway.reqs[before:]
	h.scaleway.mu.Unlock()
	ids := map[string]bool{}
	for _, u := range users {
		ids[u.id] = true
	}
	for _, r := range reqs {
		if !ids[r.Header.Get("X-Auth-User-Id")] || r.Header.Get("X-Auth-Session-Id") == "" || r.Header.Get("X-Auth-Console") != "scaleway" {
			t.Errorf("upstream got %s without a session's identity (user %q, session %q)",
				r.URL.Path, r.Header.Get("X-Auth-User-Id"), r.Header.Get("X-Auth-Session-Id"))
		}
	}
	if got, want := int64(len(reqs)), stats.ok.Load(); got != want {
		t.Errorf("upstream got %d requests, gateway answered %d with 200", got, want)
	}

	// The same cookies work again, on the same gateway.
	for i, u := range users {
		resp, body, err := get(u, "/after")
		if err != nil || resp.StatusCode != http.StatusOK || body != "scaleway /after" {
			t.Errorf("user %d after the failover: %v %v %.80q; want 200 from the upstream", i, statusOf(resp), err, body)
		}
	}
}

func statusOf(r *http.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}

// redisPID asks a local redis-server for its process id (INFO server).
func redisPID(ctx context.Context, c *redis.Client) (int, error) {
	host, _, err := net.SplitHostPort(c.Options().Addr)
	if err != nil {
		return 0, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return 0, fmt.Errorf("%s is not on loopback: its process cannot be killed from here", c.Options().Addr)
	}
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, fmt.Errorf("no process_id in INFO server")
}

// restartTopology starts the killed node again; the script waits until the
// topology is whole (every node back, three Cluster masters, the Sentinels
// agreeing on a master with its replica).
func restartTopology(t *testing.T, script string) {
	start := time.Now()
	out, err := exec.Command(script, "up").CombinedOutput()
	if err != nil {
		t.Errorf("%s up: %v\n%s", script, err, out)
		return
	}
	t.Logf("topology whole again %.1fs after the load", time.Since(start).Seconds())
}
