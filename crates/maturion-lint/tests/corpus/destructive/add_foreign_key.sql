-- expect: adding-foreign-key-constraint
ALTER TABLE findings
    ADD CONSTRAINT findings_control_id_fkey
    FOREIGN KEY (control_id) REFERENCES controls (id) ON DELETE CASCADE;
