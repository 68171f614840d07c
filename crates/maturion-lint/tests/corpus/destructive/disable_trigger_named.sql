-- expect: ban-disable-trigger
-- expect-line: 3
ALTER TABLE risks DISABLE TRIGGER risks_tenant_context;
UPDATE risks SET score = 0 WHERE organisation_id = '00000000-0000-0000-0000-000000000000';
ALTER TABLE risks ENABLE TRIGGER risks_tenant_context;
