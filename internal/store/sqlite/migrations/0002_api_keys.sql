-- API keys (internal/apikey). Only SHA-256 of a key's secret is kept: the
-- full key is shown once, when it is created, and exists nowhere else.

CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY CHECK (id <> ''),   -- the public part, shown by `keys list`
    name         TEXT    NOT NULL CHECK (name <> ''),
    hash         BLOB    NOT NULL CHECK (length(hash) = 32), -- SHA-256 of the secret
    scopes       TEXT    NOT NULL,  -- space-separated, e.g. 'articles:read articles:write'
    created_at   INTEGER NOT NULL,  -- Unix seconds, UTC, like every time below
    expires_at   INTEGER,           -- NULL: never expires
    last_used_at INTEGER,           -- NULL: never used
    revoked_at   INTEGER            -- NULL: not revoked
) STRICT, WITHOUT ROWID;

-- `keys list` shows keys oldest first.
CREATE INDEX api_keys_created ON api_keys (created_at, id);
