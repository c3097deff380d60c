-- 0006: invitations to join an organization (accounts/orgs.go). The
-- organizations and their memberships are 0004's.
--
-- Same conventions as 0001: TEXT ids and times (fixed-width RFC 3339 UTC, so
-- text order is time order), PostgreSQL's default constraint names (the store
-- maps violations to errors by name), BYTEA for byte strings (SQLite gives
-- the name NUMERIC affinity, which stores a bound blob as it is and compares
-- blobs byte by byte).
--
-- The token mailed to the invitee is never stored: token_hash is its hash,
-- so a dump of the database lets nobody accept an invitation. An invitation
-- is pending while accepted_at is NULL (expired ones too, until replaced);
-- an accepted one is kept as the record of who joined through it.
-- invited_by outlives its account as NULL: the invitation stays good.
CREATE TABLE invitations (
    id              TEXT  NOT NULL,
    organization_id TEXT  NOT NULL,
    email           TEXT  NOT NULL,
    role            TEXT  NOT NULL,
    token_hash      BYTEA NOT NULL,
    invited_by      TEXT,
    created_at      TEXT  NOT NULL,
    expires_at      TEXT  NOT NULL,
    accepted_at     TEXT,
    CONSTRAINT invitations_pkey PRIMARY KEY (id),
    CONSTRAINT invitations_token_hash_key UNIQUE (token_hash),
    CONSTRAINT invitations_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT invitations_invited_by_fkey FOREIGN KEY (invited_by)
        REFERENCES accounts (id) ON DELETE SET NULL,
    CHECK (role IN ('owner', 'admin', 'member')),
    CHECK (id <> '' AND email <> '')
);

-- Every invitation of an organization (its deletion cascades through it).
CREATE INDEX invitations_organization_id_idx ON invitations (organization_id);

-- At most one pending invitation per (organization, email): CreateInvitation
-- replaces the pending one by an upsert on this index. Partial unique indexes
-- and ON CONFLICT on them exist on both drivers; the name is the one the
-- SQLite driver rebuilds from its error message (table_col1_col2_key).
CREATE UNIQUE INDEX invitations_organization_id_email_key ON invitations (organization_id, email)
    WHERE accepted_at IS NULL;
