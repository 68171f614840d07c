-- expect: renaming-column
ALTER TABLE controls RENAME COLUMN description TO summary;
