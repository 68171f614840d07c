-- expect: ban-log-table-change
DROP TABLE IF EXISTS public.event_log_p2027_01;
