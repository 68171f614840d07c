-- Undoes 1.2.0_legal_holds: the record of holds goes with it.
DROP FUNCTION maturion.legal_holds_on(regclass);
DROP FUNCTION maturion.release_legal_hold(uuid);
DROP FUNCTION maturion.place_legal_hold(uuid, text);
DROP TABLE maturion.legal_holds;
DROP FUNCTION maturion.refuse_legal_hold_change();
