-- 0002: the mail outbox. A message is rendered once, stored here, and sent by
-- whichever replica claims it (accounts/outbox.go, package mail's Sender).
--
-- Same conventions as 0001: TEXT ids and times (fixed-width RFC 3339 UTC, so
-- text order is time order), PostgreSQL's default constraint names. raw is
-- BYTEA: PostgreSQL's byte string; SQLite gives the name NUMERIC affinity,
-- which stores a bound blob as it is.
--
-- States of a row:
--   pending    sent_at NULL, next_attempt_at set (claimable once due and
--              leased_until is NULL or past);
--   sent       sent_at set, raw NULL (a sent one-time code does not stay here);
--   given up   sent_at NULL, next_attempt_at NULL (raw kept for an operator).

CREATE TABLE outbox (
    id              TEXT   NOT NULL,
    dedup_key       TEXT   NOT NULL,
    account_id      TEXT,
    recipient       TEXT   NOT NULL,
    kind            TEXT   NOT NULL,
    priority        BIGINT NOT NULL DEFAULT 0,
    raw             BYTEA,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    leased_until    TEXT,
    sent_at         TEXT,
    last_error      TEXT   NOT NULL DEFAULT '',
    created_at      TEXT   NOT NULL,
    CONSTRAINT outbox_pkey PRIMARY KEY (id),
    CONSTRAINT outbox_dedup_key_key UNIQUE (dedup_key),
    CHECK (dedup_key <> '' AND recipient <> '' AND kind <> '')
);

-- What ClaimMail scans and PendingMail counts: the pending rows, most urgent
-- first, then the longest due.
CREATE INDEX outbox_pending_idx ON outbox (priority DESC, next_attempt_at)
    WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL;
