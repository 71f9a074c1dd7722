-- The assertions spent at the token endpoint (an ID-JAG's jti, per its
-- issuer): each is accepted once, and its row is kept until the assertion
-- expires, when it would be refused anyway.
CREATE TABLE oauth_spent_assertions (
    issuer     TEXT    NOT NULL CHECK (issuer <> ''),
    jti        TEXT    NOT NULL CHECK (jti <> ''),
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
) STRICT, WITHOUT ROWID;
CREATE INDEX oauth_spent_assertions_expiry ON oauth_spent_assertions (expires_at);
