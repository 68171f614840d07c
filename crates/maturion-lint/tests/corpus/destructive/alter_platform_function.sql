-- expect: ban-platform-function-change
ALTER FUNCTION maturion.record_view(text, text, uuid) SECURITY DEFINER;
