//! A superuser who switches the guards off and changes, deletes or forges audit rows is caught
//! by `verify`, at the right row, every time.

use maturion_audit::{BreakKind, VerifyReport};
use maturion_tenancy::OrganisationId;
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::support::{self, activity, provision, Tenant};

/// Runs `sql` as the superuser with the guard trigger off, then puts the guard back.
async fn tamper(admin: &Client, sql: &str, params: &[&(dyn ToSql + Sync)]) {
    admin
        .batch_execute("BEGIN; ALTER TABLE audit_log_default DISABLE TRIGGER audit_log_append_only")
        .await
        .unwrap();
    admin
        .execute(sql, params)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    admin
        .batch_execute(
            "ALTER TABLE audit_log_default ENABLE ALWAYS TRIGGER audit_log_append_only; COMMIT",
        )
        .await
        .unwrap();
}

struct Fixture {
    db: maturion_testing::TestDatabase,
    admin: Client,
    maintenance: Client,
    alpha: Tenant,
    beta: Tenant,
    /// Every sealed row: id, organisation, transaction id.
    sealed: Vec<(Uuid, Uuid, i64)>,
}

/// Two organisations, sealed in several seals, and a few rows written after the last seal.
async fn fixture() -> Fixture {
    let db = support::database().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    let beta = provision(&db, "Beta").await;
    activity(&app, &alpha, 6).await;
    activity(&app, &beta, 2).await;
    let tx = app.transaction(&alpha.context).await.unwrap();
    maturion_audit::record_view(&tx, "platform", "users", alpha.user.as_uuid())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let maintenance = support::maintenance(&db).await;
    let sealed = support::seal_with(&maintenance, 5).await;
    assert!(sealed.seals.len() >= 3, "{sealed:?}");
    activity(&app, &beta, 1).await;
    let admin = db.admin().await;
    let sealed = admin
        .query(
            "SELECT id, organisation_id, transaction_id FROM audit_log \
             WHERE transaction_id < (SELECT max(xid_to) FROM maturion.audit_seals) ORDER BY transaction_id, timestamp, id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let fixture = Fixture {
        db,
        admin,
        maintenance,
        alpha,
        beta,
        sealed,
    };
    let report = verify(&fixture, None).await;
    assert!(report.intact, "{}", report.render_human());
    assert_eq!(report.rows_unsealed, 2);
    fixture
}

async fn verify(fixture: &Fixture, organisation: Option<Uuid>) -> VerifyReport {
    maturion_audit::verify(
        &fixture.maintenance,
        organisation.map(OrganisationId::from_uuid),
    )
    .await
    .unwrap()
}

/// Exactly one break, of `kind`, at row `id`.
fn assert_caught(report: &VerifyReport, kind: BreakKind, id: Uuid, what: &str) {
    assert!(!report.intact, "{what}: not detected");
    assert_eq!(report.break_count, 1, "{what}: {}", report.render_human());
    let first = report.first_break().unwrap();
    assert_eq!(first.kind, kind, "{what}: {}", report.render_human());
    assert_eq!(
        first.row.as_ref().map(|r| r.id),
        Some(id),
        "{what}: {}",
        report.render_human()
    );
    assert!(first.seal.is_some(), "{what}: the break names its seal");
}

