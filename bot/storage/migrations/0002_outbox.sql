-- The outbox: every message the bot sends on its own initiative (relays, reminders,
-- announcements, broadcasts) is written here first, then sent by one worker per channel.
-- `key` is the idempotency key (for example reminder:<lecture>:<person>:<offset>): a message
-- enqueued twice is stored once. The text is cleared once the message is sent.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    key          TEXT    NOT NULL UNIQUE,
    channel      TEXT    NOT NULL,
    chat_id      TEXT    NOT NULL,
    person_id    INTEGER REFERENCES people (id) ON DELETE CASCADE,
    text         TEXT,
    actions      TEXT,
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'unreachable')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    not_before   TEXT    NOT NULL,
    last_error   TEXT,
    created_at   TEXT    NOT NULL,
    finished_at  TEXT
);
CREATE INDEX outbox_due ON outbox (channel, status, not_before);
