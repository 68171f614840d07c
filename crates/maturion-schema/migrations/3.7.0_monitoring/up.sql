-- 3.7.0: the schema of the monitoring extensions (spec §13).
--
-- pg_stat_statements (slow queries) and pgstattuple (bloat) are not trusted extensions: only a
-- superuser creates them, so `maturion monitor` and the server's monitoring do at their first
-- look (CREATE EXTENSION … WITH SCHEMA maturion_monitoring) when they can, and an operator of an
-- external server does it once by hand. Their views and functions land here, where nobody but
-- the administrators may look: pg_stat_statements grants its view to PUBLIC, and the runtime
-- roles must not read other sessions' statements.

CREATE SCHEMA maturion_monitoring;
REVOKE ALL ON SCHEMA maturion_monitoring FROM PUBLIC;
COMMENT ON SCHEMA maturion_monitoring IS '@internal pg_stat_statements and pgstattuple, created by an administrator; no runtime role has USAGE.';
