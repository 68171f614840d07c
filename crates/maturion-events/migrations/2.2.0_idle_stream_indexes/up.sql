-- maturion:no-transaction
-- 2.2.0: the active streams of a subscription, and an organisation's resting streams for its
-- next commit to wake. Neither holds served_at, which every claim updates: those updates stay
-- HOT (no index entry, no bloat); a claim sorts the few active streams itself.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_event_cursors_active
  ON maturion.event_cursors (subscription) WHERE NOT idle;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_event_cursors_resting
  ON maturion.event_cursors (organisation_id) WHERE idle;
