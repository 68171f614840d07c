-- Reverts 1.0.0 policies.
DROP TABLE policies;
