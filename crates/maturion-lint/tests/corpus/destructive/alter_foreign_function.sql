-- expect: ban-platform-function-change
-- risk_score was created by an earlier migration; SECURITY DEFINER makes it run as the owner.
ALTER FUNCTION risk_score(integer, integer) SECURITY DEFINER;
