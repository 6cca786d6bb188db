-- The specialist queue: relays through the outbox (media, forum topics), the ticket's life,
-- its transcript, the audit log, the specialists roster and the workspace's small state.

-- Outbox: a message may go into a forum topic and may carry a photo, document or voice
-- (media_ref is the platform's file id; the text is then the caption).
ALTER TABLE outbox ADD COLUMN thread_id INTEGER;
ALTER TABLE outbox ADD COLUMN media_kind TEXT;
ALTER TABLE outbox ADD COLUMN media_ref TEXT;

-- Tickets: the forum topic, preferences, transfer offers, targets, consent and the rating.
ALTER TABLE tickets ADD COLUMN thread_id INTEGER;
ALTER TABLE tickets ADD COLUMN gender TEXT CHECK (gender IN ('female', 'male'));
ALTER TABLE tickets ADD COLUMN previous_id INTEGER;
ALTER TABLE tickets ADD COLUMN preferred_specialist TEXT;
ALTER TABLE tickets ADD COLUMN offered_to TEXT;
ALTER TABLE tickets ADD COLUMN first_reply_at TEXT;
ALTER TABLE tickets ADD COLUMN alerts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN next_alert_at TEXT;
ALTER TABLE tickets ADD COLUMN contact_asked_at TEXT;
ALTER TABLE tickets ADD COLUMN contact_consent_at TEXT;
ALTER TABLE tickets ADD COLUMN rating INTEGER CHECK (rating BETWEEN 1 AND 5);
ALTER TABLE tickets ADD COLUMN rating_comment TEXT;
ALTER TABLE tickets ADD COLUMN rating_asked INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tickets_thread ON tickets (thread_id);
-- The queue in taking order (urgent first, then oldest): take-next walks it and stops at the
-- first ticket the specialist can take, instead of sorting every waiting ticket.
CREATE INDEX tickets_waiting ON tickets (priority <> 'urgent', created_at, id)
    WHERE status = 'waiting';
CREATE INDEX tickets_preferred ON tickets (preferred_specialist) WHERE status = 'waiting';
CREATE INDEX tickets_person ON tickets (person_id, status);

-- The conversation of a ticket. Erased with the person (/forget) and after the retention period.
CREATE TABLE ticket_messages (
    id             INTEGER PRIMARY KEY,
    ticket_id      INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author         TEXT    NOT NULL CHECK (author IN ('citizen', 'specialist', 'note', 'bot')),
    specialist_id  TEXT,
    kind           TEXT    NOT NULL DEFAULT 'text',
    text           TEXT,
    media_ref      TEXT,
    created_at     TEXT    NOT NULL
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, id);
CREATE INDEX ticket_messages_time ON ticket_messages (created_at);

-- Who did what to which ticket, when. No message text, no citizen: it outlives /forget.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    ticket_id   INTEGER,
    detail      TEXT,
    created_at  TEXT    NOT NULL
);
CREATE INDEX audit_log_ticket ON audit_log (ticket_id, id);

-- The roster: seeded from config, then managed by coordinators from Telegram.
CREATE TABLE specialists (
    user_id       TEXT    PRIMARY KEY,
    display_name  TEXT    NOT NULL,
    skills        TEXT    NOT NULL,
    languages     TEXT    NOT NULL,
    gender        TEXT,
    max_open      INTEGER NOT NULL DEFAULT 5,
    status        TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'removed')),
    updated_at    TEXT    NOT NULL
);

-- Small facts the workspace must remember across restarts (the queue message's id).
CREATE TABLE workspace_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
