-- expect: renaming-table
ALTER TABLE findings RENAME TO issues;
