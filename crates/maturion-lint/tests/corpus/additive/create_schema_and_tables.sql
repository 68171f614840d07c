CREATE SCHEMA IF NOT EXISTS vendor_risk;

CREATE TABLE vendor_risk.vendors (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid NOT NULL,
    name text NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE vendor_risk.questionnaires (
    id bigserial PRIMARY KEY,
    vendor_id bigint NOT NULL REFERENCES vendor_risk.vendors (id),
    sent_at timestamptz
);

CREATE INDEX ON vendor_risk.questionnaires (vendor_id);
ALTER TABLE vendor_risk.questionnaires ADD COLUMN answered_at timestamptz NOT NULL;
ALTER TABLE vendor_risk.vendors ENABLE ROW LEVEL SECURITY;
