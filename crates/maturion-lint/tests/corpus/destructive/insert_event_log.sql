-- expect: ban-log-table-change
-- A permission.granted nobody made, replayed as truth by the permission rebuild.
INSERT INTO event_log (organisation_id, event_type, source_module, payload)
VALUES ('00000000-0000-0000-0000-000000000001', 'permission.granted', 'risks', '{}');
