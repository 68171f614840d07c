-- expect: ban-drop-view
-- The dashboard reads the live tables now.
DROP MATERIALIZED VIEW reporting.control_coverage;
