-- Articles, their tags and the full-text index over them.

CREATE TABLE articles (
    id           INTEGER PRIMARY KEY,
    slug         TEXT    NOT NULL UNIQUE CHECK (slug <> ''),
    title        TEXT    NOT NULL CHECK (title <> ''),
    summary      TEXT    NOT NULL DEFAULT '',
    -- A JSON array of the article's tags, sorted: the copy that reads use,
    -- so a page of articles comes back in one query with no join. The
    -- article_tags table below is the copy that filters and counts use.
    tags         TEXT    NOT NULL DEFAULT '[]',
    language     TEXT    NOT NULL CHECK (language <> ''),
    author       TEXT    NOT NULL DEFAULT '',
    published_at INTEGER NOT NULL, -- Unix seconds, UTC
    updated_at   INTEGER NOT NULL, -- Unix seconds, UTC
    draft        INTEGER NOT NULL DEFAULT 0 CHECK (draft IN (0, 1))
) STRICT;

-- Bodies live apart from the other columns. Search checks the filters and
-- sort keys of every matching article, and listings walk many rows; with
-- kilobytes of Markdown in each row those rows would spread over ten times
-- the pages and fall out of the page cache. A page of results then reads
-- only its own bodies.
CREATE TABLE article_bodies (
    article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    body       TEXT    NOT NULL
) STRICT;

-- Listings go newest first with a keyset cursor on (published_at, slug).
CREATE INDEX articles_published ON articles (published_at DESC, slug);

CREATE TABLE article_tags (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    tag        TEXT    NOT NULL,
    PRIMARY KEY (article_id, tag)
) STRICT, WITHOUT ROWID;

-- Filtering by tag and counting tags start from the tag.
CREATE INDEX article_tags_tag ON article_tags (tag, article_id);

-- The search index holds the folded words of each field (blog.Words,
-- computed in Go, joined by spaces), so its rowid is articles.id and it
-- keeps no copy of the text (contentless); contentless_delete lets us
-- replace and delete rows. The columns are in the order of the bm25
-- weights the store passes (title, tags, summary, body).
CREATE VIRTUAL TABLE articles_fts USING fts5 (
    title, tags, summary, body,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
