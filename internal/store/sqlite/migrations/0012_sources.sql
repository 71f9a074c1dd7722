-- Where each imported article came from (its file's path, front-matter
-- format and the front matter no field holds), so an export writes it
-- back as it was.
CREATE TABLE article_sources (
    slug   TEXT PRIMARY KEY,
    path   TEXT NOT NULL,
    format TEXT NOT NULL CHECK (format IN ('yaml', 'toml')),
    extra  TEXT NOT NULL
) STRICT, WITHOUT ROWID;
