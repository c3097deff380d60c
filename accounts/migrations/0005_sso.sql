-- 0005: single sign-on identities linked to accounts (accounts/sso.go).
--
-- Same conventions as 0001: TEXT ids and times (fixed-width RFC 3339 UTC),
-- PostgreSQL's default constraint names (the store maps violations to errors
-- by name).
--
-- An identity is keyed by (provider, subject), never by email (SECURITY.md,
-- federation; NIST SP 800-63C §3.3; OIDC Core §5.7): the email is kept only
-- to show the user which address the link was made with. An account holds at
-- most one identity per provider. The unique (account_id, provider) index
-- also serves the lookups by account.
CREATE TABLE sso_identities (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    account_id TEXT NOT NULL,
    email      TEXT NOT NULL DEFAULT '',
    linked_at  TEXT NOT NULL,
    CONSTRAINT sso_identities_pkey PRIMARY KEY (provider, subject),
    CONSTRAINT sso_identities_account_id_provider_key UNIQUE (account_id, provider),
    CONSTRAINT sso_identities_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE,
    CHECK (provider <> '' AND subject <> '')
);
