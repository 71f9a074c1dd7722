-- One-time setup steps (today: offering the sample articles) are recorded
-- per database, so "is this a new database" is asked of the database
-- itself rather than of the file system, and a step runs once, by
-- whichever command reaches it first.
CREATE TABLE setup_steps (
	step    TEXT    PRIMARY KEY,
	done_at INTEGER NOT NULL
) STRICT;

-- A database that existed before this migration has had its samples
-- offered; migrate records that (it knows whether the database is new).
