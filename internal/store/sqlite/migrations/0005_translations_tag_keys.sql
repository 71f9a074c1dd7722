-- Translations: the articles that are one text in several languages share
-- a key (Hugo's translationKey); '' for an article without translations.
ALTER TABLE articles ADD COLUMN translation_key TEXT NOT NULL DEFAULT '';
CREATE INDEX articles_translation ON articles (translation_key) WHERE translation_key <> '';

-- Tag filters compare the folded tag (blog.TagKey: "ca-phe" finds "cà-phê").
-- Folding is computed in Go, so migrate fills the key of the rows that
-- exist (foldTagKeys) in this migration's transaction.
ALTER TABLE article_tags ADD COLUMN tag_key TEXT NOT NULL DEFAULT '';
CREATE INDEX article_tags_key ON article_tags (tag_key, article_id);
