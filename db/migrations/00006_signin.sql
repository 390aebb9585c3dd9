-- +goose Up
-- Staff sign in to the dashboard with a username and a password. The
-- username is found through a keyed hash of its lower-case form (names
-- identify people: stored sealed, like staff names); the password is an
-- argon2id hash.
ALTER TABLE staff ADD COLUMN username_hash bytea;
ALTER TABLE staff ADD COLUMN username_enc bytea;
ALTER TABLE staff ADD COLUMN password_hash text;
CREATE UNIQUE INDEX staff_username ON staff (username_hash);
-- Every session remembers the generation it was made in: "sign out
-- everywhere" and a password reset move it on, ending every session at once.
ALTER TABLE staff ADD COLUMN session_generation int NOT NULL DEFAULT 0;

-- Dashboard sessions (alexedwards/scs pgxstore): a random token, what the
-- session holds (a staff ID and generation, never personal data), expiry.
CREATE TABLE sessions (
    token  text PRIMARY KEY,
    data   bytea NOT NULL,
    expiry timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);

-- +goose Down
DROP TABLE sessions;
ALTER TABLE staff DROP COLUMN session_generation;
DROP INDEX staff_username;
ALTER TABLE staff DROP COLUMN password_hash, DROP COLUMN username_enc, DROP COLUMN username_hash;
