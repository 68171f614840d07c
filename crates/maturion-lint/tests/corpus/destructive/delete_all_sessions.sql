-- expect: delete-without-where
-- Force every user to log in again after the token format change.
DELETE FROM user_sessions;
