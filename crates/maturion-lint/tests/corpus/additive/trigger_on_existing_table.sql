CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER controls_set_updated_at
    BEFORE UPDATE ON controls
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
