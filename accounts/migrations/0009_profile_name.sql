-- The name a person gives in their profile (CONTRACT §9b), used in the
-- mails' greeting. Empty until they set one.
ALTER TABLE accounts ADD COLUMN name TEXT NOT NULL DEFAULT '';
