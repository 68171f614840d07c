ALTER TABLE findings ADD COLUMN control_id uuid;

ALTER TABLE findings
    ADD CONSTRAINT findings_control_id_fkey
    FOREIGN KEY (control_id) REFERENCES controls (id) NOT VALID;

ALTER TABLE findings VALIDATE CONSTRAINT findings_control_id_fkey;
