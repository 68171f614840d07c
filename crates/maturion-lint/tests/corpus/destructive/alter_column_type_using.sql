-- expect: changing-column-type
-- expect-line: 6
-- Store likelihood as a number instead of text.
ALTER TABLE risks ADD COLUMN reviewed_by uuid;

ALTER TABLE risks
    ALTER COLUMN likelihood SET DATA TYPE integer USING likelihood::integer;
