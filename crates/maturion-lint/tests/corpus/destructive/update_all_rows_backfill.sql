-- expect: update-without-where
ALTER TABLE risks ADD COLUMN status text;
UPDATE risks SET status = 'open';
