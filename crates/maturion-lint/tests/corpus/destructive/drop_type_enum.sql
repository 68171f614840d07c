-- expect: ban-drop-type
-- risk_level is replaced by a numeric scale.
DROP TYPE risk_level;
