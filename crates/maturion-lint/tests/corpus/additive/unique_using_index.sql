-- The index was built concurrently by 1.6.1.
ALTER TABLE controls
    ADD CONSTRAINT controls_tenant_code_key UNIQUE USING INDEX controls_tenant_code_key;
