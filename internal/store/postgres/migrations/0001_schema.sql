-- The whole schema of mcp-2coffee on PostgreSQL, at the level of SQLite
-- migration 0005. Times are timestamptz rounded to whole seconds, as SQLite
-- keeps them; hashes are bytea: SHA-256 of codes, tokens, session ids and
-- secrets, never the secrets themselves.

-- Articles. The tags array is the copy that reads use (a page of articles
-- in one query, no join); article_tags is the copy that filters and
-- counts use. PostgreSQL moves bodies out of line itself (TOAST, with the
-- target set below), so unlike SQLite no separate body table is needed to
-- keep rows small.
-- Slugs and tags are COLLATE "C": listings and tag counts order them by
-- byte, as SQLite does, whatever the database's locale.
CREATE TABLE articles (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug            text        COLLATE "C" NOT NULL UNIQUE CHECK (slug <> ''),
    title           text        NOT NULL CHECK (title <> ''),
    summary         text        NOT NULL DEFAULT '',
    tags            text[]      NOT NULL DEFAULT '{}',
    language        text        NOT NULL CHECK (language <> ''),
    author          text        NOT NULL DEFAULT '',
    published_at    timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    draft           boolean     NOT NULL DEFAULT false,
    translation_key text        NOT NULL DEFAULT '',
    body            text        NOT NULL,
    -- The folded words of title, tags, summary and body (blog.Words,
    -- computed in Go) with weights A, B, C and D; see search.go.
    search          tsvector    NOT NULL,
    -- The part of search for title, tags and summary: what ranking reads.
    -- It is small enough to stay in the row, where search (kilobytes)
    -- is moved out of line and compressed, and costs microseconds to read.
    head            tsvector    NOT NULL
);

-- Keep each row of the heap small: a search visits the row of every
-- match to test visibility and read the head, and rows carrying their
-- bodies and search vectors inline (any row under 2 kB does, by default)
-- spread 10,000 articles over twice the pages. With a target of 256 bytes
-- the body and the search vector move out of line (TOAST) in nearly every
-- row, and the head, which ranking reads for every match, is asked to stay
-- in the row.
ALTER TABLE articles SET (toast_tuple_target = 256);
ALTER TABLE articles ALTER COLUMN head SET STORAGE MAIN;

-- Listings go newest first with a keyset cursor on (published_at, slug).
CREATE INDEX articles_published ON articles (published_at DESC, slug);
CREATE INDEX articles_translation ON articles (translation_key) WHERE translation_key <> '';
-- fastupdate off: each write updates the index itself instead of queuing
-- entries in a pending list that every search must then read through (up
-- to 4 MB of it after an import, until a vacuum merges it). A blog writes
-- rarely; it searches often.
CREATE INDEX articles_search ON articles USING gin (search) WITH (fastupdate = off);

CREATE TABLE article_tags (
    article_id bigint NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    tag        text   COLLATE "C" NOT NULL,
    -- blog.TagKey(tag): filters compare it ("ca-phe" finds "cà-phê").
    tag_key    text   COLLATE "C" NOT NULL,
    PRIMARY KEY (article_id, tag)
);

CREATE INDEX article_tags_tag ON article_tags (tag, article_id);
CREATE INDEX article_tags_key ON article_tags (tag_key, article_id);

-- API keys (internal/apikey): only SHA-256 of a key's secret is kept.
CREATE TABLE api_keys (
    id           text        PRIMARY KEY CHECK (id <> ''),
    name         text        NOT NULL CHECK (name <> ''),
    hash         bytea       NOT NULL CHECK (octet_length(hash) = 32),
    scopes       text        NOT NULL,  -- space-separated
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,           -- NULL: never expires
    last_used_at timestamptz,           -- NULL: never used
    revoked_at   timestamptz            -- NULL: not revoked
);

CREATE INDEX api_keys_created ON api_keys (created_at, id);

