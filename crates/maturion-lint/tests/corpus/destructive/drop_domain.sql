-- expect: ban-drop-type
DROP DOMAIN IF EXISTS email_address CASCADE;
