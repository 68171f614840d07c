-- expect: renaming-object
ALTER FUNCTION risk_score(integer, integer) RENAME TO risk_rating;
ALTER TYPE risk_level RENAME TO risk_grade;
