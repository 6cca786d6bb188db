-- Lectures, sign-ups, subscriptions, the daily live plan and announcements (issue #6).
-- Times are UTC ISO 8601; the live plan is keyed by the local date in settings.timezone.
CREATE TABLE lectures (
    id            INTEGER PRIMARY KEY,
    uid           TEXT    NOT NULL UNIQUE,
    title         TEXT    NOT NULL,
    topic_id      TEXT,
    lecturer      TEXT    NOT NULL,
    venue         TEXT    NOT NULL DEFAULT '',
    link          TEXT    NOT NULL DEFAULT '',
    city          TEXT    NOT NULL,
    audience      TEXT    NOT NULL DEFAULT 'public',
    language      TEXT    NOT NULL,
    starts_at     TEXT    NOT NULL,
    duration_min  INTEGER NOT NULL CHECK (duration_min > 0),
    status        TEXT    NOT NULL DEFAULT 'scheduled'
                  CHECK (status IN ('scheduled', 'moved', 'cancelled')),
    sequence      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX lectures_upcoming ON lectures (status, starts_at);

-- "I will attend": erased with the person (/forget) or the lecture.
CREATE TABLE lecture_signups (
    lecture_id  INTEGER NOT NULL REFERENCES lectures (id) ON DELETE CASCADE,
    person_id   INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (lecture_id, person_id)
);
CREATE INDEX lecture_signups_person ON lecture_signups (person_id);

-- kind 'live': the daily live announcement; kind 'lectures': new lectures in a city and language
-- ('' means any).
CREATE TABLE subscriptions (
    id          INTEGER PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('live', 'lectures')),
    city        TEXT    NOT NULL DEFAULT '',
    language    TEXT    NOT NULL DEFAULT '',
    created_at  TEXT    NOT NULL,
    UNIQUE (person_id, kind, city, language)
);
CREATE INDEX subscriptions_kind ON subscriptions (kind, city, language);

-- The daily live broadcast: one row per local date.
CREATE TABLE live_plan (
    day         TEXT    PRIMARY KEY,
    title       TEXT    NOT NULL,
    topic_id    TEXT,
    host        TEXT    NOT NULL,
    link        TEXT    NOT NULL DEFAULT '',
    time        TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

-- Announcements composed by coordinators; each recipient's message is in the outbox under
-- announce:<id>:<person>.
CREATE TABLE broadcasts (
    id                INTEGER PRIMARY KEY,
    text              TEXT    NOT NULL,
    media_kind        TEXT,
    media_ref         TEXT,
    audience          TEXT    NOT NULL CHECK (audience IN ('everyone', 'live', 'city', 'language')),
    audience_value    TEXT    NOT NULL DEFAULT '',
    created_by        TEXT    NOT NULL,
    total             INTEGER NOT NULL DEFAULT 0,
    status            TEXT    NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'done')),
    progress_chat     TEXT,
    progress_message  INTEGER,
    created_at        TEXT    NOT NULL,
    finished_at       TEXT
);
