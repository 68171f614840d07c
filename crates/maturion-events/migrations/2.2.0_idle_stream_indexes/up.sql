-- maturion:no-transaction
-- 2.2.0: the active streams of a subscription in claim order, and an organisation's resting
-- streams for its next commit to wake. Both stay small: one holds the streams with work, the
-- other only resting ones.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_event_cursors_active
  ON maturion.event_cursors (subscription, served_at) WHERE NOT idle;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_event_cursors_resting
  ON maturion.event_cursors (organisation_id) WHERE idle;