-- The built-in OAuth authorization server (internal/authserver). Client
-- ids in grants, families and codes are not foreign keys: a client named
-- by a metadata document URL is never stored here.
CREATE TABLE oauth_clients (
    id             text        PRIMARY KEY CHECK (id <> ''),
    name           text        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('preregistered', 'dynamic')),
    auth_method    text        NOT NULL CHECK (auth_method IN ('none', 'client_secret_basic', 'client_secret_post')),
    secret_hash    bytea       CHECK (secret_hash IS NULL OR octet_length(secret_hash) = 32),
    redirect_uris  text[]      NOT NULL,
    grant_types    text        NOT NULL,  -- space-separated
    response_types text        NOT NULL,  -- space-separated
    scopes         text        NOT NULL,  -- space-separated; '' allows every scope
    client_uri     text        NOT NULL,
    logo_uri       text        NOT NULL,
    created_at     timestamptz NOT NULL,
    last_used_at   timestamptz,
    -- A public client has no secret; a confidential one always has one.
    CHECK ((auth_method = 'none') = (secret_hash IS NULL))
);

CREATE INDEX oauth_clients_created ON oauth_clients (created_at, id);

CREATE TABLE oauth_users (
    name                text        PRIMARY KEY CHECK (name <> ''),
    password_hash       text        NOT NULL,  -- $argon2id$…
    created_at          timestamptz NOT NULL,
    password_changed_at timestamptz NOT NULL,
    last_login_at       timestamptz
);

-- Failed sign-ins per typed name, whether or not a user has it, so a
-- lockout says nothing about which names exist (hence no foreign key).
CREATE TABLE oauth_login_failures (
    name            text        PRIMARY KEY,
    failures        integer     NOT NULL CHECK (failures > 0),
    last_failure_at timestamptz NOT NULL
);

CREATE TABLE oauth_sessions (
    hash       bytea       PRIMARY KEY CHECK (octet_length(hash) = 32),
    user_name  text        NOT NULL REFERENCES oauth_users (name) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX oauth_sessions_user ON oauth_sessions (user_name);
CREATE INDEX oauth_sessions_expires ON oauth_sessions (expires_at);

-- Remembered approvals: one row per user and client, with the union of
-- the scopes approved.
CREATE TABLE oauth_grants (
    user_name   text        NOT NULL REFERENCES oauth_users (name) ON DELETE CASCADE,
    client_id   text        NOT NULL,
    client_name text        NOT NULL,
    scopes      text        NOT NULL,  -- space-separated
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (user_name, client_id)
);

CREATE INDEX oauth_grants_client ON oauth_grants (client_id);

-- A token family: the tokens issued from one authorization code and all
-- their rotations. Revoking the family kills every token in it.
CREATE TABLE oauth_families (
    id         text        PRIMARY KEY CHECK (id <> ''),
    client_id  text        NOT NULL,
    user_name  text        NOT NULL REFERENCES oauth_users (name) ON DELETE CASCADE,
    resource   text        NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE INDEX oauth_families_user_client ON oauth_families (user_name, client_id);
CREATE INDEX oauth_families_client ON oauth_families (client_id);

CREATE TABLE oauth_codes (
    hash         bytea       PRIMARY KEY CHECK (octet_length(hash) = 32),
    family_id    text        NOT NULL UNIQUE REFERENCES oauth_families (id) ON DELETE CASCADE,
    redirect_uri text        NOT NULL,
    scopes       text        NOT NULL,
    challenge    text        NOT NULL,  -- PKCE S256 code_challenge
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz            -- NULL: not exchanged yet
);

CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at);

CREATE TABLE oauth_tokens (
    hash       bytea       PRIMARY KEY CHECK (octet_length(hash) = 32),
    kind       text        NOT NULL CHECK (kind IN ('access', 'refresh')),
    family_id  text        NOT NULL REFERENCES oauth_families (id) ON DELETE CASCADE,
    scopes     text        NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    rotated_at timestamptz,  -- refresh tokens: when exchanged for new ones
    revoked_at timestamptz
);

CREATE INDEX oauth_tokens_family ON oauth_tokens (family_id);
CREATE INDEX oauth_tokens_expires ON oauth_tokens (expires_at);

-- One-time setup steps (the sample articles), recorded per database.
CREATE TABLE setup_steps (
    step    text        PRIMARY KEY,
    done_at timestamptz NOT NULL
);
