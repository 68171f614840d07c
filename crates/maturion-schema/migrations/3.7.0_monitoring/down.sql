-- Reverts 3.7.0. The schema's owner may drop it with the extensions an administrator created in
-- it (and only those): statement statistics and the bloat functions go with it.
DROP SCHEMA maturion_monitoring CASCADE;
