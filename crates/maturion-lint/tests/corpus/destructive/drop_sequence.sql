-- expect: ban-drop-sequence
DROP SEQUENCE finding_number_seq;
