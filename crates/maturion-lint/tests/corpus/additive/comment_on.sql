COMMENT ON TABLE risks IS 'A risk identified for a tenant.';
COMMENT ON COLUMN risks.likelihood IS '1 (rare) to 5 (almost certain).';
COMMENT ON FUNCTION risk_score(integer, integer) IS 'likelihood × impact';
