-- Where each imported article came from (its file's path, front-matter
-- format and the front matter no field holds), so an export writes it
-- back as it was.
CREATE TABLE article_sources (
    slug   text PRIMARY KEY,
    path   text NOT NULL,
    format text NOT NULL CHECK (format IN ('yaml', 'toml')),
    extra  text NOT NULL
);
