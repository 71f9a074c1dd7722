-- Nothing done to an article is irreversible: every create, update,
-- delete and restore keeps the whole article as it was, with when, who and
-- which fields changed; a deleted article waits in the trash until the
-- owner purges it. Revisions are keyed by slug, so an article restored
-- from the trash finds its history again.
CREATE TABLE article_revisions (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    slug    TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL CHECK (action IN ('created', 'updated', 'deleted', 'restored')),
    changed TEXT    NOT NULL,   -- JSON array of field names
    article TEXT    NOT NULL    -- JSON of the article
) STRICT;
CREATE INDEX article_revisions_slug ON article_revisions (slug, id);

CREATE TABLE article_trash (
    slug       TEXT    PRIMARY KEY,
    article    TEXT    NOT NULL,  -- JSON of the article as it was deleted
    deleted_at INTEGER NOT NULL,
    deleted_by TEXT    NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX article_trash_deleted ON article_trash (deleted_at);
