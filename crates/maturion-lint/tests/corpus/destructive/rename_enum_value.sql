-- expect: renaming-enum-value
-- expect-line: 3
ALTER TYPE risk_level RENAME VALUE 'med' TO 'medium';
