//! The bus attacked by the runtime roles: sessions of `maturion_app` and `maturion_readonly`,
//! bound to organisation A (or not bound at all), running SQL of the attacker's choosing.
//! Direct writes and COPY into every bus table, forged permission events, events for
//! organisation B, every setting the platform's functions read, early and rolled-back commit
//! ordering, another organisation's leases, forged wake-ups, and every function the roles may
//! call fed with the other organisation's ids. Tables and functions come from the catalog, so
//! a new one is attacked without a change here. Whatever the attacker does, every committed
//! event is delivered exactly once and nothing of the other organisation changes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use maturion_events::{permissions, EventError, NewEvent, Subscription, WorkerOptions};
use maturion_tenancy::TenancyError;
use maturion_testing::{organisation_with_admin, Tenant, TestDatabase};
use tokio_postgres::{AsyncMessage, Client, NoTls, SimpleQueryMessage};
use uuid::Uuid;

use crate::support::{self, payload_n, Recorder};

const RUNTIME_ROLES: [&str; 2] = [maturion_schema::APP_ROLE, maturion_schema::READONLY_ROLE];
const DENIED: &str = "42501";
const UNBOUND: &str = "MT401";

/// A publish of one `risk.created` event, as an attacker writes it.
const PUBLISH: &str = "SELECT maturion.publish_events(ARRAY[gen_random_uuid()], ARRAY['risk.created'], \
     ARRAY['risks'], ARRAY[NULL]::text[], ARRAY[NULL]::uuid[], ARRAY[NULL]::text[], ARRAY[NULL]::text[], \
     ARRAY[NULL]::uuid[], ARRAY[NULL]::jsonb[])";

async fn two_tenants(db: &TestDatabase) -> (Tenant, Tenant) {
    let admin = db.admin().await;
    let alpha = organisation_with_admin(&admin, "Alpha").await.unwrap();
    let beta = organisation_with_admin(&admin, "Beta").await.unwrap();
    (alpha, beta)
}

fn bind(tenant: &Tenant) -> String {
    format!("SELECT maturion.bind_tenant('{}')", tenant.token.expose())
}

/// Runs `sql` in a transaction after `preamble` and commits what did not fail: the first
/// column of the rows `sql` returned, or the SQLSTATE it (or the commit) failed with.
async fn attempt(session: &Client, preamble: &str, sql: &str) -> Result<Vec<String>, String> {
    session.batch_execute("BEGIN").await.unwrap();
    let outcome = match session.batch_execute(preamble).await {
        Ok(()) => session.simple_query(sql).await,
        Err(error) => Err(error),
    };
    let committed = match outcome {
        Ok(messages) => session.batch_execute("COMMIT").await.map(|()| messages),
        Err(error) => {
            session.batch_execute("ROLLBACK").await.unwrap();
            Err(error)
        }
    };
    committed
        .map(|messages| {
            messages
                .into_iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("NULL").to_owned()),
                    _ => None,
                })
                .collect()
        })
        .map_err(|e| {
            e.code()
                .map(|c| c.code().to_owned())
                .unwrap_or_else(|| e.to_string())
        })
}

