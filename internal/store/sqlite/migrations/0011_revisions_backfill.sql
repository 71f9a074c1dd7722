-- Every article older than the history gets one revision of itself as
-- it was at the upgrade (actor "migration"), so the first change made
-- after it can be undone like any other.
INSERT INTO article_revisions (slug, at, actor, action, changed, article)
SELECT a.slug, a.updated_at, 'migration', 'created', '[]',
       json_object(
           'slug', a.slug, 'title', a.title, 'summary', a.summary, 'body', b.body,
           'tags', json(a.tags), 'language', a.language, 'author', a.author,
           'published_at', strftime('%Y-%m-%dT%H:%M:%SZ', a.published_at, 'unixepoch'),
           'updated_at', strftime('%Y-%m-%dT%H:%M:%SZ', a.updated_at, 'unixepoch'),
           'draft', json(CASE WHEN a.draft THEN 'true' ELSE 'false' END),
           'translation_key', a.translation_key)
FROM articles a JOIN article_bodies b ON b.article_id = a.id
WHERE NOT EXISTS (SELECT 1 FROM article_revisions r WHERE r.slug = a.slug)
ORDER BY a.id;
