-- Reverts 3.5.0: the data keys go, and with them every value they encrypted.
DROP FUNCTION maturion.destroy_subject_keys(uuid);
DROP FUNCTION maturion.add_data_key(uuid, bytea, text);
DROP FUNCTION maturion.organisation_data_keys();
DROP TABLE maturion.data_keys;
