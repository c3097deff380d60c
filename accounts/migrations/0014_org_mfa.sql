-- 0014: an organization's MFA rule (CONTRACT §11). While require_mfa is
-- set, a member without a second factor may still enter a console with the
-- organization for mfa_grace_days (0 to 30) counted from mfa_required_at
-- (when the rule was turned on) or from the member's joining, the later;
-- then not until they enroll one. mfa_required_at is NULL while the rule
-- is off.
ALTER TABLE organizations ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE organizations ADD COLUMN mfa_grace_days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN mfa_required_at TEXT;
