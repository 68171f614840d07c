-- expect: ban-drop-database
DROP DATABASE IF EXISTS maturion_scratch;
