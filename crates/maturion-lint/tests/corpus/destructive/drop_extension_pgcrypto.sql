-- expect: ban-drop-extension
DROP EXTENSION pgcrypto;
