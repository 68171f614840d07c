CREATE OR REPLACE VIEW open_risks AS
SELECT r.id, r.tenant_id, r.title, r.likelihood, r.impact, r.owner_id,
       r.likelihood * r.impact AS score   -- new column, added at the end
  FROM risks r
 WHERE r.closed_at IS NULL;

ALTER VIEW open_risks SET (security_barrier = true);
