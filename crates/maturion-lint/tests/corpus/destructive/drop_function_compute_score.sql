-- expect: ban-drop-function
DROP FUNCTION compute_risk_score(uuid, integer);
