ALTER TABLE maturion.event_cursors DROP COLUMN idle;
