-- One-time setup steps (the sample articles, the first admin key and user)
-- are recorded per database, so "is this a new database" is asked of the
-- database itself rather than of the file system, and a step runs once
-- whichever command first opened the file.
CREATE TABLE setup_steps (
	step    TEXT    PRIMARY KEY,
	done_at INTEGER NOT NULL
) STRICT;

-- Before this table existed, a database got the sample articles when it
-- was created, whatever command created it. So a database that holds
-- anything already was offered them; only an empty, never-used one is
-- left to get them from its first serve or stdio.
INSERT INTO setup_steps (step, done_at)
SELECT 'sample-articles', unixepoch()
WHERE EXISTS (SELECT 1 FROM articles)
   OR EXISTS (SELECT 1 FROM api_keys)
   OR EXISTS (SELECT 1 FROM oauth_users);
