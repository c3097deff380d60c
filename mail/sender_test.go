package mail

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"unigate/accounts"
	"unigate/accounts/accountstest"
)

// memOutbox is an in-memory accounts.OutboxStore with the same rules as the
// SQL one (leases, priority, give-up), for driving the Sender tick by tick.
// The Sender is also tested against the real store below.
type memOutbox struct {
	mu     sync.Mutex
	msgs   []*memMsg
	leases []time.Duration // the lease of each claim
	limits []int           // the limit of each claim
}

type memMsg struct {
	accounts.OutboxMessage
	leasedUntil time.Time
	givenUp     bool
}

var _ accounts.OutboxStore = (*memOutbox)(nil)

func (s *memOutbox) EnqueueMail(_ context.Context, m *accounts.OutboxMessage) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.msgs {
		if x.Key == m.Key {
			return false, nil
		}
	}
	m.ID = fmt.Sprint("id-", len(s.msgs))
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = time.Unix(0, 0)
	}
	s.msgs = append(s.msgs, &memMsg{OutboxMessage: *m})
	return true, nil
}

func (s *memOutbox) ClaimMail(_ context.Context, now time.Time, lease time.Duration, limit int) ([]accounts.OutboxMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leases = append(s.leases, lease)
	s.limits = append(s.limits, limit)
	var due []*memMsg
	for _, m := range s.msgs {
		if m.SentAt.IsZero() && !m.givenUp && !m.NextAttemptAt.After(now) && !m.leasedUntil.After(now) {
			due = append(due, m)
		}
	}
	slices.SortStableFunc(due, func(a, b *memMsg) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return a.NextAttemptAt.Compare(b.NextAttemptAt)
	})
	var out []accounts.OutboxMessage
	for _, m := range due[:min(limit, len(due))] {
		m.leasedUntil = now.Add(lease)
		out = append(out, m.OutboxMessage)
	}
	return out, nil
}

func (s *memOutbox) find(id string) *memMsg {
	for _, m := range s.msgs {
		if m.ID == id {
			return m
		}
	}
	return nil
}

func (s *memOutbox) MarkMailSent(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.find(id)
	if m == nil {
		return accounts.ErrNotFound
	}
	if m.SentAt.IsZero() {
		m.SentAt, m.Raw, m.Data, m.leasedUntil = at, nil, nil, time.Time{}
	}
	return nil
}

func (s *memOutbox) MarkMailFailed(_ context.Context, id string, next time.Time, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.find(id)
	if m == nil || !m.SentAt.IsZero() {
		return accounts.ErrNotFound
	}
	m.Attempts++
	m.NextAttemptAt, m.LastError, m.leasedUntil, m.givenUp = next, reason, time.Time{}, next.IsZero()
	return nil
}

func (s *memOutbox) PendingMail(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.msgs {
		if m.SentAt.IsZero() && !m.givenUp {
			n++
		}
	}
	return n, nil
}

func (s *memOutbox) get(tb testing.TB, key string) memMsg {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.Key == key {
			return *m
		}
	}
	tb.Fatalf("no message %q", key)
	return memMsg{}
}

// fakeTransport records deliveries; fail, when set, decides each outcome.
type fakeTransport struct {
	mu    sync.Mutex
	sent  []string // recipients, in order
	kinds []string
	raws  [][]byte
	fail  func(to string) error
	block chan struct{} // when set, Send waits for it or for ctx
}

func (f *fakeTransport) Send(ctx context.Context, to string, raw []byte) error {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(to); err != nil {
			return err
		}
	}
	f.sent = append(f.sent, to)
	f.kinds = append(f.kinds, kindFrom(ctx))
	f.raws = append(f.raws, raw)
	return nil
}

func (f *fakeTransport) sentTo() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2025, 10, 28, 9, 0, 0, 0, time.UTC)}
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// results collects OnResult calls.
type results struct {
	mu  sync.Mutex
	got []string
}

func (r *results) add(kind, result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, kind+":"+result)
}

func (r *results) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.got, " ")
}

