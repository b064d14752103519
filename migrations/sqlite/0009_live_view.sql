-- The twin of migrations/postgres/0009_live_view.sql, which adds the triggers that notify
-- other instances of changes to live sessions. SQLite has no notifications: an instance
-- watches `PRAGMA data_version` instead (src/store/live.rs), so nothing changes here; the
-- migration keeps both databases at the same schema version.
SELECT 1;
