-- expect: ban-drop-view
DROP VIEW IF EXISTS open_risks;
