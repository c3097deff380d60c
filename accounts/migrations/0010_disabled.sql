-- An operator may disable an account (`unigate accounts disable`, CONTRACT
-- §12): its sessions are ended and a login that proves the first factor is
-- refused with account_disabled. NULL: enabled.
ALTER TABLE accounts ADD COLUMN disabled_at TEXT;
