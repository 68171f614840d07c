//! The module as a whole: its migrations pass the module lint, run as a module's (their own
//! scope, revertible), pass `maturion check`, and its table is one the attack tests walk.

use std::path::Path;

use crate::{bound, new_policy, tenant};
use maturion_check::{check, CheckOptions};
use maturion_migrate::{MigrationSet, Migrator};

#[test]
fn the_migrations_pass_the_module_lint_and_can_be_reverted() {
    let set = maturion_policies::migrations();
    assert_eq!(set.scope, maturion_policies::MODULE);
    assert!(!set.migrations.is_empty());
    for m in &set.migrations {
        assert!(m.down.is_some(), "{} has no down.sql", m.folder_name());
        let findings =
            maturion_lint::lint_as(&m.up, m.kind(), maturion_lint::Scope::Module).unwrap();
        assert!(
            findings.is_empty(),
            "{} fails the module lint: {:?}",
            m.folder_name(),
            findings
                .iter()
                .map(|f| f.render(Path::new("up.sql")))
                .collect::<Vec<_>>()
        );
    }
    // `maturion migrate up --dir crates/maturion-policies/migrations` reads the same set.
    let from_folder = MigrationSet::from_dir(
        maturion_policies::MODULE,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"),
    )
    .unwrap();
    assert_eq!(from_folder.fingerprint(), set.fingerprint());
}

#[tokio::test]
async fn the_platform_with_the_module_passes_maturion_check() {
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    let report = check(&admin, &CheckOptions::default()).await.unwrap();
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    // The patterns were switched on from the table's shape, the audit trail for its module.
    let triggers: Vec<String> = admin
        .query(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger \
             WHERE tgrelid = 'policies'::regclass AND NOT tgisinternal ORDER BY tgname",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let expected = [
        "audit_trail AFTER INSERT OR DELETE OR UPDATE ON public.policies FOR EACH ROW EXECUTE FUNCTION maturion.audit_trail('policies'",
        "require_tenant_context BEFORE INSERT OR DELETE OR UPDATE ON public.policies FOR EACH STATEMENT",
        "retention BEFORE INSERT OR DELETE OR UPDATE ON public.policies FOR EACH ROW EXECUTE FUNCTION maturion.keep_retained_rows()",
        "stamp_audit_fields BEFORE INSERT OR UPDATE ON public.policies FOR EACH ROW",
        "versioning BEFORE INSERT OR UPDATE ON public.policies FOR EACH ROW EXECUTE FUNCTION maturion.keep_versions()",
        "workflow BEFORE INSERT OR UPDATE ON public.policies FOR EACH ROW EXECUTE FUNCTION maturion.enforce_workflow('draft', 'draft>pending_review'",
    ];
    assert_eq!(triggers.len(), expected.len(), "{triggers:#?}");
    for (trigger, expected) in triggers.iter().zip(expected) {
        assert!(trigger.contains(expected), "{trigger} is not {expected}");
    }
}

#[tokio::test]
async fn the_module_is_its_own_scope_and_reverts_cleanly() {
    let db = maturion_testing::migrated_database().await;
    let mut admin = db.admin().await;
    let set = maturion_policies::migrations();
    let migrator = Migrator::new(&set, maturion_platform::migration_options(&set));
    let latest = set.latest().unwrap().clone();
    let scoped: Vec<String> = admin
        .query(
            "SELECT version FROM maturion_migrations.schema_migrations WHERE scope = $1 ORDER BY version",
            &[&maturion_policies::MODULE],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(scoped.last(), Some(&latest.to_string()));

    migrator
        .down(&mut admin, &semver::Version::new(0, 0, 0))
        .await
        .unwrap();
    let table: Option<String> = admin
        .query_one("SELECT to_regclass('public.policies')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(table, None);
    assert_eq!(
        migrator.up(&mut admin, None).await.unwrap().len(),
        set.migrations.len()
    );
    let report = check(&admin, &CheckOptions::default()).await.unwrap();
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
}

/// The catalog query the binding attacks walk (`maturion-schema`'s `tests/it/binding.rs`)
/// finds the module's table, and an attacker bound to another organisation reaches none of
/// its rows, whichever id it names and whichever helper it calls.
#[tokio::test]
async fn the_attack_tests_reach_the_module_table_and_it_holds() {
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    let walked: Vec<String> = admin
        .query(
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid \
             WHERE c.relrowsecurity AND NOT c.relispartition AND a.attname = 'organisation_id' \
               AND has_table_privilege($1, c.oid, 'SELECT')",
            &[&maturion_schema::APP_ROLE],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(walked.contains(&"policies".to_owned()), "{walked:?}");

    let alpha = tenant(&db, "Alpha").await;
    let beta = tenant(&db, "Beta").await;
    let owner = bound(&db, &beta).await;
    let betas = new_policy(&owner, &beta, "Beta's secret policy", "Confidential.", "en").await;
    owner.batch_execute("COMMIT").await.unwrap();
    let snapshot = "SELECT md5(string_agg(p::text, '|' ORDER BY id)) FROM policies p";
    let before: String = admin.query_one(snapshot, &[]).await.unwrap().get(0);

    let attacker = bound(&db, &alpha).await;
    for sql in [
        format!("SELECT id FROM policies WHERE id = '{betas}'"),
        format!("SELECT id FROM maturion.version_history('policies', '{betas}')"),
        "SELECT id FROM policies WHERE maturion.search_matches(search_vector, language, 'secret')".to_owned(),
        format!("UPDATE policies SET status = 'pending_review' WHERE id = '{betas}' RETURNING id"),
        format!("UPDATE policies SET deleted_at = now() WHERE id = '{betas}' RETURNING id"),
        format!("SELECT maturion.create_next_version('policies', '{betas}', '{{\"content\": \"Mine.\"}}')"),
        format!(
            "INSERT INTO policies (organisation_id, title, parent_version_id) VALUES ('{}', 'Fork', '{betas}') RETURNING id",
            alpha.organisation
        ),
    ] {
        attacker.batch_execute("SAVEPOINT attack").await.unwrap();
        match attacker.query(&sql, &[]).await {
            Ok(rows) => assert!(rows.is_empty(), "{sql} returned {} row(s)", rows.len()),
            Err(error) => {
                let code = error.code().map(|c| c.code().to_owned()).unwrap_or_default();
                assert!(["P0002", "MT412"].contains(&code.as_str()), "{sql}: {error:?}");
            }
        }
        attacker.batch_execute("ROLLBACK TO SAVEPOINT attack").await.unwrap();
    }
    attacker.batch_execute("COMMIT").await.unwrap();
    let after: String = admin.query_one(snapshot, &[]).await.unwrap().get(0);
    assert_eq!(after, before);
}
