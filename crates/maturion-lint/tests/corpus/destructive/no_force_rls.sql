-- expect: ban-disable-rls
ALTER TABLE controls NO FORCE ROW LEVEL SECURITY;
