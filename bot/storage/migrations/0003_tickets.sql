-- Requests for a specialist become tickets: the skill they need, who took them, how they ended.
ALTER TABLE specialist_requests RENAME TO tickets;
ALTER TABLE tickets ADD COLUMN skill TEXT NOT NULL DEFAULT 'theology';
ALTER TABLE tickets ADD COLUMN specialist_id TEXT;
ALTER TABLE tickets ADD COLUMN assigned_at TEXT;
ALTER TABLE tickets ADD COLUMN closed_at TEXT;
ALTER TABLE tickets ADD COLUMN outcome TEXT;
DROP INDEX specialist_requests_queue;
CREATE INDEX tickets_queue ON tickets (status, priority, created_at);
CREATE INDEX tickets_specialist ON tickets (specialist_id, status);
