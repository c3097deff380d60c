package accounts

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// testClaimReadsTheIndex: with thousands of bulk messages pending, the claim
// reads the claim index in order instead of sorting the pending rows: what
// keeps a code's claim fast behind a million unification notices.
func testClaimReadsTheIndex(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	now, err := encodeTime(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.db.exec(ctx, `WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000)
		INSERT INTO outbox (id, dedup_key, recipient, kind, priority, data, locale, attempts, next_attempt_at, created_at)
		SELECT 'bulk-' || n, 'bulk:' || n, 'bulk@example.com', 'unify_notice', -1, $1, 'en', 0, $2, $2 FROM g`,
		[]byte(`{}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	explain := "EXPLAIN QUERY PLAN "
	if d.name == DriverPostgres {
		explain = "EXPLAIN "
	}
	var plan []string
	err = s.db.query(ctx, explain+s.claimQuery(), []any{now, now, int64(4)}, func(scan func(...any) error) error {
		cols := make([]any, 1)
		if d.name != DriverPostgres {
			cols = make([]any, 4) // id, parent, notused, detail
		}
		ptrs := make([]any, len(cols))
		for i := range cols {
			ptrs[i] = &cols[i]
		}
		if err := scan(ptrs...); err != nil {
			return err
		}
		plan = append(plan, fmt.Sprint(cols[len(cols)-1]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "outbox_claim_idx") || strings.Contains(text, "Sort") || strings.Contains(text, "TEMP B-TREE") {
		t.Errorf("the claim does not read outbox_claim_idx in order:\n%s", text)
	}
}
