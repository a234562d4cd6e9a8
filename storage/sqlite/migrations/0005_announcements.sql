-- Announcements from commune staff (/thongbao): the text, who sent it, to which scope,
-- and when the delivery summary went back to the author. Each recipient's copy is an
-- outbox row (rule 'announce', period = announcement id).
CREATE TABLE announcements (
    id               INTEGER PRIMARY KEY,
    commune_id       INTEGER NOT NULL REFERENCES units (id),
    scope_unit_id    INTEGER NOT NULL REFERENCES units (id),
    author_id        INTEGER NOT NULL REFERENCES members (id),
    author_channel   TEXT NOT NULL,            -- the summary goes back where the author asked
    author_chat      TEXT NOT NULL,
    text             TEXT NOT NULL,
    recipients       INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    summary_sent_at  TEXT
);
CREATE INDEX announcements_open ON announcements (summary_sent_at);
