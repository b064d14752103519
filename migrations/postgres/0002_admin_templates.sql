-- The PostgreSQL twin of migrations/sqlite/0002_admin_templates.sql: same tables, same
-- index and constraint names (the store maps unique violations by name), native types.

-- Admin user list: pages ordered oldest first walk this index instead of sorting.
-- A deep page (LIMIT n OFFSET k) still steps over k index entries; a keyset cursor
-- (created_at, id) > (...) would make every page cost the same.
CREATE INDEX users_by_created ON users (created_at, id);
-- The role filter reads user_roles_by_role (role, user_id) from 0001.
-- The `q` substring filter ('%x%') cannot use a B-tree index; it scans username_key and
-- email_key (lower case). A pg_trgm GIN index would serve it if that scan grows slow.

CREATE TABLE templates (
    id         uuid PRIMARY KEY,
    owner_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL,
    content    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    -- Names are unique per owner, whatever the race.
    CONSTRAINT templates_owner_name_key UNIQUE (owner_id, name)
);
-- An owner's list, oldest first, and the ON DELETE CASCADE from users.
CREATE INDEX templates_by_owner ON templates (owner_id, created_at, id);
