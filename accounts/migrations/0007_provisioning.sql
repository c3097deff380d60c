-- Console accounts waiting to be created by a console's provisioning
-- endpoint: a durable queue, retried with backoff, one job per (account,
-- console). A job is deleted when the console account is stored.
CREATE TABLE provisioning_jobs (
    account_id      TEXT NOT NULL,
    console         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    leased_until    TEXT,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    CONSTRAINT provisioning_jobs_pkey PRIMARY KEY (account_id, console),
    CONSTRAINT provisioning_jobs_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);

CREATE INDEX provisioning_jobs_next_attempt_at_idx ON provisioning_jobs (next_attempt_at);
