-- A token family may belong to a client alone: the client credentials
-- grant gives a machine client tokens for itself, with no user behind
-- them (user_name NULL). Every family a user's approval made keeps its
-- user.
ALTER TABLE oauth_families ALTER COLUMN user_name DROP NOT NULL;
