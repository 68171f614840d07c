-- expect: ban-blocking-table-maintenance
CLUSTER risks USING risks_pkey;