func mustQueue(tb testing.TB, store accounts.OutboxStore, r *Renderer, key, kind, to string, data any) {
	tb.Helper()
	queued, err := Queue(context.Background(), store, r, key, "", kind, "en", to, data)
	if err != nil || !queued {
		tb.Fatalf("Queue(%s) = %v, %v", key, queued, err)
	}
}

func mustSender(tb testing.TB, store accounts.OutboxStore, t Transport, opts SenderOptions) *Sender {
	tb.Helper()
	s, err := NewSender(store, t, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func codeData(code string) CodeData { return CodeData{Code: code, ExpiresMinutes: 10} }

func TestSenderSendsUrgentFirst(t *testing.T) {
	store, ft, res, clock := &memOutbox{}, &fakeTransport{}, &results{}, newTestClock()
	r := mustRenderer(t)
	mustQueue(t, store, r, "exists", KindAccountExists, "old@example.com", AccountExistsData{})
	mustQueue(t, store, r, "code", KindEmailCode, "waiting@example.com", codeData("12345678"))
	s := mustSender(t, store, ft, SenderOptions{Now: clock.now, Concurrency: 1, OnResult: res.add, Lease: 3 * time.Minute})
	if n := s.sendDue(context.Background()); n != 2 {
		t.Fatalf("sendDue claimed %d, want 2", n)
	}
	if got, want := ft.sentTo(), []string{"waiting@example.com", "old@example.com"}; !slices.Equal(got, want) {
		t.Errorf("sent to %q, want %q (the code first)", got, want)
	}
	if got, want := strings.Join(ft.kinds, " "), "email_code account_exists"; got != want {
		t.Errorf("the transport saw kinds %q, want %q", got, want)
	}
	if got, want := res.String(), "email_code:sent account_exists:sent"; got != want {
		t.Errorf("OnResult calls %q, want %q", got, want)
	}
	if m := store.get(t, "code"); !m.SentAt.Equal(clock.now()) || m.Raw != nil {
		t.Errorf("after sending: sent at %v, raw %d bytes; want now and erased", m.SentAt, len(m.Raw))
	}
	if slices.ContainsFunc(store.leases, func(d time.Duration) bool { return d != 3*time.Minute }) {
		t.Errorf("leases asked %v, want the configured 3m", store.leases)
	}
	if n := s.sendDue(context.Background()); n != 0 || len(ft.sentTo()) != 2 {
		t.Errorf("a second pass claimed %d and sent %d in all, want 0 and 2", n, len(ft.sentTo()))
	}
}

func TestSenderBacksOffThenSends(t *testing.T) {
	ctx := context.Background()
	store, res, clock := &memOutbox{}, &results{}, newTestClock()
	failures := 2
	ft := &fakeTransport{fail: func(string) error {
		if failures > 0 {
			failures--
			return errors.New("451 4.7.1 greylisted, try again later")
		}
		return nil
	}}
	mustQueue(t, store, mustRenderer(t), "k", KindEmailCode, "a@example.com", codeData("12345678"))
	s := mustSender(t, store, ft, SenderOptions{Now: clock.now, OnResult: res.add,
		Backoff: func(attempt int) time.Duration { return time.Duration(attempt) * time.Minute }})

	s.sendDue(ctx) // attempt 1 fails: due again in 1m
	m := store.get(t, "k")
	if m.Attempts != 1 || !m.NextAttemptAt.Equal(clock.now().Add(time.Minute)) || !strings.Contains(m.LastError, "greylisted") {
		t.Fatalf("after one failure: %d attempts, next %v, error %q", m.Attempts, m.NextAttemptAt, m.LastError)
	}
	clock.advance(time.Minute - time.Second)
	if n := s.sendDue(ctx); n != 0 {
		t.Fatalf("claimed %d before the backoff ended", n)
	}
	clock.advance(time.Second)
	s.sendDue(ctx) // attempt 2 fails: due again in 2m
	if m := store.get(t, "k"); m.Attempts != 2 || !m.NextAttemptAt.Equal(clock.now().Add(2*time.Minute)) {
		t.Fatalf("after two failures: %d attempts, next %v", m.Attempts, m.NextAttemptAt)
	}
	clock.advance(2 * time.Minute)
	s.sendDue(ctx)
	if got := ft.sentTo(); len(got) != 1 {
		t.Fatalf("sent %q, want one delivery", got)
	}
	if got, want := res.String(), "email_code:retry email_code:retry email_code:sent"; got != want {
		t.Errorf("OnResult calls %q, want %q", got, want)
	}
	if n, _ := store.PendingMail(ctx); n != 0 {
		t.Errorf("%d pending, want 0", n)
	}
}

func TestSenderGivesUpAfterMaxAttempts(t *testing.T) {
	ctx := context.Background()
	store, res, clock := &memOutbox{}, &results{}, newTestClock()
	var logs bytes.Buffer
	ft := &fakeTransport{fail: func(string) error { return errors.New("dial tcp: connection refused") }}
	const code = "55501234"
	mustQueue(t, store, mustRenderer(t), "k", KindEmailCode, "a@example.com", codeData(code))
	s := mustSender(t, store, ft, SenderOptions{Now: clock.now, OnResult: res.add, MaxAttempts: 3,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for range 10 {
		s.sendDue(ctx)
		clock.advance(2 * time.Hour) // beyond any default backoff
	}
	m := store.get(t, "k")
	if m.Attempts != 3 || !m.givenUp || !m.NextAttemptAt.IsZero() {
		t.Errorf("%d attempts, given up %v, next %v; want 3, true, zero", m.Attempts, m.givenUp, m.NextAttemptAt)
	}
	if got, want := res.String(), "email_code:retry email_code:retry email_code:gave_up"; got != want {
		t.Errorf("OnResult calls %q, want %q", got, want)
	}
	if n, _ := store.PendingMail(ctx); n != 0 {
		t.Errorf("%d pending, want 0: a given-up message is not pending", n)
	}
	if !strings.Contains(logs.String(), "given up after 3 attempts") {
		t.Errorf("no give-up line in the log:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), code) {
		t.Errorf("the log contains the code:\n%s", logs.String())
	}
}

func TestSenderGivesUpPermanentFailureAtOnce(t *testing.T) {
	store, res, clock := &memOutbox{}, &results{}, newTestClock()
	ft := &fakeTransport{fail: func(to string) error {
		if to == "nobody@example.com" {
			return fmt.Errorf("smtp: RCPT TO: %w: 550 5.1.1 no such user", ErrPermanent)
		}
		return nil
	}}
	r := mustRenderer(t)
	mustQueue(t, store, r, "bad", KindEmailCode, "nobody@example.com", codeData("12345678"))
	mustQueue(t, store, r, "good", KindEmailCode, "alice@example.com", codeData("12345678"))
	s := mustSender(t, store, ft, SenderOptions{Now: clock.now, OnResult: res.add, Concurrency: 1})
	s.sendDue(context.Background())
	if m := store.get(t, "bad"); m.Attempts != 1 || !m.givenUp {
		t.Errorf("permanent failure: %d attempts, given up %v; want 1, true", m.Attempts, m.givenUp)
	}
	if got, want := res.String(), "email_code:gave_up email_code:sent"; got != want {
		t.Errorf("OnResult calls %q, want %q", got, want)
	}
}

// TestSenderRendersStoredMessages: a message queued as data is rendered at
// delivery, in its locale; one that cannot be rendered (no renderer, data
// of the wrong shape) is given up at once, never sent half-made.
func TestSenderRendersStoredMessages(t *testing.T) {
	store, ft, res, clock := &memOutbox{}, &fakeTransport{}, &results{}, newTestClock()
	notice := UnifyNoticeData{Email: "zoe@example.com", Merged: true, DediboxAccounts: []string{"d-1", "d-2"}}
	m, err := NewStoredMessage("notice:1", "acc-1", KindUnifyNotice, "fr", "zoe@example.com", notice)
	if err != nil {
		t.Fatal(err)
	}
	if m.Raw != nil || m.Priority != -1 || !strings.Contains(string(m.Data), `"d-2"`) {
		t.Fatalf("stored message %+v", m)
	}
	broken := *m
	broken.Key, broken.Data = "notice:2", []byte(`{"Email":"x@example.com","Unknown":1}`)
	for _, msg := range []*accounts.OutboxMessage{m, &broken} {
		if _, err := store.EnqueueMail(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	s := mustSender(t, store, ft, SenderOptions{Now: clock.now, OnResult: res.add, Concurrency: 1, Renderer: mustRenderer(t)})
	s.sendDue(context.Background())
	if got := ft.sentTo(); !slices.Equal(got, []string{"zoe@example.com"}) {
		t.Fatalf("sent to %q, want only the well-formed notice", got)
	}
	raw := string(ft.raws[0])
	for _, want := range []string{"Content-Language: fr", "d-1, d-2", "zoe@example.com"} {
		if !strings.Contains(raw, want) {
			t.Errorf("rendered notice lacks %q:\n%s", want, raw)
		}
	}
	if got := store.get(t, "notice:2"); !got.givenUp || !got.SentAt.IsZero() {
		t.Errorf("unknown field in stored data: given up %v, sent %v; want given up, unsent", got.givenUp, got.SentAt)
	}
	if got := store.get(t, "notice:1"); got.Data != nil {
		t.Errorf("data kept after sending")
	}

	// Without a renderer: given up, not sent.
	store2, ft2 := &memOutbox{}, &fakeTransport{}
	if _, err := store2.EnqueueMail(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	mustSender(t, store2, ft2, SenderOptions{Now: clock.now, Concurrency: 1}).sendDue(context.Background())
	if len(ft2.sentTo()) != 0 || !store2.get(t, "notice:1").givenUp {
		t.Errorf("without a renderer: sent %q, given up %v", ft2.sentTo(), store2.get(t, "notice:1").givenUp)
	}
}

func TestNewStoredMessageRefuses(t *testing.T) {
	for name, call := range map[string]func() error{
		"code kind": func() error {
			_, err := NewStoredMessage("k", "", KindEmailCode, "en", "a@example.com", codeData("12345678"))
			return err
		},
		"unknown kind": func() error {
			_, err := NewStoredMessage("k", "", "nope", "en", "a@example.com", UnifyNoticeData{})
			return err
		},
		"wrong data type": func() error {
			_, err := NewStoredMessage("k", "", KindUnifyNotice, "en", "a@example.com", &UnifyNoticeData{})
			return err
		},
		"bad recipient": func() error {
			_, err := NewStoredMessage("k", "", KindUnifyNotice, "en", "a@example.com\r\nBcc: b@example.com", UnifyNoticeData{})
			return err
		},
		"recipient with a display name": func() error { // issue 16, finding 4
			_, err := NewStoredMessage("k", "", KindUnifyNotice, "en", "victim<attacker@evil.test>", UnifyNoticeData{})
			return err
		},
	} {
		if err := call(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSenderPoke: with a poll far away, Poke alone makes Run send a message
// queued after it started, in milliseconds.
func TestSenderPoke(t *testing.T) {
	store := &memOutbox{}
	sent := make(chan struct{}, 1)
	ft := &fakeTransport{fail: func(string) error { sent <- struct{}{}; return nil }}
	s := mustSender(t, store, ft, SenderOptions{PollEvery: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, func() bool { return len(store.leasesSnapshot()) > 0 }) // the first pass ran

	mustQueue(t, store, mustRenderer(t), "k", KindEmailCode, "a@example.com", codeData("12345678"))
	select {
	case <-sent:
		t.Fatal("sent without a Poke, before the poll")
	case <-time.After(50 * time.Millisecond):
	}
	start := time.Now()
	s.Poke()
	s.Poke() // never blocks
	select {
	case <-sent:
	case <-time.After(5 * time.Second):
		t.Fatal("not sent 5s after Poke")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("sent %v after Poke", d)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil on shutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func (s *memOutbox) leasesSnapshot() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.leases)
}

// TestSenderShutdownMidSend: a delivery interrupted by shutdown is recorded
// as a failure due at once, for another replica, not left leased.
func TestSenderShutdownMidSend(t *testing.T) {
	store, res, clock := &memOutbox{}, &results{}, newTestClock()
	ft := &fakeTransport{block: make(chan struct{})}
	mustQueue(t, store, mustRenderer(t), "k", KindEmailCode, "a@example.com", codeData("12345678"))
	s := mustSender(t, store, ft, SenderOptions{Now: clock.now, OnResult: res.add})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.sendDue(ctx); close(done) }()
	waitFor(t, func() bool { return len(store.leasesSnapshot()) > 0 })
	cancel()
	<-done
	m := store.get(t, "k")
	if m.Attempts != 1 || !m.NextAttemptAt.Equal(clock.now()) || !m.leasedUntil.IsZero() {
		t.Errorf("interrupted: %d attempts, next %v, leased until %v; want 1, now, not leased", m.Attempts, m.NextAttemptAt, m.leasedUntil)
	}
	if got := res.String(); got != "email_code:retry" {
		t.Errorf("OnResult calls %q", got)
	}
}

func TestDefaultBackoff(t *testing.T) {
	for attempt := 1; attempt <= 40; attempt++ {
		ceiling := time.Hour
		if attempt <= 10 {
			ceiling = 5 * time.Second << (attempt - 1)
		}
		for range 100 {
			d := DefaultBackoff(attempt)
			if d < ceiling/2 || d > ceiling {
				t.Fatalf("DefaultBackoff(%d) = %v, want in [%v, %v]", attempt, d, ceiling/2, ceiling)
			}
		}
	}
	seen := map[time.Duration]bool{}
	for range 20 {
		seen[DefaultBackoff(3)] = true
	}
	if len(seen) < 2 {
		t.Error("DefaultBackoff has no jitter")
	}
}

func TestNewSenderValidates(t *testing.T) {
	store, ft := &memOutbox{}, &fakeTransport{}
	for name, tc := range map[string]struct {
		store accounts.OutboxStore
		t     Transport
		opts  SenderOptions
	}{
		"no store":         {nil, ft, SenderOptions{}},
		"no transport":     {store, nil, SenderOptions{}},
		"negative lease":   {store, ft, SenderOptions{Lease: -time.Second}},
		"negative poll":    {store, ft, SenderOptions{PollEvery: -time.Second}},
		"negative max":     {store, ft, SenderOptions{MaxAttempts: -1}},
		"negative workers": {store, ft, SenderOptions{Concurrency: -1}},
	} {
		if _, err := NewSender(tc.store, tc.t, tc.opts); err == nil {
			t.Errorf("%s: NewSender succeeded", name)
		}
	}
	s := mustSender(t, store, ft, SenderOptions{})
	if s.pollEvery != time.Second || s.lease != time.Minute || s.maxAttempts != 10 || s.concurrency != 4 {
		t.Errorf("defaults: poll %v, lease %v, max %d, concurrency %d", s.pollEvery, s.lease, s.maxAttempts, s.concurrency)
	}
}

func TestQueue(t *testing.T) {
	ctx := context.Background()
	store, r := &memOutbox{}, mustRenderer(t)
	queued, err := Queue(ctx, store, r, "login:attempt-1", "acc-1", KindEmailCode, "fr", "a@example.com", codeData("12345678"))
	if err != nil || !queued {
		t.Fatalf("Queue = %v, %v", queued, err)
	}
	queued, err = Queue(ctx, store, r, "login:attempt-1", "acc-1", KindEmailCode, "fr", "a@example.com", codeData("87654321"))
	if err != nil || queued {
		t.Fatalf("Queue with the same key = %v, %v; want false, nil", queued, err)
	}
	m := store.get(t, "login:attempt-1")
	if m.AccountID != "acc-1" || m.To != "a@example.com" || m.Kind != KindEmailCode || m.Priority != kinds[KindEmailCode].priority {
		t.Errorf("queued %+v", m.OutboxMessage)
	}
	checkCodeLine(t, parseMessage(t, m.Raw).text, "12345678")
	if _, err := Queue(ctx, store, r, "k2", "", KindEmailCode, "en", "a@example.com", codeData("123")); !errors.Is(err, ErrBadData) {
		t.Errorf("Queue with a bad code = %v, want ErrBadData", err)
	}
	if n, _ := store.PendingMail(ctx); n != 1 {
		t.Errorf("%d pending, want 1", n)
	}
}

// The Sender on the real account store, both drivers.

func openOutbox(tb testing.TB, driver, dsn string) accounts.OutboxStore {
	tb.Helper()
	st, err := accounts.Open(context.Background(), driver, dsn)
	if err != nil {
		tb.Fatalf("accounts.Open(%s): %v", driver, err)
	}
	tb.Cleanup(func() { st.Close() })
	ob, ok := st.(accounts.OutboxStore)
	if !ok {
		tb.Fatalf("%T is not an OutboxStore", st)
	}
	return ob
}

var storeDrivers = []struct {
	name  string
	newDB func(testing.TB) string
}{
	{accounts.DriverPostgres, accountstest.PostgresDSN},
	{accounts.DriverSQLite, accountstest.SQLitePath},
}

// TestSendersShareAnOutbox: two replicas' senders on one database deliver
// every message exactly once.
func TestSendersShareAnOutbox(t *testing.T) {
	for _, d := range storeDrivers {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			const messages = 30
			dsn := d.newDB(t)
			stores := []accounts.OutboxStore{openOutbox(t, d.name, dsn), openOutbox(t, d.name, dsn)}
			r := mustRenderer(t)
			for i := range messages {
				mustQueue(t, stores[0], r, fmt.Sprint("k", i), KindEmailCode, fmt.Sprintf("user%d@example.com", i), codeData("12345678"))
			}
			ft := &fakeTransport{fail: func(string) error { time.Sleep(time.Millisecond); return nil }}
			var wg sync.WaitGroup
			for _, st := range stores {
				s := mustSender(t, st, ft, SenderOptions{Concurrency: 3})
				wg.Go(func() { s.sendDue(context.Background()) })
			}
			wg.Wait()
			got := ft.sentTo()
			slices.Sort(got)
			if len(got) != messages || len(slices.Compact(slices.Clone(got))) != messages {
				t.Errorf("%d deliveries to %d recipients, want %d each", len(got), len(slices.Compact(got)), messages)
			}
			if n, err := stores[1].PendingMail(context.Background()); err != nil || n != 0 {
				t.Errorf("PendingMail = %d, %v; want 0", n, err)
			}
		})
	}
}

// TestSenderTakesOverAfterACrash: a message claimed by a replica that died
// (its lease still held) waits for the lease, then goes out from another.
func TestSenderTakesOverAfterACrash(t *testing.T) {
	ctx := context.Background()
	dsn := accountstest.SQLitePath(t)
	store := openOutbox(t, accounts.DriverSQLite, dsn)
	mustQueue(t, store, mustRenderer(t), "k", KindEmailCode, "a@example.com", codeData("12345678"))
	clock := newTestClock()
	clock.t = time.Now()
	if got, err := store.ClaimMail(ctx, clock.now(), time.Minute, 10); err != nil || len(got) != 1 {
		t.Fatalf("the doomed replica's claim: %d, %v", len(got), err)
	}
	restarted := openOutbox(t, accounts.DriverSQLite, dsn)
	ft := &fakeTransport{}
	s := mustSender(t, restarted, ft, SenderOptions{Now: clock.now, Lease: time.Minute})
	clock.advance(59 * time.Second)
	if s.sendDue(ctx); len(ft.sentTo()) != 0 {
		t.Fatal("sent while another replica held the lease")
	}
	clock.advance(time.Second)
	if s.sendDue(ctx); len(ft.sentTo()) != 1 {
		t.Fatal("not sent once the lease ended")
	}
}

// TestSenderToFiles: the whole path on the real store, as `transport: file`
// runs: Queue, Poke, Run, one .eml with the code on its own line.
func TestSenderToFiles(t *testing.T) {
	store := openOutbox(t, accounts.DriverSQLite, accountstest.SQLitePath(t))
	dir := t.TempDir()
	ft, err := NewFileTransport(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := mustSender(t, store, ft, SenderOptions{PollEvery: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	mustQueue(t, store, mustRenderer(t), "k", KindSignupCode, "new@example.com", codeData("90817263"))
	s.Poke()
	var files []string
	waitFor(t, func() bool { files, _ = filepath.Glob(filepath.Join(dir, "*.eml")); return len(files) == 1 })
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	checkCodeLine(t, parseMessage(t, raw).text, "90817263")
	waitFor(t, func() bool { n, err := store.PendingMail(ctx); return err == nil && n == 0 })
}

func waitFor(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