/// Every table of the bus, from the catalog: event_log (its partitions and rollups too) and
/// the bookkeeping in schema maturion.
async fn bus_tables(admin: &Client) -> Vec<(String, String)> {
    admin
        .query(
            "SELECT c.oid::regclass::text, \
                    (SELECT a.attname::text FROM pg_attribute a \
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum LIMIT 1) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') \
               AND ((n.nspname = 'maturion' AND c.relname LIKE 'event\\_%') \
                    OR (n.nspname = 'public' AND c.relname LIKE 'event\\_log%')) \
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// Everything `tenant` has in every table that names an organisation (the bus's bookkeeping
/// included), read by the superuser: one line per table.
async fn fingerprint(admin: &Client, tenant: &Tenant) -> BTreeMap<String, String> {
    let tables: Vec<(String, String)> = admin
        .query(
            "SELECT c.oid::regclass::text, a.attname::text \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.oid \
             WHERE n.nspname IN ('public', 'maturion') AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
               AND a.attname = CASE WHEN c.oid = 'public.organisations'::regclass THEN 'id' ELSE 'organisation_id' END \
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert!(tables.len() > 10, "{tables:?}");
    let mut lines = BTreeMap::new();
    for (table, column) in tables {
        let row = admin
            .query_one(
                &format!(
                    "SELECT count(*)::text || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') \
                     FROM {table} t WHERE {column} = $1"
                ),
                &[&tenant.organisation],
            )
            .await
            .unwrap();
        lines.insert(table, row.get(0));
    }
    lines
}

#[tokio::test]
async fn every_bus_table_refuses_direct_writes_and_copy() {
    let db = support::database().await;
    let admin = db.admin().await;
    let (alpha, beta) = two_tenants(&db).await;
    let app = support::app(&db, 1);
    support::subscribe(&db, &Subscription::new("all", &["*"])).await;
    support::publish(&app, &alpha, "risk.created", 1).await;
    support::publish(&app, &beta, "risk.created", 1).await;
    let tables = bus_tables(&admin).await;
    for expected in ["event_log", "event_log_default", "maturion.event_commits"] {
        assert!(tables.iter().any(|(t, _)| t == expected), "{tables:?}");
    }
    let before = [
        fingerprint(&admin, &alpha).await,
        fingerprint(&admin, &beta).await,
    ];

    for role in RUNTIME_ROLES {
        let attacker = db.connect(role).await;
        for preamble in [bind(&alpha), String::new()] {
            for (table, column) in &tables {
                for sql in [
                    format!("INSERT INTO {table} DEFAULT VALUES"),
                    format!("INSERT INTO {table} SELECT * FROM {table}"),
                    format!("UPDATE {table} SET {column} = {column}"),
                    format!("DELETE FROM {table}"),
                    format!("TRUNCATE {table}"),
                    format!("COPY {table} FROM PROGRAM 'true'"),
                    // Refused before the server would ask for data (a CopyInResponse would fail
                    // this test too: the client does not expect one here).
                    format!("COPY {table} FROM STDIN"),
                ] {
                    assert_eq!(
                        attempt(&attacker, &preamble, &sql).await,
                        Err(DENIED.to_owned()),
                        "{role} ({preamble:?}): {sql}"
                    );
                }
            }
        }
    }
    let after = [
        fingerprint(&admin, &alpha).await,
        fingerprint(&admin, &beta).await,
    ];
    assert_eq!(after, before);
}

/// The permission events of `tenant`: type, publishing user, payload actor.
async fn permission_events(
    admin: &Client,
    tenant: &Tenant,
) -> Vec<(String, Option<Uuid>, Option<String>)> {
    admin
        .query(
            "SELECT event_type, published_by, payload->>'actor' FROM event_log \
             WHERE organisation_id = $1 AND event_type LIKE 'permission.%' ORDER BY id",
            &[&tenant.organisation],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

#[tokio::test]
async fn permission_events_come_only_from_the_changes_they_describe() {
    let db = support::database().await;
    let admin = db.admin().await;
    let (alpha, beta) = two_tenants(&db).await;
    let app = support::app(&db, 2);
    let a_user = alpha.user.as_uuid();

    // Forged through the publisher, by type or by posing as the platform.
    for (event_type, module) in [
        ("permission.granted", "risks"),
        ("permission.revoked", "platform"),
        ("permission.anything", "risks"),
        ("risk.created", "platform"),
    ] {
        let tx = app.transaction(&alpha.context).await.unwrap();
        let forged = NewEvent::new(event_type, module).payload(serde_json::json!({
            "user_id": a_user, "module": "risks", "permission": "admin", "actor": a_user,
            "permission_id": Uuid::now_v7(),
        }));
        let error = maturion_events::publish(&tx, &forged).await.unwrap_err();
        assert!(
            matches!(
                error,
                EventError::Tenancy(TenancyError::PermissionDenied(_))
            ),
            "{event_type} from {module}: {error}"
        );
    }
    // …and by hand, as both roles.
    let forged_row = format!(
        "INSERT INTO event_log (organisation_id, event_type, source_module, payload) VALUES ('{}', \
         'permission.granted', 'platform', jsonb_build_object('user_id', '{a_user}', 'module', 'risks', \
         'permission', 'admin', 'actor', '{a_user}', 'permission_id', gen_random_uuid()))",
        alpha.organisation
    );
    for role in RUNTIME_ROLES {
        let attacker = db.connect(role).await;
        for sql in [
            forged_row.clone(),
            PUBLISH.replace("'risk.created'", "'permission.granted'"),
            PUBLISH.replace("'risks'", "'platform'"),
            "SELECT maturion.insert_permission_event('permission.granted', u, NULL, NULL) \
             FROM user_permissions u"
                .to_owned(),
            "SELECT maturion.publish_permission_change()".to_owned(),
        ] {
            assert_eq!(
                attempt(&attacker, &bind(&alpha), &sql).await,
                Err(DENIED.to_owned()),
                "{role}: {sql}"
            );
        }
        // A grant is made in the bound user's name only, not in a colleague's.
        let in_another_name = format!(
            "WITH colleague AS (INSERT INTO users (organisation_id, email, full_name, role) \
             VALUES ('{0}', 'colleague@alpha.example', 'Colleague', 'member') RETURNING id) \
             INSERT INTO user_permissions (organisation_id, user_id, module, permission, granted_by) \
             SELECT '{0}', '{a_user}', 'risks', 'read', id FROM colleague",
            alpha.organisation
        );
        let refused = if role == maturion_schema::APP_ROLE {
            "MT403"
        } else {
            DENIED
        };
        assert_eq!(
            attempt(&attacker, &bind(&alpha), &in_another_name).await,
            Err(refused.to_owned()),
            "{role}"
        );
    }
    assert_eq!(permission_events(&admin, &alpha).await, []);
    // A grant that names no grantor is the bound user's.
    let tx = app.transaction(&alpha.context).await.unwrap();
    let grantor: Option<Uuid> = tx
        .query_one(
            "INSERT INTO user_permissions (organisation_id, user_id, module, permission) \
             VALUES ($1, $2, 'risks', 'read') RETURNING granted_by",
            &[&alpha.organisation, &a_user],
        )
        .await
        .unwrap()
        .get(0);
    tx.rollback().await.unwrap();
    assert_eq!(grantor, Some(a_user));

    // Real changes publish, in the bound user's name…
    let tx = app.transaction(&alpha.context).await.unwrap();
    assert!(permissions::grant(&tx, alpha.user, "risks", "approve")
        .await
        .unwrap());
    tx.commit().await.unwrap();
    let tx = app.transaction(&alpha.context).await.unwrap();
    assert!(permissions::revoke(&tx, alpha.user, "risks", "approve")
        .await
        .unwrap());
    assert!(permissions::grant(&tx, alpha.user, "risks", "approve")
        .await
        .unwrap());
    tx.commit().await.unwrap();
    // …and an operator's (no binding) as the platform service's, leaving no binding behind.
    admin.batch_execute("BEGIN").await.unwrap();
    admin
        .execute(
            "UPDATE user_permissions SET deleted_at = now() WHERE organisation_id = $1 AND deleted_at IS NULL",
            &[&alpha.organisation],
        )
        .await
        .unwrap();
    let left: String = admin
        .query_one(
            "SELECT coalesce(current_setting('maturion.binding', true), '')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    admin.batch_execute("COMMIT").await.unwrap();
    assert_eq!(left, "");
    let actor = Some(a_user.to_string());
    assert_eq!(
        permission_events(&admin, &alpha).await,
        [
            ("permission.granted".to_owned(), Some(a_user), actor.clone()),
            ("permission.revoked".to_owned(), Some(a_user), actor.clone()),
            ("permission.granted".to_owned(), Some(a_user), actor.clone()),
            ("permission.revoked".to_owned(), None, None),
        ]
    );
    assert_eq!(permission_events(&admin, &beta).await, []);
    let tx = app.transaction(&alpha.context).await.unwrap();
    assert_eq!(
        permissions::rebuild(&tx).await.unwrap(),
        permissions::active(&tx).await.unwrap()
    );
}

#[tokio::test]
async fn events_are_published_for_the_bound_organisation_only() {
    let db = support::database().await;
    let admin = db.admin().await;
    let (alpha, beta) = two_tenants(&db).await;
    let beta_before = fingerprint(&admin, &beta).await;
    let attacker = db.connect(maturion_schema::APP_ROLE).await;
    let copied = attempt(
        &attacker,
        &bind(&beta),
        "SELECT current_setting('maturion.binding')",
    )
    .await
    .unwrap()
    .remove(0);
    let claim_beta = format!(
        "SELECT set_config('app.current_organisation_id', '{}', true), \
                set_config('app.current_user_id', '{}', true)",
        beta.organisation, beta.user
    );
    let forged_beta = format!(
        "SELECT set_config('maturion.binding', '{}/{}/' || repeat('0', 64), true)",
        beta.organisation, beta.user
    );
    let copied_beta = format!("SELECT set_config('maturion.binding', '{copied}', true)");
    let cases = [
        (format!("{}; {claim_beta}", bind(&alpha)), Ok(())),
        (claim_beta.clone(), Err(UNBOUND)),
        (forged_beta, Err(UNBOUND)),
        (copied_beta.clone(), Err(UNBOUND)),
        (format!("{}; {copied_beta}", bind(&alpha)), Err(UNBOUND)),
        (format!("{}; {}", bind(&alpha), bind(&beta)), Err("MT409")),
    ];
    for (preamble, expected) in cases {
        let outcome = attempt(&attacker, &preamble, PUBLISH).await;
        assert_eq!(
            outcome.map(|_| ()),
            expected.map_err(str::to_owned),
            "{preamble}"
        );
    }
    let published: Vec<(Uuid, Option<Uuid>)> = admin
        .query("SELECT organisation_id, published_by FROM event_log", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        published,
        [(alpha.organisation.as_uuid(), Some(alpha.user.as_uuid()))]
    );
    assert_eq!(fingerprint(&admin, &beta).await, beta_before);
}

/// Every setting a function of the platform reads (from the catalog), and the cache the
/// commit ordering once kept in a setting.
async fn settings_the_platform_reads(admin: &Client) -> Vec<String> {
    let mut settings: Vec<String> = admin
        .query(
            "SELECT DISTINCT m[1] FROM pg_proc p, \
                    regexp_matches(p.prosrc, 'current_setting\\(''([^'']+)''', 'g') AS m \
             WHERE p.pronamespace = 'maturion'::regnamespace ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(
        settings.iter().any(|s| s == "maturion.binding"),
        "{settings:?}"
    );
    // What the ordering and the policies trusted before the binding and events 3.1.0.
    for former in [
        "maturion.event_commits_done",
        "app.current_organisation_id",
        "app.current_user_id",
    ] {
        if !settings.iter().any(|s| s == former) {
            settings.push(former.into());
        }
    }
    settings
}

#[tokio::test]
async fn nothing_a_transaction_sets_makes_its_events_undeliverable_or_doubled() {
    let db = support::database().await;
    let admin = db.admin().await;
    let (alpha, beta) = two_tenants(&db).await;
    let app = support::app(&db, 2);
    support::subscribe(&db, &Subscription::new("all", &["*"])).await;
    let mut expected = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };

    // Each setting, set to what once fooled the commit ordering (its cache of what it had
    // numbered, naming this transaction's organisation and time) and to other hostile values,
    // before and after publishing.
    let hostile = [
        "';' || $2 || '@' || (extract(epoch FROM now()) * 1000000)::bigint || ';' || $2 || '=1;'",
        "';' || $3 || '=1;'",
        "$2",
        "$3",
        "'garbage'",
        "''",
    ];
    for setting in settings_the_platform_reads(&admin).await {
        for value in hostile {
            for before in [true, false] {
                let number = next();
                let tx = app.transaction(&alpha.context).await.unwrap();
                let set =
                    format!("SELECT set_config($1::text, {value}, true) || $2::text || $3::text");
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [
                    &setting,
                    &alpha.organisation.as_uuid().to_string(),
                    &beta.organisation.as_uuid().to_string(),
                ];
                let event = NewEvent::new("risk.created", "attack")
                    .payload(serde_json::json!({ "n": number }));
                let outcome = async {
                    if before {
                        tx.query(set.as_str(), &params).await?;
                    }
                    maturion_events::publish(&tx, &event).await?;
                    if !before {
                        tx.query(set.as_str(), &params).await?;
                    }
                    Ok::<_, EventError>(())
                }
                .await;
                if outcome.is_ok() && tx.commit().await.is_ok() {
                    expected.push(number);
                }
            }
        }
    }

    // The deferred trigger fired early, again after more events, and inside a savepoint that is
    // rolled back; with the old cache cleared in between.
    let numbers = [next(), next(), next()];
    let tx = app.transaction(&alpha.context).await.unwrap();
    let publish = async |number: i64| {
        let event =
            NewEvent::new("risk.created", "attack").payload(serde_json::json!({ "n": number }));
        maturion_events::publish(&tx, &event).await.unwrap();
    };
    publish(numbers[0]).await;
    tx.execute("SAVEPOINT early", &[]).await.unwrap();
    tx.execute("SET CONSTRAINTS ALL IMMEDIATE", &[])
        .await
        .unwrap();
    tx.execute("ROLLBACK TO SAVEPOINT early", &[])
        .await
        .unwrap();
    tx.execute("SET CONSTRAINTS ALL IMMEDIATE", &[])
        .await
        .unwrap();
    publish(numbers[1]).await;
    tx.query(
        "SELECT set_config('maturion.event_commits_done', '', true)",
        &[],
    )
    .await
    .unwrap();
    tx.execute("SET CONSTRAINTS ALL DEFERRED", &[])
        .await
        .unwrap();
    publish(numbers[2]).await;
    tx.commit().await.unwrap();
    expected.extend(numbers);

    // What the trigger needs cannot be switched off.
    let attacker = db.connect(maturion_schema::APP_ROLE).await;
    for sql in [
        "SET LOCAL session_replication_role = replica",
        "ALTER TABLE event_log DISABLE TRIGGER event_sequence_commit",
        "ALTER TABLE event_log DISABLE TRIGGER ALL",
    ] {
        assert_eq!(
            attempt(&attacker, &bind(&alpha), sql).await,
            Err(DENIED.to_owned()),
            "{sql}"
        );
    }

    let recorder = Recorder::default();
    let mut worker = support::worker(&db, &app, "all", &recorder, Default::default()).await;
    support::drain(&mut worker).await;
    let mut delivered: Vec<i64> = recorder.handled().iter().map(payload_n).collect();
    delivered.sort();
    assert_eq!(delivered, expected, "every committed event exactly once");
    assert!(expected.len() > 20, "most attempts committed: {expected:?}");
    let (doubled, orphans): (i64, i64) = admin
        .query_one(
            "SELECT (SELECT count(*) FROM (SELECT FROM maturion.event_commits \
                                           GROUP BY transaction_id, organisation_id HAVING count(*) > 1) d), \
                    (SELECT count(*) FROM event_log e WHERE NOT EXISTS ( \
                       SELECT FROM maturion.event_commits c WHERE c.transaction_id = e.transaction_id \
                         AND c.organisation_id = e.organisation_id AND e.timestamp = ANY (c.event_timestamps)))",
            &[],
        )
        .await
        .map(|row| (row.get(0), row.get(1)))
        .unwrap();
    assert_eq!((doubled, orphans), (0, 0));
}

#[tokio::test]
async fn a_lease_is_worthless_to_another_organisation_and_to_the_readonly_role() {
    let db = support::database().await;
    let admin = db.admin().await;
    let (alpha, beta) = two_tenants(&db).await;
    let app = support::app(&db, 1);
    support::subscribe(&db, &Subscription::new("all", &["*"])).await;
    let event = support::publish(&app, &alpha, "risk.created", 1).await;
    let maintenance = support::maintenance(&db).await;
    let lease = maintenance
        .query_one(
            "SELECT lease_token, commit_position, event_timestamps[1] \
             FROM maturion.event_claim('all', 1, 10, interval '1 minute', 0, true)",
            &[],
        )
        .await
        .unwrap();
    let (token, position, at): (Uuid, i64, chrono::DateTime<chrono::Utc>) =
        (lease.get(0), lease.get(1), lease.get(2));
    let before = fingerprint(&admin, &alpha).await;

    let (a, at) = (alpha.organisation, at.to_rfc3339());
    let calls = [
        format!("SELECT maturion.event_acknowledge('{token}', 'all', '{a}', {position}, NULL)::text"),
        format!(
            "SELECT maturion.event_fail('{token}', 'all', '{a}', {position}, NULL, {position}, {position}, \
             '{at}', '{event}', 'risk.created', 'forged')"
        ),
        format!(
            "SELECT maturion.event_dead_letter('{token}', 'all', '{a}', {position}, NULL, {position}, \
             {position}, '{at}', '{event}', 'risk.created', 'forged')"
        ),
        format!("SELECT maturion.event_replay_finish('{token}', NULL)"),
        format!("SELECT maturion.event_mark_processed(ARRAY['{at}']::timestamptz[], ARRAY['{event}']::uuid[])::text"),
    ];
    let forged_alpha = format!(
        "SELECT set_config('app.current_organisation_id', '{a}', true), \
                set_config('maturion.binding', '{a}/{}/' || repeat('0', 64), true)",
        alpha.user
    );
    let app_attacker = db.connect(maturion_schema::APP_ROLE).await;
    for preamble in [bind(&beta), String::new(), forged_alpha] {
        for call in &calls {
            let outcome = attempt(&app_attacker, &preamble, call).await;
            assert!(
                matches!(&outcome, Ok(rows) if rows.iter().all(|r| ["false", "lost", "NULL"].contains(&r.as_str())))
                    || outcome == Err(UNBOUND.to_owned()),
                "{preamble}: {call}: {outcome:?}"
            );
        }
    }
    let readonly = db.connect(maturion_schema::READONLY_ROLE).await;
    for call in &calls {
        assert_eq!(
            attempt(&readonly, &bind(&alpha), call).await,
            Err(DENIED.to_owned()),
            "{call}"
        );
    }
    assert_eq!(fingerprint(&admin, &alpha).await, before);
    let acknowledged: bool = maintenance
        .query_one(
            "SELECT maturion.event_acknowledge($1, 'all', $2, $3, NULL)",
            &[&token, &alpha.organisation, &position],
        )
        .await
        .unwrap()
        .get(0);
    assert!(acknowledged, "the lease was never lost to the attacker");
}

/// A value of each argument type for calls aimed at `tenant`'s rows, several for uuids.
fn aimed_values(
    tenant: &Tenant,
    ids: &[Uuid],
    position: i64,
    at: &str,
) -> BTreeMap<&'static str, Vec<String>> {
    let mut uuids = vec![tenant.organisation.as_uuid(), tenant.user.as_uuid()];
    uuids.extend(ids);
    BTreeMap::from([
        (
            "uuid",
            uuids.iter().map(|u| format!("'{u}'::uuid")).collect(),
        ),
        ("text", vec!["'all'".into(), "'risk.created'".into()]),
        ("bigint", vec![position.to_string(), "0".into()]),
        ("integer", vec!["1".into()]),
        ("boolean", vec!["true".into(), "false".into()]),
        (
            "timestamp with time zone",
            vec![format!("'{at}'::timestamptz")],
        ),
        ("interval", vec!["'1 minute'::interval".into()]),
        ("jsonb", vec!["'{}'::jsonb".into()]),
        ("inet", vec!["'127.0.0.1'::inet".into()]),
        ("bytea", vec!["'\\x00'::bytea".into()]),
        (
            "regclass",
            vec![
                "'public.policies'::regclass".into(),
                "'public.users'::regclass".into(),
            ],
        ),
        ("tsvector", vec!["'risk'::tsvector".into()]),
        ("tsquery", vec!["'risk'::tsquery".into()]),
        ("regconfig", vec!["'english'::regconfig".into()]),
        ("smallint", vec!["1".into()]),
        ("numeric", vec!["1".into()]),
        ("date", vec![format!("'{at}'::date")]),
    ])
}

#[tokio::test]
async fn every_function_a_runtime_role_may_call_leaves_another_organisation_untouched() {
    let db = support::database().await;
    let admin = db.admin().await;
    let (alpha, beta) = two_tenants(&db).await;
    let app = support::app(&db, 1);
    support::subscribe(&db, &Subscription::new("all", &["*"])).await;
    let tx = app.transaction(&alpha.context).await.unwrap();
    assert!(permissions::grant(&tx, alpha.user, "risks", "read")
        .await
        .unwrap());
    tx.commit().await.unwrap();
    let event = support::publish(&app, &alpha, "risk.created", 1).await;
    let maintenance = support::maintenance(&db).await;
    let lease = maintenance
        .query(
            "SELECT lease_token, commit_position, event_timestamps[1]::text \
             FROM maturion.event_claim('all', 1, 10, interval '1 hour', 0, true) ORDER BY commit_position DESC",
            &[],
        )
        .await
        .unwrap()
        .remove(0);
    let (token, position, at): (Uuid, i64, String) = (lease.get(0), lease.get(1), lease.get(2));
    let dead_letter: Uuid = admin
        .query_one(
            "INSERT INTO maturion.event_dead_letters (subscription, organisation_id, position, event_timestamp, \
                                                      event_id, event_type, attempts, last_error) \
             VALUES ('all', $1, $2, $3::text::timestamptz, $4, 'risk.created', 3, 'failed') RETURNING id",
            &[&alpha.organisation, &position, &at, &event],
        )
        .await
        .unwrap()
        .get(0);
    admin
        .execute("SELECT maturion.event_replay($1)", &[&dead_letter])
        .await
        .unwrap();
    let values = aimed_values(&alpha, &[token, event, dead_letter], position, &at);
    let before = fingerprint(&admin, &alpha).await;

    for role in RUNTIME_ROLES {
        let functions: Vec<(String, Vec<String>)> = admin
            .query(
                "SELECT format('%I.%I', n.nspname, p.proname), \
                        ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(t, i) ORDER BY i) \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
                   AND p.prorettype <> 'trigger'::regtype AND p.prokind = 'f' \
                   AND has_function_privilege($1, p.oid, 'EXECUTE') \
                   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass \
                                     AND d.objid = p.oid AND d.deptype = 'e') \
                 ORDER BY 1",
                &[&role],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        if role == maturion_schema::APP_ROLE {
            for needed in [
                "maturion.publish_events",
                "maturion.event_mark_processed",
                "maturion.event_acknowledge",
            ] {
                assert!(
                    functions.iter().any(|(f, _)| f == needed),
                    "{needed}: {functions:?}"
                );
            }
        }
        let attacker = db.connect(role).await;
        for (function, arguments) in &functions {
            let variants = values["uuid"].len();
            for k in 0..variants {
                let args: Vec<String> = arguments
                    .iter()
                    .map(|type_name| {
                        let element = type_name.trim_end_matches("[]");
                        let choices = values.get(element).unwrap_or_else(|| {
                            panic!("{function}: give the walk a value of type {type_name}")
                        });
                        let value = &choices[k % choices.len()];
                        if type_name.ends_with("[]") {
                            format!("ARRAY[{value}]::{type_name}")
                        } else {
                            value.clone()
                        }
                    })
                    .collect();
                let call = format!("SELECT {function}({})::text", args.join(", "));
                // Refusals are fine; a change to A is not.
                let _ = attempt(&attacker, &bind(&beta), &call).await;
            }
        }
        assert_eq!(
            fingerprint(&admin, &alpha).await,
            before,
            "{role} changed another organisation's rows"
        );
    }
    // The calls ran: the application published for its own organisation (with A's ids).
    let beta_events: i64 = admin
        .query_one(
            "SELECT count(*) FROM event_log WHERE organisation_id = $1",
            &[&beta.organisation],
        )
        .await
        .unwrap()
        .get(0);
    assert!(beta_events > 0);
}

/// A LISTEN on the bus's channel as `role`: every notification's payload and sender.
async fn listen_as(
    db: &TestDatabase,
    role: &str,
) -> (Client, tokio::sync::mpsc::UnboundedReceiver<(i32, String)>) {
    let (client, mut connection) = db.config(role).connect(NoTls).await.unwrap();
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                let _ = sender.send((n.process_id(), n.payload().to_owned()));
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {}", maturion_events::NOTIFY_CHANNEL))
        .await
        .unwrap();
    (client, receiver)
}

#[tokio::test]
async fn forged_wakeups_neither_skip_nor_repeat_and_real_ones_name_nobody() {
    let db = support::database().await;
    let (alpha, beta) = two_tenants(&db).await;
    let app = support::app(&db, 6);
    support::subscribe(&db, &Subscription::new("all", &["*"])).await;
    let (_listening, mut notifications) = listen_as(&db, maturion_schema::APP_ROLE).await;
    let recorder = Recorder::default();
    let options = WorkerOptions {
        listen_after: Duration::from_millis(20),
        listen_timeout: Duration::from_secs(30),
        ..WorkerOptions::default()
    };
    let worker = support::worker(&db, &app, "all", &recorder, options).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));

    let attacker = db.connect(maturion_schema::APP_ROLE).await;
    let attacker_pid: i32 = attacker
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let maintenance = support::maintenance(&db).await;
    let forgeries = [
        format!("NOTIFY maturion_events, '{}'", beta.organisation),
        "NOTIFY maturion_events, 'skip'".to_owned(),
        "NOTIFY maturion_events, '{\"position\": 9223372036854775807}'".to_owned(),
        "SELECT pg_notify('maturion_events', repeat('x', 7999))".to_owned(),
        "SELECT pg_notify('maturion_events', NULL)".to_owned(),
    ];
    let rounds = 10;
    for n in 0..rounds {
        // Let the worker fall asleep on LISTEN, so that publishers NOTIFY.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let sleeping: i64 = maintenance
                .query_one(
                    "SELECT count(*) FROM maturion.event_waiters WHERE waiting_since IS NOT NULL",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            if sleeping > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "the worker never went to sleep");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        support::publish(&app, &alpha, "risk.created", n).await;
        for forgery in &forgeries {
            attacker.batch_execute(forgery).await.unwrap();
        }
        support::publish(&app, &beta, "risk.created", n).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while recorder.handled().len() < 2 * rounds as usize {
        assert!(Instant::now() < deadline, "{:?}", recorder.handled().len());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Forged wake-ups after the last event find nothing to repeat.
    for forgery in &forgeries {
        attacker.batch_execute(forgery).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();

    let mut handled: Vec<(Uuid, i64)> = recorder
        .handled()
        .iter()
        .map(|e| (e.organisation_id, payload_n(e)))
        .collect();
    handled.sort();
    let mut expected: Vec<(Uuid, i64)> = (0..rounds)
        .flat_map(|n| {
            [
                (alpha.organisation.as_uuid(), n),
                (beta.organisation.as_uuid(), n),
            ]
        })
        .collect();
    expected.sort();
    assert_eq!(handled, expected, "each event exactly once");

    let mut genuine = 0;
    while let Ok((sender, payload)) = notifications.try_recv() {
        if sender != attacker_pid {
            genuine += 1;
            assert_eq!(payload, "", "a wake-up from process {sender} carries data");
        }
    }
    assert!(genuine > 0, "publishers woke the sleeping worker");
}

#[tokio::test]
async fn the_organisation_stream_shows_the_bound_organisation_only_whatever_is_set_or_asked() {
    let db = support::database().await;
    let (alpha, beta) = two_tenants(&db).await;
    let app = support::app(&db, 1);
    support::publish(&app, &alpha, "risk.created", 2).await;
    support::publish(&app, &beta, "risk.created", 1).await;
    let attacker = db.connect(maturion_schema::APP_ROLE).await;
    // Every argument at its widest: from the start, no type or module filter, the most rows.
    let read = "SELECT count(*) FILTER (WHERE id IS NOT NULL)::text || '/' || \
                       coalesce(string_agg(DISTINCT organisation_id::text, ','), '') \
                FROM maturion.event_stream_after(0, NULL, NULL, NULL, 1000000)";
    let head = "SELECT maturion.event_stream_head()::text";
    let forged_alpha = format!(
        "SELECT set_config('maturion.binding', '{}/{}/' || repeat('0', 64), true), \
                set_config('app.current_organisation_id', '{}', true)",
        alpha.organisation, alpha.user, alpha.organisation
    );
    for (preamble, expected) in [
        (bind(&beta), format!("1/{}", beta.organisation)),
        // A binding overwritten by a forged one is no binding at all.
        (format!("{}; {forged_alpha}", bind(&beta)), "0/".to_owned()),
        (forged_alpha.clone(), "0/".to_owned()),
        ("SELECT 1".to_owned(), "0/".to_owned()),
    ] {
        let rows = attempt(&attacker, &preamble, read).await;
        assert_eq!(rows, Ok(vec![expected]), "{preamble}");
    }
    // Another organisation's event key is no position, as a made-up one.
    let alpha_event: (String, String) = {
        let admin = db.admin().await;
        let row = admin
            .query_one(
                "SELECT timestamp::text, id::text FROM event_log WHERE organisation_id = $1",
                &[&alpha.organisation],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    let position = format!(
        "SELECT coalesce(maturion.event_stream_position('{}', '{}')::text, 'none')",
        alpha_event.0, alpha_event.1
    );
    assert_eq!(
        attempt(&attacker, &bind(&beta), &position).await,
        Ok(vec!["none".to_owned()])
    );
    assert_ne!(
        attempt(&attacker, &bind(&alpha), &position).await,
        Ok(vec!["none".to_owned()]),
        "the key finds its own organisation's event"
    );
    let unbound_head = attempt(&attacker, &forged_alpha, head).await;
    assert_eq!(unbound_head, Ok(vec!["0".to_owned()]));
    let readonly = db.connect(maturion_schema::READONLY_ROLE).await;
    assert_eq!(
        attempt(&readonly, &bind(&alpha), head).await,
        Err(DENIED.to_owned())
    );
}
