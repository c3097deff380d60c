// Command loadgen is a closed-loop HTTP load generator for unigate's
// benchmark (bench/run.sh): -c workers each send one GET, read the whole
// answer, record its latency and send the next, for -d after a -warmup.
//
// It sends load only to this machine: the target must be a loopback address
// (127.0.0.0/8, ::1) or "localhost", every connection it dials is checked to
// be loopback, environment proxies are ignored and redirects are not followed.
// Its loop is bounded in time (-warmup + -d) and in count (-n).
//
// It prints one line,
//
//	name rps=… p50=…µs p99=…µs errors=… non2xx=… p90=…µs p999=…µs max=…µs requests=… sent=…
//
// or, with -json, the same figures as one JSON object. requests counts the
// measured answers, sent every request including the warm-up. The exit status
// is 1 when any request failed or answered outside 2xx, 2 on bad usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// config is the parsed command line.
type config struct {
	name     string
	target   *url.URL
	host     string
	cookie   string
	workers  int
	duration time.Duration
	warmup   time.Duration
	max      int64
	timeout  time.Duration
	json     bool
}

// result is what one run measured.
type result struct {
	Name     string  `json:"name"`
	RPS      float64 `json:"rps"`
	P50us    float64 `json:"p50_us"`
	P90us    float64 `json:"p90_us"`
	P99us    float64 `json:"p99_us"`
	P999us   float64 `json:"p999_us"`
	MaxUs    float64 `json:"max_us"`
	MeanUs   float64 `json:"mean_us"`
	Requests int64   `json:"requests"` // answers recorded after the warm-up
	Sent     int64   `json:"sent"`     // every request sent, warm-up included
	Errors   int64   `json:"errors"`   // transport errors (no HTTP answer)
	Non2xx   int64   `json:"non2xx"`
	Seconds  float64 `json:"seconds"` // measured wall time
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
		}
		os.Exit(2)
	}
	res := run(cfg)
	if cfg.json {
		enc := json.NewEncoder(os.Stdout)
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
	} else {
		fmt.Println(res.line())
	}
	if res.Errors > 0 || res.Non2xx > 0 || res.Requests == 0 {
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg    config
		target string
	)
	fs.StringVar(&target, "url", "", "target URL; its host must be loopback (127.0.0.0/8, ::1, localhost)")
	fs.StringVar(&cfg.host, "host", "", "Host header to send instead of the URL's host")
	fs.StringVar(&cfg.cookie, "cookie", "", "Cookie header value to send")
	fs.IntVar(&cfg.workers, "c", 32, "concurrency: workers, each with one request in flight")
	fs.DurationVar(&cfg.duration, "d", 10*time.Second, "measured duration, after the warm-up")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "warm-up duration, not recorded")
	fs.Int64Var(&cfg.max, "n", 2_000_000, "upper bound on requests sent, warm-up included")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "timeout of one request")
	fs.StringVar(&cfg.name, "name", "load", "label printed first on the result line")
	fs.BoolVar(&cfg.json, "json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	u, err := checkTarget(target)
	if err != nil {
		return config{}, err
	}
	cfg.target = u
	switch {
	case cfg.workers < 1 || cfg.workers > 10_000:
		return config{}, fmt.Errorf("-c %d: want 1..10000", cfg.workers)
	case cfg.duration <= 0 || cfg.duration > time.Hour:
		return config{}, fmt.Errorf("-d %s: want more than 0 and at most 1h", cfg.duration)
	case cfg.warmup < 0 || cfg.warmup > time.Hour:
		return config{}, fmt.Errorf("-warmup %s: want 0..1h", cfg.warmup)
	case cfg.max < 1 || cfg.max > 100_000_000:
		return config{}, fmt.Errorf("-n %d: want 1..100000000", cfg.max)
	case cfg.timeout <= 0:
		return config{}, fmt.Errorf("-timeout %s: want more than 0", cfg.timeout)
	case strings.ContainsAny(cfg.name, " \t\r\n"):
		return config{}, fmt.Errorf("-name %q: no spaces", cfg.name)
	}
	return cfg, nil
}

// checkTarget parses the target and refuses anything but http(s) to a
// loopback host: this tool must never send load off the machine.
func checkTarget(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("-url is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("-url %q: scheme must be http or https", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("-url %q: no user info", raw)
	}
	if !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("-url %q: host %q is not loopback (127.0.0.0/8, ::1, localhost); load goes only to this machine", raw, u.Hostname())
	}
	return u, nil
}

