-- 0001: unified accounts, the console accounts they hold, the audit trail.
--
-- One text for PostgreSQL and SQLite: TEXT ids (uuid), BOOLEAN (0/1 in
-- SQLite), times as fixed-width RFC 3339 UTC text (see timeLayout in db.go).
-- Unique constraints carry PostgreSQL's default names (table_pkey,
-- table_col_key): the store maps violations to errors by these names.

CREATE TABLE accounts (
    id                    TEXT    NOT NULL,
    email                 TEXT    NOT NULL,
    email_verified        BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash         TEXT,
    password_set_required BOOLEAN NOT NULL DEFAULT FALSE,
    mfa_enroll_required   BOOLEAN NOT NULL DEFAULT FALSE,
    locale                TEXT    NOT NULL DEFAULT 'en',
    created_at            TEXT    NOT NULL,
    updated_at            TEXT    NOT NULL,
    CONSTRAINT accounts_pkey PRIMARY KEY (id),
    CONSTRAINT accounts_email_key UNIQUE (email),
    CHECK (email <> '')
);

CREATE TABLE console_accounts (
    console     TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    account_id  TEXT    NOT NULL,
    prelinked   BOOLEAN NOT NULL DEFAULT FALSE,
    linked_at   TEXT,
    CONSTRAINT console_accounts_pkey PRIMARY KEY (console, external_id),
    CONSTRAINT console_accounts_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE,
    CHECK (console <> '' AND external_id <> '')
);

CREATE INDEX console_accounts_account_id_idx ON console_accounts (account_id);

-- No foreign key on account_id: the trail outlives the accounts it names.
CREATE TABLE audit_events (
    id         TEXT NOT NULL,
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    account_id TEXT,
    ip         TEXT,
    details    TEXT NOT NULL DEFAULT '{}',
    CONSTRAINT audit_events_pkey PRIMARY KEY (id)
);

CREATE INDEX audit_events_account_id_at_idx ON audit_events (account_id, at);
CREATE INDEX audit_events_at_idx ON audit_events (at);
