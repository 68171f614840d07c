-- expect: ban-drop-policy
-- Replaced by a policy on the new tenant_id column.
DROP POLICY tenant_isolation ON public.controls;
