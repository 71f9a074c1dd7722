-- A user may sign in at an identity provider instead of with a password
-- (federated sign-in): issuer and subject name that account, once, and
-- such a user's password_hash is ''.
ALTER TABLE oauth_users ADD COLUMN issuer TEXT;
ALTER TABLE oauth_users ADD COLUMN subject TEXT;
CREATE UNIQUE INDEX oauth_users_subject ON oauth_users (issuer, subject) WHERE issuer IS NOT NULL;
