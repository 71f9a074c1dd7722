-- foreign_keys: off
-- A token family may belong to a client alone: the client credentials
-- grant gives a machine client tokens for itself, with no user behind
-- them. user_name becomes optional; every family a user's approval made
-- keeps its user. SQLite changes a column constraint by rebuilding the
-- table (the runner turns foreign keys off for this file and checks them
-- before committing, so the codes and tokens that refer to the families
-- are kept).
CREATE TABLE oauth_families_new (
    id         TEXT    PRIMARY KEY CHECK (id <> ''),
    client_id  TEXT    NOT NULL,
    user_name  TEXT    REFERENCES oauth_users (name) ON DELETE CASCADE,  -- NULL: a client's own
    resource   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT, WITHOUT ROWID;

INSERT INTO oauth_families_new (id, client_id, user_name, resource, created_at, revoked_at)
    SELECT id, client_id, user_name, resource, created_at, revoked_at FROM oauth_families;

DROP TABLE oauth_families;
ALTER TABLE oauth_families_new RENAME TO oauth_families;

CREATE INDEX oauth_families_user_client ON oauth_families (user_name, client_id);
CREATE INDEX oauth_families_client ON oauth_families (client_id);
