package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis tests run against a real Redis (7+) at UNIGATE_TEST_REDIS_URL. They
// are skipped when it does not answer, unless UNIGATE_REQUIRE_SERVICES=1
// (CI), where that is a failure. Each test works under its own random key
// prefix and deletes its keys at the end, so tests and people can share one Redis.

func testRedisURL() string {
	if u := os.Getenv("UNIGATE_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// testRedisClient returns a client on the test Redis, closed at the end of the test.
func testRedisClient(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	raw := testRedisURL()
	shown := raw
	if u, err := url.Parse(raw); err == nil {
		shown = u.Redacted()
	}
	c, err := NewRedisClient(RedisClientOptions{URL: raw})
	if err != nil {
		tb.Fatalf("UNIGATE_TEST_REDIS_URL %s: %v", shown, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		if os.Getenv("UNIGATE_REQUIRE_SERVICES") == "1" {
			tb.Fatalf("Redis at %s does not answer and UNIGATE_REQUIRE_SERVICES=1: %v", shown, err)
		}
		tb.Skipf("Redis at %s does not answer (%v); set UNIGATE_TEST_REDIS_URL", shown, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// testPrefix returns a fresh key prefix whose keys are deleted when the test ends.
func testPrefix(tb testing.TB, c redis.UniversalClient) string {
	tb.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	prefix := "unigate-test:" + hex.EncodeToString(b) + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		keys, err := scanKeys(ctx, c, prefix)
		if err == nil && len(keys) > 0 {
			err = c.Del(ctx, keys...).Err()
		}
		if err != nil {
			tb.Errorf("cleaning up keys %s*: %v", prefix, err)
		}
	})
	return prefix
}

func scanKeys(ctx context.Context, c redis.UniversalClient, prefix string) ([]string, error) {
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// TestRedisKeyLayout checks the keys of DESIGN.md "Sessions", their TTLs,
// and that no key name or value holds a token or a handoff code: a dump of
// Redis must not yield a usable cookie (ASVS V7.2.3).
func TestRedisKeyLayout(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := testRedisClient(t)
	p := testPrefix(t, c)
	st := NewRedisStore(c, RedisOptions{KeyPrefix: p})

	s := newTestSession(time.Now(), "acct-1")
	token := mustCreate(t, st, s, 30*time.Minute)
	code, err := st.CreateHandoff(ctx, Handoff{Token: token, Host: "console.example.test", Path: "/"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Hit(ctx, "login:acct-1", time.Minute); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		key    string
		minTTL time.Duration
		maxTTL time.Duration
	}{
		{p + "session:" + s.Handle, 29 * time.Minute, 30 * time.Minute},
		// Index: the session's absolute expiry (1h) plus indexTTLSlack.
		{p + "account-sessions:acct-1", time.Hour + indexTTLSlack - time.Minute, time.Hour + indexTTLSlack},
		{p + "handoff:" + HandleOf(code), 50 * time.Second, time.Minute},
		{p + "counter:login:acct-1", 50 * time.Second, time.Minute},
	} {
		ttl, err := c.PTTL(ctx, tc.key).Result()
		if err != nil || ttl < tc.minTTL || ttl > tc.maxTTL {
			t.Errorf("PTTL %s: got %v, %v; want within [%v, %v]", strings.TrimPrefix(tc.key, p), ttl, err, tc.minTTL, tc.maxTTL)
		}
	}
	if ok, _ := c.SIsMember(ctx, p+"account-sessions:acct-1", s.Handle).Result(); !ok {
		t.Errorf("the index does not hold the session's handle")
	}

	keys, err := scanKeys(ctx, c, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 4 {
		t.Errorf("keys under the prefix: got %v, want 4", keys)
	}
	for _, k := range keys {
		var content string
		switch typ := c.Type(ctx, k).Val(); typ {
		case "string":
			content = c.Get(ctx, k).Val()
		case "set":
			content = strings.Join(c.SMembers(ctx, k).Val(), " ")
		default:
			t.Errorf("key %s has type %s", k, typ)
		}
		if containsAny(k+" "+content, token, code) {
			t.Errorf("key %s holds a token or a handoff code in clear", strings.TrimPrefix(k, p))
		}
	}
}

// cmdRecorder is a go-redis hook that records what reaches the server.
type cmdRecorder struct {
	mu   sync.Mutex
	sent []string // command names, "pipeline(n)" for a pipeline or MULTI
}

func (h *cmdRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *cmdRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.add(cmd.Name())
		return next(ctx, cmd)
	}
}

func (h *cmdRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.Name()
		}
		h.add("pipeline(" + strings.Join(names, ",") + ")")
		return next(ctx, cmds)
	}
}

func (h *cmdRecorder) add(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sent = append(h.sent, s)
}

// take returns what was sent since the last take, less the handshake a new
// connection makes (HELLO, CLIENT SETINFO, AUTH, SELECT): not a round trip
// of the operation.
func (h *cmdRecorder) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, s := range h.sent {
		switch s {
		case "hello", "auth", "select", "pipeline(client,client)", "pipeline(select)":
		default:
			out = append(out, s)
		}
	}
	h.sent = nil
	return out
}

// TestRedisRoundTrips pins the number of round trips of the hot paths: a
// proxied request costs one (DESIGN.md), a counter hit one.
func TestRedisRoundTrips(t *testing.T) {
	ctx := t.Context()
	c := testRedisClient(t)
	st := NewRedisStore(c, RedisOptions{KeyPrefix: testPrefix(t, c)})
	rec := &cmdRecorder{}
	c.AddHook(rec)

	s := newTestSession(time.Now(), "acct-1")
	mustCreate(t, st, s, time.Minute)
	if got := rec.take(); len(got) != 1 || !strings.HasPrefix(got[0], "pipeline(set,sadd,expire,expire") {
		t.Errorf("Create sent %v, want one pipeline", got)
	}
	if _, err := st.Get(ctx, s.Handle, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 1 || got[0] != "getex" {
		t.Errorf("Get sent %v, want [getex]: one round trip, read and refresh together", got)
	}
	if err := st.Save(ctx, s, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 1 || !strings.HasPrefix(got[0], "pipeline(set,") {
		t.Errorf("Save sent %v, want one pipeline", got)
	}
	if _, _, err := st.Hit(ctx, "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 1 || got[0] != "pipeline(multi,incr,pexpire,pttl,exec)" {
		t.Errorf("Hit sent %v, want one MULTI", got)
	}
}

// closedAddr returns a local address nothing listens on.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestRedisHung: a Redis that accepts connections but never answers is cut
// off by the read timeout, not waited on.
func TestRedisHung(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	defer func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	c, err := NewRedisClient(RedisClientOptions{Addrs: []string{ln.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := NewRedisStore(c, RedisOptions{})
	start := time.Now()
	_, err = st.Get(t.Context(), HandleOf(NewToken()), time.Minute)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get on a hung Redis: got %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Get on a hung Redis took %v, want < 3s", d)
	}
}

// tcpProxy stands between the client and the test Redis so that a test can
// cut Redis off and bring it back on the same address.
type tcpProxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startProxy(tb testing.TB, target string) *tcpProxy {
	tb.Helper()
	p := &tcpProxy{target: target, addr: "127.0.0.1:0", conns: make(map[net.Conn]struct{})}
	if err := p.up(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		p.down()
		p.wg.Wait()
	})
	return p
}

func (p *tcpProxy) up() error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns[in], p.conns[out] = struct{}{}, struct{}{}
			p.mu.Unlock()
			p.wg.Go(func() { io.Copy(out, in); out.Close() })
			p.wg.Go(func() { io.Copy(in, out); in.Close() })
		}
	})
	return nil
}

// down closes the listener and every connection: to the client, Redis is gone.
func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// TestRedisRecovers: after an outage the store works again by itself, with
// the same client and no restart (CONTRACT §7).
func TestRedisRecovers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	direct := testRedisClient(t)
	prefix := testPrefix(t, direct)
	opt, err := redis.ParseURL(testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, opt.Addr)
	c, err := NewRedisClient(RedisClientOptions{
		Addrs: []string{proxy.addr}, DB: opt.DB, Username: opt.Username, Password: opt.Password, TLS: opt.TLSConfig,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := NewRedisStore(c, RedisOptions{KeyPrefix: prefix})

	s := newTestSession(time.Now(), "acct-1")
	mustCreate(t, st, s, time.Minute)

	proxy.down()
	for range 3 {
		if _, err := st.Get(ctx, s.Handle, time.Minute); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get during the outage: got %v, want ErrUnavailable", err)
		}
	}
	if err := proxy.up(); err != nil {
		t.Skipf("cannot listen on %s again: %v", proxy.addr, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := st.Get(ctx, s.Handle, time.Minute)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Get after Redis came back: still %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestNewRedisClient(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    RedisClientOptions
		check   func(t *testing.T, c redis.UniversalClient)
		wantErr string
	}{
		{name: "url", opts: RedisClientOptions{URL: "redis://127.0.0.1:6379/2"}, check: func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.Client).Options()
			if o.Addr != "127.0.0.1:6379" || o.DB != 2 || o.TLSConfig != nil {
				t.Errorf("got addr %s db %d tls %v", o.Addr, o.DB, o.TLSConfig != nil)
			}
			if o.ReadTimeout != redisReadTimeout || o.WriteTimeout != redisWriteTimeout || o.DialTimeout != redisDialTimeout ||
				o.PoolTimeout != redisPoolTimeout || o.MaxRetries != redisMaxRetries || !o.ContextTimeoutEnabled {
				t.Errorf("fail-fast defaults not applied: read %v write %v dial %v pool %v retries %d ctx %v",
					o.ReadTimeout, o.WriteTimeout, o.DialTimeout, o.PoolTimeout, o.MaxRetries, o.ContextTimeoutEnabled)
			}
		}},
		{name: "url query wins", opts: RedisClientOptions{URL: "redis://h/0?read_timeout=3s&max_retries=4"}, check: func(t *testing.T, c redis.UniversalClient) {
			if o := c.(*redis.Client).Options(); o.ReadTimeout != 3*time.Second || o.MaxRetries != 4 {
				t.Errorf("got read timeout %v, retries %d; want the URL's 3s, 4", o.ReadTimeout, o.MaxRetries)
			}
		}},
		{name: "rediss is TLS", opts: RedisClientOptions{URL: "rediss://redis.example.test:6380/1"}, check: func(t *testing.T, c redis.UniversalClient) {
			if o := c.(*redis.Client).Options(); o.TLSConfig == nil || o.TLSConfig.ServerName != "redis.example.test" {
				t.Errorf("rediss:// without TLS")
			}
		}},
		{name: "password overrides url", opts: RedisClientOptions{URL: "redis://u:old@h/0", Password: "new"}, check: func(t *testing.T, c redis.UniversalClient) {
			if o := c.(*redis.Client).Options(); o.Password != "new" || o.Username != "u" {
				t.Errorf("got user %q password %q", o.Username, o.Password)
			}
		}},
		{name: "one addr", opts: RedisClientOptions{Addrs: []string{"h:6379"}, DB: 3}, check: func(t *testing.T, c redis.UniversalClient) {
			if o := c.(*redis.Client).Options(); o.Addr != "h:6379" || o.DB != 3 || o.ReadTimeout != redisReadTimeout {
				t.Errorf("got addr %s db %d read timeout %v", o.Addr, o.DB, o.ReadTimeout)
			}
		}},
		{name: "sentinel", opts: RedisClientOptions{Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "mymaster"}, check: func(t *testing.T, c redis.UniversalClient) {
			if _, ok := c.(*redis.Client); !ok {
				t.Errorf("got %T, want a failover *redis.Client", c)
			}
		}},
		{name: "cluster", opts: RedisClientOptions{Addrs: []string{"n1:6379", "n2:6379"}, Cluster: true}, check: func(t *testing.T, c redis.UniversalClient) {
			cc, ok := c.(*redis.ClusterClient)
			if !ok {
				t.Fatalf("got %T, want *redis.ClusterClient", c)
			}
			if o := cc.Options(); o.ReadTimeout != redisReadTimeout || o.MaxRetries != redisMaxRetries {
				t.Errorf("fail-fast defaults not applied to the cluster client")
			}
			if o := cc.Options(); o.ClusterStateReloadInterval != redisClusterStateReload {
				t.Errorf("slot map reloaded every %v, want %v (a killed master sends no MOVED)", o.ClusterStateReloadInterval, redisClusterStateReload)
			}
		}},
		{name: "cluster with one seed", opts: RedisClientOptions{Addrs: []string{"n1:6379"}, Cluster: true}, check: func(t *testing.T, c redis.UniversalClient) {
			if _, ok := c.(*redis.ClusterClient); !ok {
				t.Errorf("got %T, want *redis.ClusterClient", c)
			}
		}},
		{name: "nothing", opts: RedisClientOptions{}, wantErr: "set url or addrs"},
		{name: "url and addrs", opts: RedisClientOptions{URL: "redis://h/0", Addrs: []string{"h:1"}}, wantErr: "not both"},
		{name: "url and master", opts: RedisClientOptions{URL: "redis://h/0", MasterName: "m"}, wantErr: "need addrs"},
		{name: "sentinel and cluster", opts: RedisClientOptions{Addrs: []string{"a:1"}, MasterName: "m", Cluster: true}, wantErr: "exclude"},
		{name: "several addrs, no mode", opts: RedisClientOptions{Addrs: []string{"a:1", "b:1"}}, wantErr: "several addrs"},
		{name: "cluster db", opts: RedisClientOptions{Addrs: []string{"a:1"}, Cluster: true, DB: 1}, wantErr: "database 0"},
		{name: "bad scheme", opts: RedisClientOptions{URL: "http://h/0"}, wantErr: "not a valid"},
		{name: "url db conflict", opts: RedisClientOptions{URL: "redis://h/1", DB: 2}, wantErr: "conflicts"},
		{name: "bad url keeps its password", opts: RedisClientOptions{URL: "redis://u:hunter2@h:port/0"}, wantErr: "not a valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewRedisClient(tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("got %v, want an error saying %q (and no password)", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v", err)
			}
			defer c.Close()
			tc.check(t, c)
		})
	}
}

func BenchmarkRedisGet(b *testing.B) {
	c := testRedisClient(b)
	st := NewRedisStore(c, RedisOptions{KeyPrefix: testPrefix(b, c)})
	s := newTestSession(time.Now(), "acct-1")
	mustCreate(b, st, s, time.Hour)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Get(ctx, s.Handle, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedisGetParallel(b *testing.B) {
	c := testRedisClient(b)
	st := NewRedisStore(c, RedisOptions{KeyPrefix: testPrefix(b, c)})
	s := newTestSession(time.Now(), "acct-1")
	mustCreate(b, st, s, time.Hour)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := st.Get(context.Background(), s.Handle, time.Hour); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkMemoryGet(b *testing.B) {
	st := NewMemoryStore(nil)
	s := newTestSession(time.Now(), "acct-1")
	mustCreate(b, st, s, time.Hour)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Get(ctx, s.Handle, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
