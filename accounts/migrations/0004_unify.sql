-- 0004: the account unification (package unify, accounts/unify.go): every
-- imported source line, and the organizations the Scaleway export brings.
--
-- Same conventions as 0001: TEXT ids and times (fixed-width RFC 3339 UTC),
-- PostgreSQL's default constraint names, BYTEA for byte strings (SQLite
-- stores a bound blob as it is).

-- One row per imported line of the Dedibox and Scaleway exports: the proof
-- that nothing was lost (`unigate unify verify` compares it with the files).
-- A line holds secrets in clear (a Dedibox TOTP secret), so it is kept
-- sealed like the TOTP secrets of 0003 (AES-256-GCM under a key derived from
-- the session key, the source and record id as associated data): a dump of
-- the database alone yields none of them. An account deleted later takes its
-- lines with it: they hold its personal data.
CREATE TABLE legacy_records (
    source      TEXT   NOT NULL,
    record_id   TEXT   NOT NULL,
    line_no     BIGINT NOT NULL,
    raw_sealed  BYTEA  NOT NULL,
    account_id  TEXT   NOT NULL,
    imported_at TEXT   NOT NULL,
    CONSTRAINT legacy_records_pkey PRIMARY KEY (source, record_id),
    CONSTRAINT legacy_records_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE,
    CHECK (source <> '' AND record_id <> '' AND line_no > 0)
);

-- A re-run compares an existing account's lines with the files, and
-- deleting an account finds its lines, by account.
CREATE INDEX legacy_records_account_id_idx ON legacy_records (account_id);

-- Organizations and their members. The unification brings Scaleway's, under
-- Scaleway's own ids (the consoles know them by those ids).
CREATE TABLE organizations (
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT organizations_pkey PRIMARY KEY (id),
    CHECK (id <> '')
);

CREATE TABLE memberships (
    account_id      TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    role            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    CONSTRAINT memberships_pkey PRIMARY KEY (account_id, organization_id),
    CONSTRAINT memberships_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE,
    CONSTRAINT memberships_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CHECK (role IN ('owner', 'admin', 'member'))
);

CREATE INDEX memberships_organization_id_idx ON memberships (organization_id);
