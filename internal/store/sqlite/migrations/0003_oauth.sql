-- The built-in OAuth authorization server (internal/authserver). Only
-- SHA-256 hashes of codes, tokens, session ids and client secrets are
-- kept; passwords are argon2id hashes. Times are Unix seconds, UTC.
--
-- Client ids in grants, families and codes are not foreign keys: a client
-- identified by a metadata document URL is never stored here. Deleting a
-- stored client deletes its rows explicitly (see DeleteClient).

CREATE TABLE oauth_clients (
    id             TEXT    PRIMARY KEY CHECK (id <> ''),
    name           TEXT    NOT NULL,
    kind           TEXT    NOT NULL CHECK (kind IN ('preregistered', 'dynamic')),
    auth_method    TEXT    NOT NULL CHECK (auth_method IN ('none', 'client_secret_basic', 'client_secret_post')),
    secret_hash    BLOB    CHECK (secret_hash IS NULL OR length(secret_hash) = 32), -- SHA-256 of the secret
    redirect_uris  TEXT    NOT NULL,  -- JSON array of strings
    grant_types    TEXT    NOT NULL,  -- space-separated
    response_types TEXT    NOT NULL,  -- space-separated
    scopes         TEXT    NOT NULL,  -- space-separated; '' allows every scope
    client_uri     TEXT    NOT NULL,
    logo_uri       TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER,           -- NULL: never obtained a token
    -- A public client has no secret; a confidential one always has one.
    CHECK ((auth_method = 'none') = (secret_hash IS NULL))
) STRICT, WITHOUT ROWID;

CREATE INDEX oauth_clients_created ON oauth_clients (created_at, id);

CREATE TABLE oauth_users (
    name                TEXT    PRIMARY KEY CHECK (name <> ''),
    password_hash       TEXT    NOT NULL,  -- $argon2id$v=19$m=…,t=…,p=…$salt$hash
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL,
    last_login_at       INTEGER
) STRICT, WITHOUT ROWID;

-- Failed sign-ins per typed name, whether or not a user has it, so a
-- lockout says nothing about which names exist. Not a foreign key for
-- that reason.
CREATE TABLE oauth_login_failures (
    name            TEXT    PRIMARY KEY,
    failures        INTEGER NOT NULL CHECK (failures > 0),
    last_failure_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE oauth_sessions (
    hash       BLOB    PRIMARY KEY CHECK (length(hash) = 32),  -- SHA-256 of the cookie value
    user_name  TEXT    NOT NULL REFERENCES oauth_users (name) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX oauth_sessions_user ON oauth_sessions (user_name);
CREATE INDEX oauth_sessions_expires ON oauth_sessions (expires_at);

-- Remembered approvals: one row per user and client, with the union of
-- the scopes approved.
CREATE TABLE oauth_grants (
    user_name   TEXT    NOT NULL REFERENCES oauth_users (name) ON DELETE CASCADE,
    client_id   TEXT    NOT NULL,
    client_name TEXT    NOT NULL,
    scopes      TEXT    NOT NULL,  -- space-separated
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (user_name, client_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX oauth_grants_client ON oauth_grants (client_id);

-- A token family: the tokens issued from one authorization code and all
-- their rotations. Revoking the family kills every token in it, including
-- any inserted later by a request that raced the revocation.
CREATE TABLE oauth_families (
    id         TEXT    PRIMARY KEY CHECK (id <> ''),
    client_id  TEXT    NOT NULL,
    user_name  TEXT    NOT NULL REFERENCES oauth_users (name) ON DELETE CASCADE,
    resource   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX oauth_families_user_client ON oauth_families (user_name, client_id);
CREATE INDEX oauth_families_client ON oauth_families (client_id);

CREATE TABLE oauth_codes (
    hash         BLOB    PRIMARY KEY CHECK (length(hash) = 32),
    family_id    TEXT    NOT NULL UNIQUE REFERENCES oauth_families (id) ON DELETE CASCADE,
    redirect_uri TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    challenge    TEXT    NOT NULL,  -- PKCE S256 code_challenge
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER            -- NULL: not exchanged yet
) STRICT, WITHOUT ROWID;

CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at);

CREATE TABLE oauth_tokens (
    hash       BLOB    PRIMARY KEY CHECK (length(hash) = 32),
    kind       TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
    family_id  TEXT    NOT NULL REFERENCES oauth_families (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER,  -- refresh tokens: when exchanged for new ones
    revoked_at INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX oauth_tokens_family ON oauth_tokens (family_id);
CREATE INDEX oauth_tokens_expires ON oauth_tokens (expires_at);
