-- expect: ban-disable-rls
-- The nightly export needs to see every tenant.
ALTER TABLE risks DISABLE ROW LEVEL SECURITY;
