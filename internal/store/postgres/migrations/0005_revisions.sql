-- Nothing done to an article is irreversible: every create, update,
-- delete and restore keeps the whole article as it was, with when, who and
-- which fields changed; a deleted article waits in the trash until the
-- owner purges it. Revisions are keyed by slug, so an article restored
-- from the trash finds its history again.
CREATE TABLE article_revisions (
    id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug    text        NOT NULL,
    at      timestamptz NOT NULL,
    actor   text        NOT NULL,
    action  text        NOT NULL CHECK (action IN ('created', 'updated', 'deleted', 'restored')),
    changed text        NOT NULL,   -- JSON array of field names
    article text        NOT NULL    -- JSON of the article
);
CREATE INDEX article_revisions_slug ON article_revisions (slug, id);

CREATE TABLE article_trash (
    slug       text        PRIMARY KEY,
    article    text        NOT NULL,  -- JSON of the article as it was deleted
    deleted_at timestamptz NOT NULL,
    deleted_by text        NOT NULL
);
CREATE INDEX article_trash_deleted ON article_trash (deleted_at);
