-- expect: adding-not-nullable-field
ALTER TABLE evidence ADD COLUMN evidence_no integer PRIMARY KEY;
