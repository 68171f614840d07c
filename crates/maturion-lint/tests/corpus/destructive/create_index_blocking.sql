-- expect: require-concurrent-index-creation
-- expect-line: 10
CREATE TABLE risk_tags (
    risk_id uuid NOT NULL,
    tag text NOT NULL
);
CREATE INDEX risk_tags_tag_idx ON risk_tags (tag);

-- This one is on an existing, large table.
CREATE INDEX risks_updated_at_idx ON risks (updated_at);
