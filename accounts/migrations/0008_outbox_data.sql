-- 0008: messages rendered when they are sent. A bulk sender (the account
-- unification queues one notice per account, millions at once) stores the
-- template data instead of the whole message: a few hundred bytes of JSON
-- rather than kilobytes of MIME, rendered by package mail's Sender at
-- delivery, in the recipient's locale. A row holds raw or data: raw is NULL
-- when data is set, and both are erased once the message is sent.
ALTER TABLE outbox ADD COLUMN locale TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN data BYTEA;
