//! Event sourcing: permission grants and revocations rebuilt exactly from the event log.

use std::collections::BTreeMap;

use maturion_events::permissions::{self, PermissionKey};
use maturion_tenancy::{Database, ServiceBinder, TenantContext, UserId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::support;
use maturion_testing::{organisation_with_admin, token_for, Tenant, TestDatabase};

/// `count` more users of `tenant`, each with a token, and the tenant's first user: their
/// contexts.
async fn add_users(
    db: &TestDatabase,
    app: &Database,
    tenant: &Tenant,
    count: usize,
) -> Vec<(UserId, TenantContext)> {
    let tx = app.transaction(&tenant.context).await.unwrap();
    let mut users = vec![tenant.user];
    for n in 0..count {
        let user = UserId::generate();
        tx.execute(
            "INSERT INTO users (id, organisation_id, email, full_name, role) VALUES ($1, $2, $3, 'Member', 'member')",
            &[&user, &tenant.organisation, &format!("member{n}@example.org")],
        )
        .await
        .unwrap();
        users.push(user);
    }
    tx.commit().await.unwrap();
    let admin = db.admin().await;
    let mut contexts = Vec::new();
    for user in users {
        let token = token_for(&admin, user).await.unwrap();
        contexts.push((user, TenantContext::new(tenant.organisation, user, token)));
    }
    contexts
}

#[tokio::test]
async fn random_grants_and_revokes_are_rebuilt_exactly_from_the_log() {
    let db = support::database().await;
    let app = support::app(&db, 6);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let beta = organisation_with_admin(&db.admin().await, "Beta")
        .await
        .unwrap();
    let alpha_users = add_users(&db, &app, &alpha, 3).await;
    let beta_users = add_users(&db, &app, &beta, 1).await;
    let modules = ["risks", "policies"];
    let names = ["read", "approve", "admin"];

    let mut rng = StdRng::seed_from_u64(0x4d61_7475);
    // The model: what should be active, with the granting user.
    let mut expected: BTreeMap<PermissionKey, Option<uuid::Uuid>> = BTreeMap::new();
    let mut changes = 0;
    let mut regrants = 0;
    for round in 0..120 {
        // Mostly alpha; beta's events must never leak into alpha's rebuild.
        let (tenant, users) = if round % 7 == 0 {
            (&beta, &beta_users)
        } else {
            (&alpha, &alpha_users)
        };
        let (actor, context) = &users[rng.gen_range(0..users.len())];
        let tx = app.transaction(context).await.unwrap();
        let commit = rng.gen_bool(0.85);
        let mut staged = expected.clone();
        for _ in 0..rng.gen_range(1..=3) {
            let user = users[rng.gen_range(0..users.len())].0;
            let key = PermissionKey {
                user_id: user.as_uuid(),
                module: modules[rng.gen_range(0..modules.len())].to_owned(),
                permission: names[rng.gen_range(0..names.len())].to_owned(),
            };
            let tracked = tenant.organisation == alpha.organisation;
            if rng.gen_bool(0.6) {
                let changed = permissions::grant(&tx, user, &key.module, &key.permission)
                    .await
                    .unwrap();
                if tracked {
                    assert_eq!(
                        changed,
                        !staged.contains_key(&key),
                        "grant reports whether it changed anything"
                    );
                    if changed {
                        staged.insert(key, Some(actor.as_uuid()));
                    }
                }
            } else {
                let changed = permissions::revoke(&tx, user, &key.module, &key.permission)
                    .await
                    .unwrap();
                if tracked {
                    assert_eq!(changed, staged.contains_key(&key));
                    staged.remove(&key);
                }
            }
        }
        if commit {
            tx.commit().await.unwrap();
            if tenant.organisation == alpha.organisation {
                changes += 1;
                regrants += staged.keys().filter(|k| !expected.contains_key(*k)).count();
                expected = staged;
            }
        } else {
            tx.rollback().await.unwrap();
        }
    }
    assert!(
        changes > 50 && regrants > 10,
        "the sequence exercised enough ({changes} commits, {regrants} grants)"
    );

    // Two concurrent transactions on the same permission: they serialise on its row, and the
    // log orders them as they committed.
    let key = ("risks", "approve");
    let user = alpha_users[1].0;
    let setup = app.transaction(&alpha.context).await.unwrap();
    permissions::grant(&setup, user, key.0, key.1)
        .await
        .unwrap();
    setup.commit().await.unwrap();
    let first = app.transaction(&alpha.context).await.unwrap();
    permissions::revoke(&first, user, key.0, key.1)
        .await
        .unwrap();
    permissions::grant(&first, user, key.0, key.1)
        .await
        .unwrap();
    let second = {
        let app = app.clone();
        let context = alpha.context.clone();
        tokio::spawn(async move {
            let tx = app.transaction(&context).await.unwrap();
            // Blocks on the row until `first` commits, then sees it active and revokes it.
            let changed = permissions::revoke(&tx, user, key.0, key.1).await.unwrap();
            tx.commit().await.unwrap();
            changed
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    first.commit().await.unwrap();
    assert!(second.await.unwrap());
    expected.remove(&PermissionKey {
        user_id: user.as_uuid(),
        module: key.0.into(),
        permission: key.1.into(),
    });

    let tx = app.transaction(&alpha.context).await.unwrap();
    let table = permissions::active(&tx).await.unwrap();
    let rebuilt = permissions::rebuild(&tx).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(table, expected, "the table matches the model");
    assert_eq!(rebuilt, table, "the log rebuilds the table exactly");

    let tx = app.transaction(&beta.context).await.unwrap();
    assert_eq!(
        permissions::rebuild(&tx).await.unwrap(),
        permissions::active(&tx).await.unwrap()
    );
}

#[tokio::test]
async fn a_grant_needs_an_acting_user() {
    let db = support::database().await;
    let app = support::app(&db, 2);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    // The platform's service acts for the organisation: a transaction without a user.
    let maintenance = db.admin().await;
    maintenance
        .batch_execute("SET ROLE maturion_maintenance")
        .await
        .unwrap();
    let service = TenantContext::service(alpha.organisation, ServiceBinder::new(maintenance));
    let tx = app.transaction(&service).await.unwrap();
    let error = permissions::grant(&tx, alpha.user, "risks", "read")
        .await
        .unwrap_err();
    assert!(
        matches!(error, maturion_events::EventError::MissingActor(_)),
        "{error}"
    );
}

#[tokio::test]
async fn the_platform_log_check_passes_real_changes_and_dead_letters_one_that_bypassed_the_log() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let users = add_users(&db, &app, &alpha, 1).await;
    let (member, _) = users[1].clone();
    let maintenance = support::maintenance(&db).await;
    let subscription = permissions::log_check_subscription().retries(
        1,
        std::time::Duration::from_millis(10),
        std::time::Duration::from_millis(10),
    );
    maturion_events::subscribe(&maintenance, &subscription)
        .await
        .unwrap();
    let mut worker = maturion_events::Worker::new(
        &support::admin_url(&db),
        app.clone(),
        permissions::LOG_CHECK_SUBSCRIPTION,
        permissions::LogCheck,
        maturion_events::WorkerOptions::default(),
    )
    .await
    .unwrap();

    let tx = app.transaction(&alpha.context).await.unwrap();
    assert!(permissions::grant(&tx, member, "risks", "read")
        .await
        .unwrap());
    assert!(permissions::grant(&tx, member, "risks", "write")
        .await
        .unwrap());
    tx.commit().await.unwrap();
    let tx = app.transaction(&alpha.context).await.unwrap();
    assert!(permissions::revoke(&tx, member, "risks", "write")
        .await
        .unwrap());
    tx.commit().await.unwrap();
    let round = worker.run_once().await.unwrap();
    assert_eq!((round.delivered, round.dead_lettered), (3, 0), "{round:?}");

    // A grant, then, before its event is delivered, an operator removes it with the
    // publishing trigger off: the table now says what no event says.
    let tx = app.transaction(&alpha.context).await.unwrap();
    assert!(permissions::grant(&tx, member, "risks", "admin")
        .await
        .unwrap());
    tx.commit().await.unwrap();
    let admin = db.admin().await;
    admin
        .batch_execute(
            "ALTER TABLE user_permissions DISABLE TRIGGER publish_permission_change;
             UPDATE user_permissions SET deleted_at = now() WHERE permission = 'admin';
             ALTER TABLE user_permissions ENABLE TRIGGER publish_permission_change;",
        )
        .await
        .unwrap();
    let round = worker.run_once().await.unwrap();
    assert_eq!((round.delivered, round.dead_lettered), (0, 1), "{round:?}");
    let letters = maturion_events::dead_letters(
        &maintenance,
        Some(permissions::LOG_CHECK_SUBSCRIPTION),
        false,
    )
    .await
    .unwrap();
    let expected = format!(
        "admin of user {member} differs: the event log says active, granted by {}, user_permissions says not active",
        alpha.user
    );
    assert_eq!(
        letters
            .iter()
            .map(|l| l.last_error.as_str())
            .collect::<Vec<_>>(),
        [expected.as_str()]
    );
}
