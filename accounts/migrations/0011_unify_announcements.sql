-- 0011: who was sent the "upcoming change" email of the unification
-- (`unigate unify announce`, CONTRACT §8 rule 6). One row per source record
-- that an announcement covered, naming the outbox message that covered it.
-- A person is announced once whatever the input becomes between two runs:
-- a group of records is mailed only when none of its records is here, so a
-- person whose records are re-grouped (a Scaleway account added, a Dedibox
-- account linked elsewhere) is found by any record they already held.
CREATE TABLE unify_announcements (
    source       TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    outbox_key   TEXT NOT NULL,
    announced_at TEXT NOT NULL,
    CONSTRAINT unify_announcements_pkey PRIMARY KEY (source, record_id)
);
