-- People: only what is needed to reply. No names, usernames or phone numbers.
CREATE TABLE people (
    id            INTEGER PRIMARY KEY,
    channel       TEXT    NOT NULL CHECK (channel IN ('telegram', 'instagram', 'console')),
    platform_id   TEXT    NOT NULL,
    pseudonym     TEXT    NOT NULL UNIQUE,
    language      TEXT,
    unreachable   INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT    NOT NULL,
    last_seen_at  TEXT    NOT NULL,
    UNIQUE (channel, platform_id)
);

-- The effectiveness log. No message text and no person: it survives /forget as aggregates.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN (
                    'question', 'crisis', 'feedback', 'topic_opened', 'specialist_requested')),
    channel     TEXT    NOT NULL,
    language    TEXT,
    topic_id    TEXT,
    outcome     TEXT,
    score       REAL,
    created_at  TEXT    NOT NULL
);
CREATE INDEX events_kind_time ON events (kind, created_at);

-- Requests for a human. The specialist queue (a later issue) turns these into tickets.
CREATE TABLE specialist_requests (
    id          INTEGER PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    priority    TEXT    NOT NULL CHECK (priority IN ('urgent', 'normal')),
    reason      TEXT    NOT NULL,
    language    TEXT    NOT NULL,
    topic_id    TEXT,
    status      TEXT    NOT NULL DEFAULT 'waiting',
    created_at  TEXT    NOT NULL
);
CREATE INDEX specialist_requests_queue ON specialist_requests (status, priority, created_at);
