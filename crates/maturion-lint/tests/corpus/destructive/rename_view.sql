-- expect: renaming-table
ALTER VIEW open_risks RENAME TO active_risks;