/// Every sealed row, one at a time: one byte of `changes` flipped, the row deleted, a forged
/// row inserted beside it. Each is caught at that row; the chain is intact again once undone.
#[tokio::test]
async fn every_change_deletion_and_insertion_of_a_sealed_row_is_caught() {
    let f = fixture().await;
    let mut caught = 0;
    for (id, organisation, transaction) in f.sealed.clone() {
        // Flip one byte: the first character of the first key inside `changes` (XOR 1 keeps
        // it a character that is valid there), or of the user agent of a row without changes.
        tamper(
            &f.admin,
            "UPDATE audit_log SET \
               changes = CASE WHEN changes IS NULL THEN NULL ELSE overlay(changes::text PLACING \
                 chr(ascii(substr(changes::text, strpos(changes::text, '\"') + 1, 1)) # 1) \
                 FROM strpos(changes::text, '\"') + 1 FOR 1)::jsonb END, \
               user_agent = CASE WHEN changes IS NULL THEN overlay(user_agent PLACING chr(ascii(user_agent) # 1) FROM 1 FOR 1) \
                 ELSE user_agent END \
             WHERE id = $1",
            &[&id],
        )
        .await;
        assert_caught(
            &verify(&f, None).await,
            BreakKind::RowChanged,
            id,
            "flipped byte",
        );
        let own = verify(&f, Some(organisation)).await;
        assert_caught(
            &own,
            BreakKind::RowChanged,
            id,
            "flipped byte, own organisation",
        );
        let other = if organisation == f.alpha.organisation.as_uuid() {
            f.beta.organisation.as_uuid()
        } else {
            f.alpha.organisation.as_uuid()
        };
        assert!(
            verify(&f, Some(other)).await.intact,
            "another organisation's rows are untouched"
        );
        tamper(
            &f.admin,
            "UPDATE audit_log SET \
               changes = CASE WHEN changes IS NULL THEN NULL ELSE overlay(changes::text PLACING \
                 chr(ascii(substr(changes::text, strpos(changes::text, '\"') + 1, 1)) # 1) \
                 FROM strpos(changes::text, '\"') + 1 FOR 1)::jsonb END, \
               user_agent = CASE WHEN changes IS NULL THEN overlay(user_agent PLACING chr(ascii(user_agent) # 1) FROM 1 FOR 1) \
                 ELSE user_agent END \
             WHERE id = $1",
            &[&id],
        )
        .await;
        assert!(
            verify(&f, None).await.intact,
            "flipping back restores the row"
        );
        caught += 1;

        // Delete it (keeping a copy to put back).
        f.admin
            .execute(
                "CREATE TEMP TABLE saved AS SELECT * FROM audit_log WHERE id = $1",
                &[&id],
            )
            .await
            .unwrap();
        tamper(&f.admin, "DELETE FROM audit_log WHERE id = $1", &[&id]).await;
        assert_caught(
            &verify(&f, None).await,
            BreakKind::RowMissing,
            id,
            "deleted row",
        );
        assert_caught(
            &verify(&f, Some(organisation)).await,
            BreakKind::RowMissing,
            id,
            "deleted row, own organisation",
        );
        tamper(&f.admin, "INSERT INTO audit_log SELECT * FROM saved", &[]).await;
        f.admin.batch_execute("DROP TABLE saved").await.unwrap();
        assert!(
            verify(&f, None).await.intact,
            "putting the row back restores the chain"
        );
        caught += 1;

        // Forge a row in the same transaction (so inside the same seal's range).
        let forged = Uuid::now_v7();
        tamper(
            &f.admin,
            "INSERT INTO audit_log (id, organisation_id, module, entity_type, entity_id, action, transaction_id) \
             VALUES ($1, $2, 'platform', 'users', $2, 'viewed', $3)",
            &[&forged, &organisation, &transaction],
        )
        .await;
        assert_caught(
            &verify(&f, None).await,
            BreakKind::RowInserted,
            forged,
            "forged row",
        );
        assert_caught(
            &verify(&f, Some(organisation)).await,
            BreakKind::RowInserted,
            forged,
            "forged row, own organisation",
        );
        tamper(&f.admin, "DELETE FROM audit_log WHERE id = $1", &[&forged]).await;
        assert!(verify(&f, None).await.intact);
        caught += 1;
    }
    assert_eq!(caught, 3 * f.sealed.len());
    assert!(f.sealed.len() >= 20, "{} sealed rows", f.sealed.len());
}

