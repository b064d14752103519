-- Each owner's number of templates and their bytes (name and content), kept by triggers in
-- the same transaction as every write to templates (the API's, `gatehouse copy`, and the
-- cascade from a deleted user), so the quota check reads one row instead of summing all
-- of the owner's templates on every write.
CREATE TABLE template_usage (
    owner_id BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    count    INTEGER NOT NULL,
    bytes    INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO template_usage (owner_id, count, bytes)
SELECT owner_id, count(*), sum(octet_length(name) + octet_length(content)) FROM templates GROUP BY owner_id;

CREATE TRIGGER template_usage_on_insert AFTER INSERT ON templates
BEGIN
    INSERT INTO template_usage (owner_id, count, bytes)
    VALUES (new.owner_id, 1, octet_length(new.name) + octet_length(new.content))
    ON CONFLICT (owner_id) DO UPDATE SET count = count + 1, bytes = bytes + excluded.bytes;
END;

CREATE TRIGGER template_usage_on_update AFTER UPDATE OF name, content ON templates
BEGIN
    UPDATE template_usage
    SET bytes = bytes - octet_length(old.name) - octet_length(old.content) + octet_length(new.name) + octet_length(new.content)
    WHERE owner_id = new.owner_id;
END;

CREATE TRIGGER template_usage_on_delete AFTER DELETE ON templates
BEGIN
    UPDATE template_usage
    SET count = count - 1, bytes = bytes - octet_length(old.name) - octet_length(old.content)
    WHERE owner_id = old.owner_id;
END;