// isLoopbackHost reports whether host (no port) is a loopback IP literal or
// the name localhost.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || addr.Zone() != "" {
		return false
	}
	return addr.Unmap().IsLoopback()
}

// loopbackOnly is a net.Dialer Control hook: it refuses, after name
// resolution, any connection whose peer is not a loopback address.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("loadgen: dial %s %s: %w", network, address, err)
	}
	if !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("loadgen: refusing to dial %s: not a loopback address", address)
	}
	return nil
}

// newClient returns a keep-alive client with one idle connection per worker,
// no proxy from the environment, no compression and no redirects.
func newClient(cfg config) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		MaxIdleConns:          cfg.workers,
		MaxIdleConnsPerHost:   cfg.workers,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: cfg.timeout,
		ForceAttemptHTTP2:     false,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   cfg.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// run drives cfg.workers closed loops until the warm-up and the measured
// duration have passed or cfg.max requests were sent, then merges what the
// workers recorded.
func run(cfg config) result {
	client := newClient(cfg)
	defer client.CloseIdleConnections()

	var sent atomic.Int64
	start := time.Now()
	measureFrom := start.Add(cfg.warmup)
	stopAt := measureFrom.Add(cfg.duration)
	ctx, cancel := context.WithDeadline(context.Background(), stopAt.Add(cfg.timeout))
	defer cancel()

	workers := make([]*worker, cfg.workers)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{hist: newHistogram()}
		workers[i] = w
		wg.Go(func() {
			w.loop(ctx, client, cfg, &sent, measureFrom, stopAt)
		})
	}
	wg.Wait()
	end := time.Now()

	total := newHistogram()
	res := result{Name: cfg.name, Sent: min(sent.Load(), cfg.max)}
	for _, w := range workers {
		total.merge(w.hist)
		res.Errors += w.errors
		res.Non2xx += w.non2xx
	}
	res.Requests = total.count
	if end.After(measureFrom) {
		res.Seconds = end.Sub(measureFrom).Seconds()
	}
	if res.Seconds > 0 {
		res.RPS = float64(res.Requests) / res.Seconds
	}
	res.P50us = micros(total.quantile(0.50))
	res.P90us = micros(total.quantile(0.90))
	res.P99us = micros(total.quantile(0.99))
	res.P999us = micros(total.quantile(0.999))
	res.MaxUs = micros(total.max)
	res.MeanUs = micros(total.mean())
	return res
}

// worker is one closed loop; only its own goroutine touches it until run
// merges the results.
type worker struct {
	hist   *histogram
	errors int64
	non2xx int64
}

func (w *worker) loop(ctx context.Context, client *http.Client, cfg config, sent *atomic.Int64, measureFrom, stopAt time.Time) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.target.String(), nil)
	if err != nil {
		w.errors++
		return
	}
	if cfg.host != "" {
		req.Host = cfg.host
	}
	if cfg.cookie != "" {
		req.Header.Set("Cookie", cfg.cookie)
	}
	req.Header.Set("User-Agent", "unigate-loadgen")
	req.Header.Set("Accept", "*/*")

	for {
		began := time.Now()
		if !began.Before(stopAt) || sent.Add(1) > cfg.max {
			return
		}
		// The request is reused: nothing mutates it and the previous
		// answer's body is closed before the next Do.
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !began.Before(measureFrom) {
				w.errors++
			}
			time.Sleep(time.Millisecond) // don't spin on a refused connection
			continue
		}
		_, copyErr := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		took := time.Since(began)
		if began.Before(measureFrom) {
			continue
		}
		if copyErr != nil {
			w.errors++
			continue
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			w.non2xx++
		}
		w.hist.record(took)
	}
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func (r result) line() string {
	return fmt.Sprintf("%s rps=%.0f p50=%.1fµs p99=%.1fµs errors=%d non2xx=%d p90=%.1fµs p999=%.1fµs max=%.1fµs requests=%d sent=%d",
		r.Name, r.RPS, r.P50us, r.P99us, r.Errors, r.Non2xx, r.P90us, r.P999us, r.MaxUs, r.Requests, r.Sent)
}
