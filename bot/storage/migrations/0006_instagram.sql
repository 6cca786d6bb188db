-- Instagram direct messages.

-- How far each direct thread has been processed: the newest item answered, so that a restart
-- neither skips nor repeats a message. No text and no person: only Instagram's thread and item
-- ids, kept after /forget so that an erased person's old messages are not answered again.
CREATE TABLE instagram_threads (
    thread_id     TEXT PRIMARY KEY,
    last_item_id  TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- The numbered options last shown to a person, so that "2" still means the same after a
-- restart. Erased with the person.
CREATE TABLE instagram_options (
    person_id   INTEGER PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    actions     TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

-- The channel's own small state: the pause after a push-back and how far the backoff has grown.
CREATE TABLE instagram_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
