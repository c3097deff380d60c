-- 0011: recovery codes (CONTRACT §10): a set of single-use codes per
-- account, for the day its second factor is lost. See accounts/recovery.go.
--
-- Only keyed hashes are stored (HMAC-SHA256 of the account id and the code,
-- package mfa): a database dump alone cannot be searched for codes. used_at
-- is the single-use guard: a code is spent by one conditional UPDATE
-- (UseRecoveryCode), so it signs in once even when replicas check it at the
-- same instant. A new set replaces the old one: the rows of an account are
-- always one set (created_at is the set's).
CREATE TABLE recovery_codes (
    account_id TEXT  NOT NULL,
    code_hash  BYTEA NOT NULL,
    created_at TEXT  NOT NULL,
    used_at    TEXT,
    CONSTRAINT recovery_codes_pkey PRIMARY KEY (account_id, code_hash),
    CONSTRAINT recovery_codes_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);
