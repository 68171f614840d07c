use maturion_maintenance::{maintain_logs, Policy};

use crate::{database, organisation};

#[tokio::test]
async fn the_logs_json_is_stored_with_lz4() {
    let db = database().await;
    let mut admin = db.admin().await;
    maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let alpha = organisation(&db, "Alpha").await;
    // Big enough to be compressed (past the TOAST threshold), in a monthly and in the default partition.
    let big =
        "jsonb_build_object('notes', repeat('the quick brown fox jumps over the lazy dog ', 2000))";
    for at in ["now()", "'2099-01-01'::timestamptz"] {
        admin
            .execute(
                &format!(
                    "INSERT INTO audit_log (organisation_id, \"timestamp\", module, entity_type, entity_id, action, changes) \
                     VALUES ($1, {at}, 'risks', 'risk', gen_random_uuid(), 'updated', {big})"
                ),
                &[&alpha.organisation],
            )
            .await
            .unwrap();
        admin
            .execute(
                &format!(
                    "INSERT INTO event_log (organisation_id, \"timestamp\", event_type, source_module, payload) \
                     VALUES ($1, {at}, 'risk.updated', 'risks', {big})"
                ),
                &[&alpha.organisation],
            )
            .await
            .unwrap();
    }
    let server_default: String = admin
        .query_one("SHOW default_toast_compression", &[])
        .await
        .unwrap()
        .get(0);
    for (table, column) in [("audit_log", "changes"), ("event_log", "payload")] {
        let methods: Vec<(String, Option<String>)> = admin
            .query(&format!("SELECT tableoid::regclass::text, pg_column_compression({column}) FROM {table} ORDER BY 1"), &[])
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        assert_eq!(methods.len(), 2);
        for (partition, method) in methods {
            assert_eq!(
                method.as_deref(),
                Some("lz4"),
                "{partition}.{column} (server default {server_default})"
            );
        }
        // Every partition, and the parent for partitions to come, say lz4.
        let not_lz4: Vec<String> = admin
            .query(
                "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $2 \
                 WHERE (c.oid = $1::text::regclass OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::text::regclass)) \
                   AND a.attcompression <> 'l'",
                &[&table, &column],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert!(not_lz4.is_empty(), "{not_lz4:?}");
    }
}
