-- A module's own schema and tables, opened to the runtime roles as a tenant table needs.
CREATE SCHEMA reporting;
CREATE TABLE reporting.risk_summaries (
    id uuid PRIMARY KEY,
    organisation_id uuid NOT NULL,
    open_risks integer NOT NULL DEFAULT 0
);
SELECT maturion.enable_tenant_isolation('reporting.risk_summaries');
GRANT USAGE ON SCHEMA reporting TO maturion_app, maturion_readonly;
GRANT SELECT, INSERT, UPDATE ON reporting.risk_summaries TO maturion_app;
GRANT SELECT ON reporting.risk_summaries TO maturion_readonly;
GRANT UPDATE (open_risks) ON reporting.risk_summaries TO maturion_app;

CREATE FUNCTION reporting.risk_rating(likelihood integer, impact integer) RETURNS integer
LANGUAGE sql IMMUTABLE
RETURN likelihood * impact;
GRANT EXECUTE ON FUNCTION reporting.risk_rating(integer, integer) TO maturion_app;

-- Taking privileges away is always fine.
REVOKE ALL ON reporting.risk_summaries FROM PUBLIC;
