DROP TRIGGER stamp_grantor ON public.user_permissions;
DROP FUNCTION maturion.stamp_grantor();
