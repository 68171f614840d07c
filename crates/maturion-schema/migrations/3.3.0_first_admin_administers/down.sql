-- 3.3.0 down: the token functions of the administrator go; grants already made stay.

DROP FUNCTION maturion.admin_revoke_token(uuid);
DROP FUNCTION maturion.admin_list_tokens();
DROP FUNCTION maturion.admin_create_token(uuid, interval);
DROP FUNCTION maturion.administered_organisation();
