-- expect: disallowed-unique-constraint
ALTER TABLE controls ADD CONSTRAINT controls_tenant_code_key UNIQUE (tenant_id, code);
