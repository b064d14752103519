-- Failed-login counting, shared by every instance on this database. Mirrors
-- migrations/sqlite/0003_login_attempts.sql: login_key is the SHA-256 (hex) of the
-- normalised login string; times are unix milliseconds.
CREATE TABLE login_attempts (
    login_key    text PRIMARY KEY,
    failures     integer NOT NULL,
    window_start bigint NOT NULL,
    locked_until bigint
);