#[tokio::test]
async fn a_break_report_names_the_first_broken_link_and_counts_the_rest() {
    let f = fixture().await;
    let (early, _, _) = f.sealed[1];
    let (late, _, _) = f.sealed[f.sealed.len() - 1];
    tamper(&f.admin, "DELETE FROM audit_log WHERE id = $1", &[&late]).await;
    tamper(
        &f.admin,
        "UPDATE audit_log SET user_agent = 'forged agent' WHERE id = $1",
        &[&early],
    )
    .await;
    let report = verify(&f, None).await;
    assert_eq!(report.break_count, 2, "{}", report.render_human());
    assert_eq!(
        report.first_break().unwrap().row.as_ref().unwrap().id,
        early,
        "chain order: the earlier seal first"
    );
    let text = report.render_human();
    assert!(
        text.contains("BROKEN: 2 break(s)") && text.contains("first broken link: seal 1"),
        "{text}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["breaks"][0]["kind"], "row-changed");
    assert_eq!(json["breaks"][1]["kind"], "row-missing");
    assert_eq!(json["intact"], false);
}

#[tokio::test]
async fn rows_no_seal_can_cover_are_breaks() {
    let f = fixture().await;
    let future = Uuid::now_v7();
    let unsealable = Uuid::now_v7();
    for (id, transaction) in [(future, Some(i64::MAX / 2)), (unsealable, None)] {
        tamper(
            &f.admin,
            "INSERT INTO audit_log (id, organisation_id, module, entity_type, entity_id, action, transaction_id) \
             VALUES ($1, $2, 'platform', 'users', $2, 'viewed', $3)",
            &[&id, &f.alpha.organisation, &transaction],
        )
        .await;
    }
    let report = verify(&f, None).await;
    let kinds: Vec<(BreakKind, Uuid)> = report
        .breaks
        .iter()
        .map(|b| (b.kind, b.row.as_ref().unwrap().id))
        .collect();
    assert_eq!(kinds.len(), 2, "{}", report.render_human());
    assert!(
        kinds.contains(&(BreakKind::FutureTransaction, future)),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(BreakKind::UnsealableRow, unsealable)),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn tampering_with_the_seals_themselves_is_caught() {
    let f = fixture().await;
    let switch = |table: &str, on: bool| {
        let trigger = format!("{}_append_only", table.trim_start_matches("maturion."));
        if on {
            format!("ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}")
        } else {
            format!("ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        }
    };
    let attack = |sql: &'static str| {
        let admin = &f.admin;
        let (off, on) = (
            switch("maturion.audit_seals", false),
            switch("maturion.audit_seals", true),
        );
        let (org_off, org_on) = (
            switch("maturion.audit_seal_organisations", false),
            switch("maturion.audit_seal_organisations", true),
        );
        async move {
            admin
                .batch_execute(&format!(
                    "BEGIN; {off}; {org_off}; {sql}; {org_on}; {on}; COMMIT"
                ))
                .await
                .unwrap();
        }
    };

    // A seal's row count changed: its digest no longer matches.
    attack("UPDATE maturion.audit_seals SET row_count = row_count + 1 WHERE seq = 2").await;
    let report = verify(&f, None).await;
    assert_eq!(
        report.first_break().map(|b| (b.kind, b.seal)),
        Some((BreakKind::SealDigest, Some(2))),
        "{}",
        report.render_human()
    );
    attack("UPDATE maturion.audit_seals SET row_count = row_count - 1 WHERE seq = 2").await;
    assert!(verify(&f, None).await.intact);

    // One bit of an organisation's row index flipped: its digest no longer matches.
    let flip = "UPDATE maturion.audit_seal_organisations SET row_index = set_byte(row_index, 29, get_byte(row_index, 29) # 1) \
                WHERE seal_seq = 1 AND organisation_id = \
                  (SELECT organisation_id FROM maturion.audit_seal_organisations WHERE seal_seq = 1 ORDER BY 1 LIMIT 1)";
    attack(flip).await;
    let report = verify(&f, None).await;
    assert_eq!(
        report.first_break().map(|b| (b.kind, b.seal)),
        Some((BreakKind::OrganisationIndex, Some(1))),
        "{}",
        report.render_human()
    );
    attack(flip).await;
    assert!(verify(&f, None).await.intact);

    // The last seal removed: the rows it covered show as unsealed, and nothing else breaks,
    // which is why the head digest should be kept elsewhere too.
    let head = maturion_audit::verify(&f.maintenance, None)
        .await
        .unwrap()
        .head
        .unwrap();
    attack("DELETE FROM maturion.audit_seal_organisations WHERE seal_seq = (SELECT max(seq) FROM maturion.audit_seals)").await;
    attack(
        "DELETE FROM maturion.audit_seals WHERE seq = (SELECT max(seq) FROM maturion.audit_seals)",
    )
    .await;
    let report = verify(&f, None).await;
    assert!(report.intact, "{}", report.render_human());
    assert!(report.rows_unsealed > 2);
    // Only a digest kept elsewhere shows the cut.
    let anchor: maturion_audit::Anchor = format!("{}:{}", head.seq, head.digest).parse().unwrap();
    let report = maturion_audit::verify_anchored(&f.maintenance, None, &[anchor])
        .await
        .unwrap();
    assert_eq!(
        report.first_break().map(|b| (b.kind, b.seal)),
        Some((BreakKind::AnchorMismatch, Some(head.seq)))
    );
    let kept: maturion_audit::Anchor = format!("1:{}", hex_digest_of_seal(&f.admin, 1).await)
        .parse()
        .unwrap();
    assert!(
        maturion_audit::verify_anchored(&f.maintenance, None, &[kept])
            .await
            .unwrap()
            .intact
    );
    assert!("1:abc".parse::<maturion_audit::Anchor>().is_err());
}

async fn hex_digest_of_seal(admin: &Client, seq: i64) -> String {
    admin
        .query_one(
            "SELECT encode(digest, 'hex') FROM maturion.audit_seals WHERE seq = $1",
            &[&seq],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_seal_removed_from_the_middle_breaks_the_chain() {
    let f = fixture().await;
    f.admin
        .batch_execute(
            "BEGIN;
             ALTER TABLE maturion.audit_seals DISABLE TRIGGER audit_seals_append_only;
             DELETE FROM maturion.audit_seals WHERE seq = 2;
             ALTER TABLE maturion.audit_seals ENABLE ALWAYS TRIGGER audit_seals_append_only;
             COMMIT;",
        )
        .await
        .unwrap();
    let report = verify(&f, None).await;
    let first = report.first_break().unwrap();
    assert_eq!(
        (first.kind, first.seal),
        (BreakKind::SequenceGap, Some(3)),
        "{}",
        report.render_human()
    );
    assert!(
        report
            .breaks
            .iter()
            .any(|b| b.kind == BreakKind::BrokenLink),
        "{}",
        report.render_human()
    );
    drop(f.db);
}

/// Whatever column of a sealed row a superuser changes, verify reports the chain broken; put
/// back, it is intact again.
#[tokio::test]
async fn a_change_to_any_column_of_a_sealed_row_is_caught() {
    let f = fixture().await;
    let (id, _, _) = f.sealed[f.sealed.len() / 2];
    let replacement_id = Uuid::now_v7();
    let changes = [
        format!("organisation_id = '{}'", f.beta.organisation),
        "\"timestamp\" = \"timestamp\" + interval '1 microsecond'".to_owned(),
        format!("user_id = '{}'", Uuid::now_v7()),
        "module = module || 'x'".to_owned(),
        "entity_type = entity_type || 'x'".to_owned(),
        format!("entity_id = '{}'", Uuid::now_v7()),
        "action = CASE action WHEN 'updated' THEN 'deleted' ELSE 'updated' END".to_owned(),
        "changes = coalesce(changes, '{}') || '{\"forged\": true}'".to_owned(),
        "ip_address = '203.0.113.99'".to_owned(),
        "user_agent = coalesce(user_agent, '') || 'x'".to_owned(),
        "transaction_id = transaction_id + 1".to_owned(),
        format!("id = '{replacement_id}'"),
    ];
    f.admin
        .execute(
            "CREATE TEMP TABLE original AS SELECT * FROM audit_log WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    for change in &changes {
        tamper(
            &f.admin,
            &format!("UPDATE audit_log SET {change} WHERE id = $1"),
            &[&id],
        )
        .await;
        let report = verify(&f, None).await;
        assert!(!report.intact, "{change}: not detected");
        assert!(
            report.first_break().unwrap().seal.is_some(),
            "{change}: {}",
            report.render_human()
        );
        let tampered = if change.starts_with("id =") {
            replacement_id
        } else {
            id
        };
        tamper(
            &f.admin,
            "DELETE FROM audit_log WHERE id = $1",
            &[&tampered],
        )
        .await;
        f.admin
            .execute("INSERT INTO audit_log SELECT * FROM original", &[])
            .await
            .unwrap();
        assert!(
            verify(&f, None).await.intact,
            "{change}: putting the row back restores the chain"
        );
    }
}
