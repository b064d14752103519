-- Admin user list: pages ordered oldest first walk this index instead of sorting.
-- A deep page (LIMIT n OFFSET k) still steps over k index entries: page 50,000 of 20 on
-- 1,000,000 users reads about a million entries. A keyset cursor (created_at, id) > (...)
-- would make every page cost the same.
CREATE INDEX users_by_created ON users (created_at, id);
-- The role filter reads user_roles_by_role (role, user_id) from 0001.
-- The `q` substring filter ('%x%') cannot use a B-tree index; it scans username_key and
-- email_key (lower case). An FTS5 trigram table would serve it if that scan grows slow.

CREATE TABLE templates (
    id         BLOB PRIMARY KEY,
    owner_id   BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    content    TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- Names are unique per owner, whatever the race.
    CONSTRAINT templates_owner_name_key UNIQUE (owner_id, name)
);
-- An owner's list, oldest first, and the ON DELETE CASCADE from users.
CREATE INDEX templates_by_owner ON templates (owner_id, created_at, id);
