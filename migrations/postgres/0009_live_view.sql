-- Every instance keeps a view of live sessions in memory (src/store/live.rs). A change that
-- could make it wrong notifies channel gatehouse_live with the user's id, sent when the
-- writing transaction commits, whoever the writer is (another instance, the CLI, psql).
CREATE FUNCTION gatehouse_notify_live() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('gatehouse_live', OLD.id::text);
    ELSE
        PERFORM pg_notify('gatehouse_live', OLD.user_id::text);
    END IF;
    RETURN NULL;
END
$$;

-- Any change of a user row (disabled, roles through updated_at, email, MFA) or its deletion.
CREATE TRIGGER users_changed_notify_live AFTER UPDATE ON users
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION gatehouse_notify_live();
CREATE TRIGGER users_deleted_notify_live AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION gatehouse_notify_live();
-- A session revoked or cut short (rotations only touch last_used_at and send nothing), or a
-- live one deleted (pruning expired ones sends nothing).
CREATE TRIGGER sessions_changed_notify_live AFTER UPDATE OF revoked_at, expires_at ON sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at)
    EXECUTE FUNCTION gatehouse_notify_live();
CREATE TRIGGER sessions_deleted_notify_live AFTER DELETE ON sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND OLD.expires_at > now()) EXECUTE FUNCTION gatehouse_notify_live();
-- Roles changed by hand. (Role rows inserted with a new user send nothing: the view cannot
-- hold a user before it exists, and bulk imports stay quiet.)
CREATE TRIGGER user_roles_notify_live AFTER UPDATE OR DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION gatehouse_notify_live();
