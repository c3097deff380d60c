-- 0012: the claim's index holds its whole order. ClaimMail orders the due
-- messages by priority, then due time, then id; without the id in the index,
-- PostgreSQL sorted every pending row for each claim of four (half a second
-- at 200,000 pending, seconds at a million: a code queued behind the
-- unification's notices waited that long at every claim). With it, a claim
-- reads the first rows of the index.
CREATE INDEX outbox_claim_idx ON outbox (priority DESC, next_attempt_at, id)
    WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL;
DROP INDEX outbox_pending_idx;
