-- Backfill one batch; later batches run from the application.
UPDATE risks
   SET status = 'open'
 WHERE status IS NULL
   AND id IN (SELECT id FROM risks WHERE status IS NULL ORDER BY id LIMIT 10000);

DELETE FROM user_sessions WHERE expires_at < now() - interval '30 days';
