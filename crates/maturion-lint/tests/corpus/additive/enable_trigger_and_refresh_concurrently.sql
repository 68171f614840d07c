-- Turning a trigger on, and the non-blocking refresh of an existing materialized view.
ALTER TABLE risks ENABLE TRIGGER risks_touch_updated_at;
REFRESH MATERIALIZED VIEW CONCURRENTLY reporting.control_coverage;

-- Maintenance of a table this migration creates blocks nobody.
CREATE TABLE risk_snapshots (id uuid PRIMARY KEY, organisation_id uuid NOT NULL);
LOCK TABLE risk_snapshots IN ACCESS EXCLUSIVE MODE;
ALTER TABLE risk_snapshots SET UNLOGGED;
