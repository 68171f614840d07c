-- expect: ban-blocking-table-maintenance
ALTER TABLE risks SET TABLESPACE slow_disk;
