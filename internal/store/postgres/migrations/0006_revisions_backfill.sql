-- Every article older than the history gets one revision of itself as
-- it was at the upgrade (actor "migration"), so the first change made
-- after it can be undone like any other.
INSERT INTO article_revisions (slug, at, actor, action, changed, article)
SELECT a.slug, a.updated_at, 'migration', 'created', '[]',
       jsonb_build_object(
           'slug', a.slug, 'title', a.title, 'summary', a.summary, 'body', a.body,
           'tags', to_jsonb(a.tags), 'language', a.language, 'author', a.author,
           'published_at', to_char(a.published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           'updated_at', to_char(a.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           'draft', a.draft,
           'translation_key', a.translation_key)::text
FROM articles a
WHERE NOT EXISTS (SELECT 1 FROM article_revisions r WHERE r.slug = a.slug)
ORDER BY a.id;
