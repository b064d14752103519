-- Each owner's number of templates and their bytes (name and content), kept by a trigger in
-- the same transaction as every write to templates (the API's, `gatehouse copy`, and the
-- cascade from a deleted user), so the quota check reads one row instead of summing all
-- of the owner's templates on every write.
CREATE TABLE template_usage (
    owner_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    count    bigint NOT NULL,
    bytes    bigint NOT NULL
);

INSERT INTO template_usage (owner_id, count, bytes)
SELECT owner_id, count(*), sum(octet_length(name) + octet_length(content)) FROM templates GROUP BY owner_id;

CREATE FUNCTION template_usage_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO template_usage (owner_id, count, bytes)
        VALUES (NEW.owner_id, 1, octet_length(NEW.name) + octet_length(NEW.content))
        ON CONFLICT (owner_id) DO UPDATE
        SET count = template_usage.count + 1, bytes = template_usage.bytes + EXCLUDED.bytes;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE template_usage
        SET bytes = bytes - octet_length(OLD.name) - octet_length(OLD.content) + octet_length(NEW.name) + octet_length(NEW.content)
        WHERE owner_id = NEW.owner_id;
    ELSE
        UPDATE template_usage
        SET count = count - 1, bytes = bytes - octet_length(OLD.name) - octet_length(OLD.content)
        WHERE owner_id = OLD.owner_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER template_usage_track AFTER INSERT OR DELETE OR UPDATE OF name, content ON templates
FOR EACH ROW EXECUTE FUNCTION template_usage_track();
