-- 0003: second factors: one TOTP secret per account, any number of WebAuthn
-- credentials (passkeys). See accounts/mfa.go.
--
-- Same conventions as 0001: TEXT ids and times (fixed-width RFC 3339 UTC),
-- BOOLEAN (0/1 in SQLite), PostgreSQL's default constraint names (the store
-- maps violations to errors by name). Byte strings are BYTEA: PostgreSQL's
-- byte string; SQLite gives the name NUMERIC affinity, which stores a bound
-- blob as it is and compares blobs byte by byte.

-- The TOTP secret is sealed (AES-256-GCM, package mfa) with the account id
-- as associated data: a database dump alone yields no secret, and a sealed
-- secret copied to another account's row does not open.
-- last_used_step is the replay guard: a code is accepted only for a time
-- step above it, by one conditional UPDATE (UseTOTPStep), so a code is good
-- once even when replicas check it at the same instant.
CREATE TABLE totp_credentials (
    account_id     TEXT    NOT NULL,
    secret_sealed  BYTEA   NOT NULL,
    confirmed      BOOLEAN NOT NULL DEFAULT FALSE,
    last_used_step BIGINT  NOT NULL DEFAULT 0,
    created_at     TEXT    NOT NULL,
    confirmed_at   TEXT,
    CONSTRAINT totp_credentials_pkey PRIMARY KEY (account_id),
    CONSTRAINT totp_credentials_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);

-- id is the credential id the authenticator chose (1 to 1023 bytes, WebAuthn
-- §5.1): unique across all accounts, since a discoverable login looks the
-- credential up by it alone. public_key is the COSE key. transports is a JSON
-- array of strings.
CREATE TABLE webauthn_credentials (
    id                 BYTEA   NOT NULL,
    account_id         TEXT    NOT NULL,
    name               TEXT    NOT NULL DEFAULT '',
    public_key         BYTEA   NOT NULL,
    sign_count         BIGINT  NOT NULL DEFAULT 0,
    aaguid             BYTEA,
    transports         TEXT    NOT NULL DEFAULT '[]',
    attestation_type   TEXT    NOT NULL DEFAULT '',
    attestation_format TEXT    NOT NULL DEFAULT '',
    user_present       BOOLEAN NOT NULL DEFAULT FALSE,
    user_verified      BOOLEAN NOT NULL DEFAULT FALSE,
    backup_eligible    BOOLEAN NOT NULL DEFAULT FALSE,
    backup_state       BOOLEAN NOT NULL DEFAULT FALSE,
    clone_warning      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         TEXT    NOT NULL,
    last_used_at       TEXT,
    CONSTRAINT webauthn_credentials_pkey PRIMARY KEY (id),
    CONSTRAINT webauthn_credentials_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE,
    CHECK (sign_count >= 0 AND sign_count <= 4294967295)
);

CREATE INDEX webauthn_credentials_account_id_idx ON webauthn_credentials (account_id);
