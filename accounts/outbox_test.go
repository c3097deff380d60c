package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// The outbox's conformance suite: every driver, a real database each test.
var outboxSuite = []suiteTest{
	{"EnqueueIdempotent", testEnqueueIdempotent},
	{"EnqueueRefusesBadInput", testEnqueueRefusesBadInput},
	{"ClaimDueByPriority", testClaimDueByPriority},
	{"ClaimLeases", testClaimLeases},
	{"ConcurrentClaimers", testConcurrentClaimers},
	{"MarkSentErasesRaw", testMarkSentErasesRaw},
	{"FailedIsRetriedAfterNext", testFailedIsRetriedAfterNext},
	{"GiveUp", testGiveUp},
	{"PendingCount", testPendingCount},
	{"StoredAsData", testStoredAsData},
	{"ClaimReadsTheIndex", testClaimReadsTheIndex},
}

// testStoredAsData: a message queued as template data comes back from a
// claim with its data and locale and no body, and sending it erases the
// data as it erases a body.
func testStoredAsData(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	clock := withFakeClock(s)
	data := []byte(`{"Email":"zoé@example.com","Merged":true}`)
	m := &OutboxMessage{Key: "notice:1", AccountID: "acc-1", To: "zoé@example.com", Kind: "unify_notice",
		Priority: -1, Data: data, Locale: "fr"}
	if queued, err := s.EnqueueMail(ctx, m); err != nil || !queued {
		t.Fatalf("EnqueueMail = %v, %v", queued, err)
	}
	got, err := s.ClaimMail(ctx, clock.now(), time.Minute, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("ClaimMail = %d messages, %v", len(got), err)
	}
	if c := got[0]; c.Raw != nil || string(c.Data) != string(data) || c.Locale != "fr" || c.Kind != "unify_notice" {
		t.Errorf("claimed raw %q, data %q, locale %q; want no body, the data, fr", c.Raw, c.Data, c.Locale)
	}
	if err := s.MarkMailSent(ctx, m.ID, clock.now()); err != nil {
		t.Fatal(err)
	}
	var left int64
	if err := s.db.queryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE data IS NOT NULL OR raw IS NOT NULL`, nil, &left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d messages keep a body or data once sent, want 0", left)
	}
}

func TestOutbox(t *testing.T) {
	runSuite(t, outboxSuite)
}

func TestStoreIsOutboxStore(t *testing.T) {
	st, err := Open(context.Background(), DriverSQLite, t.TempDir()+"/a.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, ok := st.(OutboxStore); !ok {
		t.Fatalf("%T does not implement OutboxStore", st)
	}
}

func testEnqueueIdempotent(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	clock := withFakeClock(s)
	m := &OutboxMessage{Key: "signup:alice", AccountID: "acc-1", To: "alice@example.com", Kind: "signup_code",
		Raw: []byte("Subject: one\r\n\r\nfirst\r\n"), Attempts: 7, LastError: "ignored"}
	queued, err := s.EnqueueMail(ctx, m)
	if err != nil || !queued {
		t.Fatalf("first EnqueueMail = %v, %v; want true, nil", queued, err)
	}
	if m.ID == "" || !m.CreatedAt.Equal(clock.now()) || !m.NextAttemptAt.Equal(clock.now()) || m.Attempts != 0 || m.LastError != "" {
		t.Errorf("after EnqueueMail: %+v; want an id, created and due now, no attempt", m)
	}
	again := &OutboxMessage{Key: "signup:alice", To: "mallory@example.com", Kind: "signup_code", Raw: []byte("second")}
	queued, err = s.EnqueueMail(ctx, again)
	if err != nil || queued {
		t.Fatalf("same key again: %v, %v; want false, nil", queued, err)
	}
	if again.ID != "" {
		t.Errorf("a refused message got id %q", again.ID)
	}
	// Even once sent, the key still refuses: re-runs never send twice.
	if err := s.MarkMailSent(ctx, m.ID, clock.now()); err != nil {
		t.Fatal(err)
	}
	if queued, err := s.EnqueueMail(ctx, again); err != nil || queued {
		t.Fatalf("key of a sent message: %v, %v; want false, nil", queued, err)
	}
	if n := countRows(t, s, "outbox"); n != 1 {
		t.Errorf("%d rows, want 1", n)
	}

	// Racing replicas enqueueing one key: exactly one wins, none fails.
	const racers = 8
	var wg sync.WaitGroup
	results := make([]bool, racers)
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.EnqueueMail(ctx, &OutboxMessage{Key: "race", To: "a@example.com", Kind: "k", Raw: []byte("x")})
		}()
	}
	wg.Wait()
	wins := 0
	for i := range racers {
		if errs[i] != nil {
			t.Errorf("racer %d: %v", i, errs[i])
		}
		if results[i] {
			wins++
		}
	}
	if wins != 1 {
		t.Errorf("%d racers queued the key, want 1", wins)
	}
}

func testEnqueueRefusesBadInput(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	good := OutboxMessage{Key: "k", To: "a@example.com", Kind: "email_code", Raw: []byte("x")}
	for name, mutate := range map[string]func(m *OutboxMessage){
		"no key":        func(m *OutboxMessage) { m.Key = "" },
		"no recipient":  func(m *OutboxMessage) { m.To = "" },
		"no kind":       func(m *OutboxMessage) { m.Kind = "" },
		"no body":       func(m *OutboxMessage) { m.Raw = nil },
		"body and data": func(m *OutboxMessage) { m.Data = []byte(`{}`) },
		"data not JSON": func(m *OutboxMessage) { m.Raw, m.Data = nil, []byte(`{"a":`) },
		"long locale":   func(m *OutboxMessage) { m.Locale = strings.Repeat("x", 36) },
		"year 0":        func(m *OutboxMessage) { m.NextAttemptAt = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		m := good
		mutate(&m)
		if queued, err := s.EnqueueMail(ctx, &m); err == nil || queued {
			t.Errorf("%s: EnqueueMail = %v, %v; want an error", name, queued, err)
		}
	}
	if _, err := s.EnqueueMail(ctx, nil); err == nil {
		t.Error("EnqueueMail(nil) succeeded")
	}
	if n := countRows(t, s, "outbox"); n != 0 {
		t.Errorf("%d rows after refused input, want 0", n)
	}
}

func testClaimDueByPriority(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	now := withFakeClock(s).now()
	for _, m := range []OutboxMessage{
		{Key: "notice-old", Kind: "unify_notice", NextAttemptAt: now.Add(-time.Hour)},
		{Key: "notice-new", Kind: "unify_notice", NextAttemptAt: now.Add(-time.Minute)},
		{Key: "code", Kind: "email_code", Priority: 10, NextAttemptAt: now},
		{Key: "later", Kind: "email_code", Priority: 10, NextAttemptAt: now.Add(time.Second)},
	} {
		mustEnqueue(t, s, m)
	}
	if _, err := s.ClaimMail(ctx, now, 0, 5); err == nil {
		t.Error("ClaimMail with no lease succeeded")
	}
	if _, err := s.ClaimMail(ctx, now, time.Minute, 0); err == nil {
		t.Error("ClaimMail with no limit succeeded")
	}
	got := claimKeys(t, s, now, time.Minute, 2)
	if want := "code notice-old"; got != want {
		t.Errorf("first claim = %q, want %q (urgent first, then the longest due)", got, want)
	}
	if got, want := claimKeys(t, s, now, time.Minute, 10), "notice-new"; got != want {
		t.Errorf("second claim = %q, want %q (not the one due later)", got, want)
	}
	if got, want := claimKeys(t, s, now.Add(time.Second), time.Minute, 10), "later"; got != want {
		t.Errorf("claim a second later = %q, want %q", got, want)
	}
}

func testClaimLeases(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	dsn := d.newDB(t)
	s := openStore(t, d, dsn)
	now := withFakeClock(s).now()
	m := mustEnqueue(t, s, OutboxMessage{Key: "a", Kind: "email_code"})
	claimed, err := s.ClaimMail(ctx, now, time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimMail = %d messages, %v; want 1", len(claimed), err)
	}
	c := claimed[0]
	if c.ID != m.ID || c.Key != "a" || c.To != m.To || c.AccountID != m.AccountID || c.Kind != m.Kind ||
		string(c.Raw) != string(m.Raw) || c.Attempts != 0 || !c.NextAttemptAt.Equal(now) || !c.CreatedAt.Equal(now) ||
		!c.SentAt.IsZero() || c.LastError != "" {
		t.Errorf("claimed %+v, want what was enqueued, %+v", c, *m)
	}
	// Another replica (another store on the database, as after a restart)
	// sees it leased until the lease ends, then takes it over.
	other := openStore(t, d, dsn)
	for _, at := range []time.Duration{0, 30 * time.Second, time.Minute - time.Nanosecond} {
		if got := claimKeys(t, other, now.Add(at), time.Minute, 10); got != "" {
			t.Errorf("claim at +%v during the lease = %q, want nothing", at, got)
		}
	}
	if got := claimKeys(t, other, now.Add(time.Minute), time.Minute, 10); got != "a" {
		t.Errorf("claim when the lease ends = %q, want a", got)
	}
	if got := claimKeys(t, s, now.Add(time.Minute), time.Minute, 10); got != "" {
		t.Errorf("claim under the new lease = %q, want nothing", got)
	}
}

// testConcurrentClaimers: two stores on one database (two replicas), four
// claimers each, never get the same message, and together get them all.
func testConcurrentClaimers(t *testing.T, d driverUnderTest) {
	const messages, claimersPerStore = 50, 4
	ctx := context.Background()
	stores := replicas(t, d, 2)
	now := withFakeClock(stores[0]).now()
	for i := range messages {
		mustEnqueue(t, stores[0], OutboxMessage{Key: fmt.Sprint("m", i), Kind: "unify_notice"})
	}
	var mu sync.Mutex
	claims := map[string]int{}
	var wg sync.WaitGroup
	for _, s := range stores {
		for range claimersPerStore {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					// A lease longer than the test: nothing is claimed twice by expiry.
					got, err := s.ClaimMail(ctx, now, time.Hour, 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, m := range got {
						claims[m.Key]++
					}
					mu.Unlock()
					for _, m := range got {
						if err := s.MarkMailSent(ctx, m.ID, now); err != nil {
							t.Error(err)
						}
					}
				}
			}()
		}
	}
	wg.Wait()
	if len(claims) != messages {
		t.Errorf("%d messages claimed, want %d", len(claims), messages)
	}
	for key, n := range claims {
		if n != 1 {
			t.Errorf("%s claimed %d times", key, n)
		}
	}
	if n, err := stores[1].PendingMail(ctx); err != nil || n != 0 {
		t.Errorf("PendingMail = %d, %v; want 0", n, err)
	}
}

func testMarkSentErasesRaw(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	clock := withFakeClock(s)
	now := clock.now()
	m := mustEnqueue(t, s, OutboxMessage{Key: "a", Kind: "email_code", Raw: []byte("Subject: x\r\n\r\n12345678\r\n")})
	claimKeys(t, s, now, time.Minute, 1)
	sentAt := now.Add(2 * time.Second)
	if err := s.MarkMailSent(ctx, m.ID, sentAt); err != nil {
		t.Fatal(err)
	}
	if raw := storedRaw(t, s, m.ID); raw != nil {
		t.Errorf("raw after send = %q, want NULL: a sent code must not stay in the database", raw)
	}
	if err := s.MarkMailSent(ctx, m.ID, sentAt.Add(time.Hour)); err != nil {
		t.Errorf("marking a sent message again: %v, want nil", err)
	}
	var sent string
	if err := s.db.queryRow(ctx, "SELECT sent_at FROM outbox WHERE id = $1", []any{m.ID}, &sent); err != nil {
		t.Fatal(err)
	}
	if got, _ := decodeTime(sent); !got.Equal(sentAt) {
		t.Errorf("sent_at = %v, want the first mark's %v", got, sentAt)
	}
	if got := claimKeys(t, s, now.Add(24*time.Hour), time.Minute, 10); got != "" {
		t.Errorf("a sent message was claimed again: %q", got)
	}
	if err := s.MarkMailFailed(ctx, m.ID, now, "late failure"); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkMailFailed on a sent message = %v, want ErrNotFound", err)
	}
	if err := s.MarkMailSent(ctx, "no-such-id", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkMailSent(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.MarkMailFailed(ctx, "no-such-id", now, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkMailFailed(unknown) = %v, want ErrNotFound", err)
	}
}

func testFailedIsRetriedAfterNext(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	now := withFakeClock(s).now()
	m := mustEnqueue(t, s, OutboxMessage{Key: "a", Kind: "email_code"})
	claimKeys(t, s, now, time.Hour, 1)
	next := now.Add(5 * time.Minute)
	reason := "smtp: 451 4.3.0 try later\r\n\x00second line\xff" + strings.Repeat("é", 400)
	if err := s.MarkMailFailed(ctx, m.ID, next, reason); err != nil {
		t.Fatal(err)
	}
	if got := claimKeys(t, s, next.Add(-time.Nanosecond), time.Hour, 10); got != "" {
		t.Errorf("claimed before next: %q", got)
	}
	// Due at next although the first lease (an hour) has not ended: a
	// failure releases the lease.
	got, err := s.ClaimMail(ctx, next, time.Hour, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("ClaimMail at next = %d messages, %v; want 1", len(got), err)
	}
	if got[0].Attempts != 1 || !got[0].NextAttemptAt.Equal(next) || string(got[0].Raw) != string(m.Raw) {
		t.Errorf("retried message %+v: want 1 attempt, due at %v, body kept", got[0], next)
	}
	le := got[0].LastError
	if !strings.HasPrefix(le, "smtp: 451 4.3.0 try later") || len(le) > maxReasonBytes || strings.ContainsAny(le, "\r\n\x00") || !strings.HasSuffix(le, "…") {
		t.Errorf("last error = %q: want the reason, one line, at most %d bytes", le, maxReasonBytes)
	}
	if err := s.MarkMailFailed(ctx, m.ID, next.Add(time.Minute), "again"); err != nil {
		t.Fatal(err)
	}
	got, err = s.ClaimMail(ctx, next.Add(time.Minute), time.Hour, 10)
	if err != nil || len(got) != 1 || got[0].Attempts != 2 || got[0].LastError != "again" {
		t.Fatalf("second retry = %+v, %v; want 2 attempts", got, err)
	}
}

func testGiveUp(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	now := withFakeClock(s).now()
	m := mustEnqueue(t, s, OutboxMessage{Key: "a", Kind: "unify_notice"})
	mustEnqueue(t, s, OutboxMessage{Key: "b", Kind: "unify_notice"})
	claimKeys(t, s, now, time.Minute, 1)
	if err := s.MarkMailFailed(ctx, m.ID, time.Time{}, "550 no such user"); err != nil {
		t.Fatal(err)
	}
	if got := claimKeys(t, s, now.Add(1000*time.Hour), time.Minute, 10); got != "b" {
		t.Errorf("claim after giving a up = %q, want only b", got)
	}
	if n, err := s.PendingMail(ctx); err != nil || n != 1 {
		t.Errorf("PendingMail = %d, %v; want 1 (a given-up message is not pending)", n, err)
	}
	if raw := storedRaw(t, s, m.ID); string(raw) != string(m.Raw) {
		t.Errorf("raw of a given-up message = %q, want it kept for an operator", raw)
	}
}

func testPendingCount(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	now := withFakeClock(s).now()
	pending := func(want int) {
		t.Helper()
		if n, err := s.PendingMail(ctx); err != nil || n != want {
			t.Errorf("PendingMail = %d, %v; want %d", n, err, want)
		}
	}
	pending(0)
	var ids []string
	for i := range 3 {
		ids = append(ids, mustEnqueue(t, s, OutboxMessage{Key: fmt.Sprint(i), Kind: "email_code", NextAttemptAt: now.Add(time.Duration(i) * time.Hour)}).ID)
	}
	pending(3) // due or not, leased or not: still to send
	claimKeys(t, s, now, time.Minute, 10)
	pending(3)
	if err := s.MarkMailFailed(ctx, ids[0], now.Add(time.Minute), "x"); err != nil {
		t.Fatal(err)
	}
	pending(3)
	if err := s.MarkMailSent(ctx, ids[0], now); err != nil {
		t.Fatal(err)
	}
	pending(2)
}

func TestShortReason(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"  dial tcp: refused \n", "dial tcp: refused"},
		{"a\r\nb\tc\x00d", "a  b c d"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{strings.Repeat("x", maxReasonBytes), strings.Repeat("x", maxReasonBytes)},
		{strings.Repeat("x", maxReasonBytes+1), strings.Repeat("x", maxReasonBytes-3) + "…"},
		{"x" + strings.Repeat("é", maxReasonBytes), "x" + strings.Repeat("é", (maxReasonBytes-4)/2) + "…"},
	} {
		if got := shortReason(tc.in); got != tc.want {
			t.Errorf("shortReason(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// mustEnqueue stores m, filling the fields a test leaves out.
func mustEnqueue(tb testing.TB, s *sqlStore, m OutboxMessage) *OutboxMessage {
	tb.Helper()
	if m.To == "" {
		m.To = "user@example.com"
	}
	if m.Raw == nil {
		m.Raw = []byte("Subject: " + m.Key + "\r\n\r\nbody of " + m.Key + "\r\n")
	}
	queued, err := s.EnqueueMail(context.Background(), &m)
	if err != nil || !queued {
		tb.Fatalf("EnqueueMail(%s) = %v, %v", m.Key, queued, err)
	}
	return &m
}

// claimKeys claims and returns the keys claimed, space-separated in order.
func claimKeys(tb testing.TB, s *sqlStore, now time.Time, lease time.Duration, limit int) string {
	tb.Helper()
	got, err := s.ClaimMail(context.Background(), now, lease, limit)
	if err != nil {
		tb.Fatalf("ClaimMail: %v", err)
	}
	keys := make([]string, len(got))
	for i, m := range got {
		keys[i] = m.Key
	}
	return strings.Join(keys, " ")
}

func storedRaw(tb testing.TB, s *sqlStore, id string) []byte {
	tb.Helper()
	var raw []byte
	if err := s.db.queryRow(context.Background(), "SELECT raw FROM outbox WHERE id = $1", []any{id}, &raw); err != nil {
		tb.Fatalf("reading raw: %v", err)
	}
	return raw
}
