-- expect: ban-drop-column
-- expect-line: 6
-- The score is now computed by compute_risk_score().
ALTER TABLE risks ADD COLUMN computed_at timestamptz;

ALTER TABLE risks DROP COLUMN score;
