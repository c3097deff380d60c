package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"unigate/accounts/accountstest"
	"unigate/mail/mailtest"
)

// TestEndToEndMailRateAndPriority: two `unigate serve` replicas on one
// Redis and one PostgreSQL, 200,000 bulk notices queued. A code (sign-up's)
// asked for then is delivered within 5 s, and the relay sees no more than
// mail.rate_per_second (50) from the two replicas together, each of which
// sends (CONTRACT §9); unigate_outbox_pending shows the backlog.
func TestEndToEndMailRateAndPriority(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const rate, bulk = 50, 200_000
	redisURL := redisURLForTest(t)
	dsn := accountstest.PostgresDSN(t)
	sink := mailtest.StartSink(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "unigate")
	if out, err := execCommand(t, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := execCommand(t, bin, "keys", "generate", "--dir", filepath.Join(dir, "keys")).CombinedOutput(); err != nil {
		t.Fatalf("keys generate: %v\n%s", err, out)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`public_url: "http://account.e2e.test"
secrets: {session_key_file: %[1]q, signing_key_file: %[2]q}
session:
  store: redis
  redis: {url: %[3]q, key_prefix: %[4]q}
accounts: {driver: postgres, dsn: %[5]q}
mail:
  transport: smtp
  from: "Accounts <no-reply@e2e.test>"
  smtp: {host: %[6]q, port: %[7]d, tls: none}
  rate_per_second: %[8]d
login: {legacy_login_cutoff: "2025-10-28"}
consoles:
  - {id: dedibox, name: Dedibox, hosts: [console.online.e2e.test], upstream: "http://127.0.0.1:9"}
  - {id: scaleway, name: Scaleway, hosts: [console.scaleway.e2e.test], upstream: "http://127.0.0.1:9"}
`, filepath.Join(dir, "keys", "session.key"), filepath.Join(dir, "keys", "signing.pem"), redisURL,
		fmt.Sprintf("e2e-rate-%d:", time.Now().UnixNano()), dsn, sink.Host, sink.Port, rate)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// An account made first migrates the store.
	create := execCommand(t, bin, "accounts", "create", "--email", "first@example.com", "--password-stdin", "--config", cfgPath)
	create.Stdin = strings.NewReader("a long enough password\n")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("accounts create: %v\n%s", err, out)
	}
	queueBulk(t, dsn, bulk)

	var ports, metrics []string
	for i := range 2 {
		port, mport := freePort(t), freePort(t)
		ports, metrics = append(ports, port), append(metrics, "http://127.0.0.1:"+mport)
		serve := exec.Command(bin, "serve", "--config", cfgPath)
		serve.Env = append(os.Environ(), "UNIGATE_LISTEN=127.0.0.1:"+port, "UNIGATE_METRICS_LISTEN=127.0.0.1:"+mport)
		logs := &syncWriter{}
		serve.Stderr = logs
		if err := serve.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			serve.Process.Kill()
			serve.Wait()
			if t.Failed() {
				t.Logf("replica %d logs:\n%s", i, lastLines(logs.String(), 30))
			}
		})
	}
	for _, m := range metrics {
		waitHealthy(t, m+"/healthz")
	}
	time.Sleep(time.Second) // the backlog flows

	// A code someone waits for (sign-up's), asked for on the first replica
	// while 200,000 notices wait.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+ports[0])
	}}}
	post := func(path string, body any) int {
		t.Helper()
		data, _ := json.Marshal(body)
		resp, err := client.Post("http://account.e2e.test"+path, "application/json", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	asked := time.Now()
	if code := post("/api/v1/signup", map[string]string{"email": "waiting@example.com", "password": "a long enough password"}); code != 202 {
		t.Fatalf("signup: %d", code)
	}
	var delivered time.Time
	for delivered.IsZero() && time.Since(asked) < 10*time.Second {
		for _, m := range sink.Messages() {
			if slices.Contains(m.To, "waiting@example.com") {
				delivered = m.At
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if delivered.IsZero() {
		t.Fatalf("the code was not delivered within 10 s (the relay saw %d mails)", sink.Count())
	}
	if d := delivered.Sub(asked); d > 5*time.Second {
		t.Errorf("the code took %v behind the backlog, want at most 5 s", d)
	} else {
		t.Logf("sign-up code delivered %v after it was asked for, behind %d bulk messages", d.Round(time.Millisecond), bulk)
	}

	// The rate of both replicas together, over 10 s.
	const window = 10 * time.Second
	start := time.Now()
	time.Sleep(window)
	var perSecond [10]int
	total := 0
	for _, m := range sink.Messages() {
		if m.At.Before(start) || !m.At.Before(start.Add(window)) {
			continue
		}
		total++
		perSecond[int(m.At.Sub(start)/time.Second)]++
	}
	got := float64(total) / window.Seconds()
	t.Logf("the relay saw %.1f mails/s over %v from two replicas capped at %d/s together (per second: %v)", got, window, rate, perSecond)
	// At most the cap; well under it only on a machine too busy to keep
	// up (the lower bound shows the backlog flowing, not a promise).
	if got > rate*1.1 || got < rate*0.5 {
		t.Errorf("the relay saw %.1f mails/s, want about %d (at most %d)", got, rate, rate)
	}
	// Two seconds at a time: the cap holds on what is handed to the
	// relay, and on a loaded machine one SMTP exchange may arrive just after
	// a second's boundary instead of just before it (36 then 60 was seen).
	for i := 1; i < len(perSecond); i++ {
		if n := perSecond[i-1] + perSecond[i]; n > 2*rate+rate/10+3 {
			t.Errorf("seconds %d and %d: %d mails, want at most about %d", i-1, i, n, 2*rate)
		}
	}

	// Both replicas send, and the backlog shows.
	for i, m := range metrics {
		values := scrape(t, m+"/metrics")
		if values[`unigate_mail_sent_total{kind="unify_notice",result="sent"}`] < 1 {
			t.Errorf("replica %d sent no bulk notice", i)
		}
		if p, ok := values["unigate_outbox_pending"]; !ok || p < bulk-float64(sink.Count()) || p >= bulk {
			t.Errorf("replica %d: unigate_outbox_pending = %v (present %v), want about %d", i, p, ok, bulk-sink.Count())
		}
	}
}

// queueBulk inserts n unification notices straight into the outbox, due now.
func queueBulk(t *testing.T, dsn string, n int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z")
	_, err = conn.Exec(ctx, `INSERT INTO outbox (id, dedup_key, recipient, kind, priority, data, locale, attempts, next_attempt_at, created_at)
		SELECT 'bulk-' || lpad(g::text, 7, '0'), 'unify_notice:bulk-' || g, 'bulk-' || g || '@example.com', 'unify_notice', -1,
			convert_to('{"Email":"bulk-' || g || '@example.com","NothingChanges":true}', 'UTF8'), 'en', 0, $1, $1
		FROM generate_series(1, $2::int) g`, now, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE outbox`); err != nil {
		t.Fatal(err)
	}
}

var metricLine = regexp.MustCompile(`^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$`)

// scrape reads a Prometheus text page into series → value.
func scrape(t *testing.T, u string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if m := metricLine.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			out[m[1]] = v
		}
	}
	return out
}

// lastLines is the end of a log.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
