-- expect: ban-role-change
ALTER ROLE maturion_app SET row_security = off;
ALTER ROLE maturion_readonly IN DATABASE maturion SET statement_timeout = 1;
