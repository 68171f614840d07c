-- expect: ban-drop-function
DROP PROCEDURE IF EXISTS archive_closed_findings();
