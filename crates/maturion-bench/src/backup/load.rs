//! Filling the scratch database with the platform's own tables through its write path:
//! organisations and their first users by `maturion.create_organisation`, more users and
//! policies in transactions bound with each organisation's token (so the stamps, the
//! guards, RLS `WITH CHECK`, the search vector and the audit trigger all run, and every
//! row leaves its `audit_log` row). Batches are multi-row INSERTs of client-made text.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use maturion_config::DatabaseTarget;
use maturion_testing::Tenant;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::Serialize;
use tokio_postgres::Client;

const ORGANISATIONS: usize = 20;
const USERS_PER_ORGANISATION: i32 = 50;
/// Policies per INSERT (and per transaction).
const BATCH: usize = 200;
/// One loader per core of the machine the figures are quoted for.
const LOADERS: usize = 2;
/// Words of a policy's content: enough of them, with clause numbers, that the text
/// compresses about as much as prose does (2-3×), not like a repeated string.
const SENTENCES_PER_POLICY: usize = 14;
const VOCABULARY: [&str; 64] = [
    "access",
    "control",
    "asset",
    "owner",
    "risk",
    "treatment",
    "incident",
    "response",
    "supplier",
    "review",
    "annual",
    "audit",
    "evidence",
    "backup",
    "encryption",
    "key",
    "rotation",
    "retention",
    "personal",
    "data",
    "subject",
    "request",
    "classification",
    "confidential",
    "internal",
    "public",
    "training",
    "awareness",
    "change",
    "management",
    "vulnerability",
    "patch",
    "monitoring",
    "logging",
    "network",
    "segregation",
    "duties",
    "physical",
    "security",
    "perimeter",
    "continuity",
    "recovery",
    "objective",
    "measure",
    "nonconformity",
    "corrective",
    "action",
    "management",
    "board",
    "approve",
    "document",
    "shall",
    "must",
    "should",
    "ensure",
    "within",
    "days",
    "quarterly",
    "responsible",
    "officer",
    "policy",
    "exception",
    "register",
    "approved",
];

#[derive(Debug, Clone, Serialize)]
pub struct LoadSummary {
    pub organisations: i64,
    pub users: i64,
    pub policies: i64,
    pub audit_log_rows: i64,
    pub database_bytes: u64,
    pub seconds: f64,
}

/// Migrates the scratch database, makes the organisations and users, then writes
/// policies until the database is `target_bytes` large.
pub async fn load(
    target: &DatabaseTarget,
    target_bytes: u64,
    progress: &ProgressBar,
) -> Result<LoadSummary> {
    let started = Instant::now();
    let mut admin = target.admin().await?;
    maturion_platform::migrate_up(&mut admin)
        .await
        .context("cannot migrate the benchmark database")?;
    maturion_maintenance::maintain_logs(&mut admin, &maturion_maintenance::Policy::default())
        .await
        .context("cannot make the benchmark database's partitions")?;
    let tenants = organisations(&admin).await?;
    let size = Arc::new(AtomicU64::new(database_size(&admin).await?));
    let mut loaders = Vec::with_capacity(LOADERS);
    for first in 0..LOADERS {
        let client = target.admin().await?;
        let mine: Vec<Tenant> = tenants
            .iter()
            .skip(first)
            .step_by(LOADERS)
            .cloned()
            .collect();
        let (size, progress) = (size.clone(), progress.clone());
        loaders.push(tokio::spawn(async move {
            write_policies(&client, &mine, target_bytes, &size, &progress).await
        }));
    }
    for loader in loaders {
        loader.await??;
    }
    summary(&admin, started).await
}

/// The organisations, each with its first user and `USERS_PER_ORGANISATION - 1` more.
async fn organisations(admin: &Client) -> Result<Vec<Tenant>> {
    let mut tenants = Vec::with_capacity(ORGANISATIONS);
    for n in 1..=ORGANISATIONS {
        let name = format!("Benchmark Organisation {n}");
        let tenant = maturion_testing::organisation_with_admin(admin, &name).await?;
        maturion_testing::begin_as(admin, &tenant).await?;
        admin
            .execute(
                "INSERT INTO users (organisation_id, email, full_name, role)
                 SELECT $1, 'user' || n || '@benchmark.example', 'User ' || n, 'member'
                   FROM generate_series(2, $2) n",
                &[&tenant.organisation, &USERS_PER_ORGANISATION],
            )
            .await?;
        admin.batch_execute("COMMIT").await?;
        tenants.push(tenant);
    }
    Ok(tenants)
}

/// Batches of policies for each tenant in turn, until the database is large enough.
async fn write_policies(
    client: &Client,
    tenants: &[Tenant],
    target_bytes: u64,
    size: &AtomicU64,
    progress: &ProgressBar,
) -> Result<()> {
    for tenant in tenants.iter().cycle() {
        if size.load(Ordering::Relaxed) >= target_bytes {
            return Ok(());
        }
        let (titles, contents) = policy_texts();
        maturion_testing::begin_as(client, tenant).await?;
        client
            .execute(
                "INSERT INTO policies (organisation_id, title, content)
                 SELECT $1, title, content FROM unnest($2::text[], $3::text[]) AS t (title, content)",
                &[&tenant.organisation, &titles, &contents],
            )
            .await?;
        client.batch_execute("COMMIT").await?;
        let now = database_size(client).await?;
        size.fetch_max(now, Ordering::Relaxed);
        progress.set_position(now.min(target_bytes));
    }
    Ok(())
}

/// Titles and contents of one batch: sentences of the vocabulary with clause numbers.
fn policy_texts() -> (Vec<String>, Vec<String>) {
    let mut rng = rand::thread_rng();
    let mut titles = Vec::with_capacity(BATCH);
    let mut contents = Vec::with_capacity(BATCH);
    for _ in 0..BATCH {
        let clause = rng.gen_range(1..10_000);
        titles.push(format!("Policy {clause}: {}", sentence(&mut rng, 4)));
        let text: Vec<String> = (0..SENTENCES_PER_POLICY)
            .map(|_| {
                let words = rng.gen_range(8..20);
                format!(
                    "{}.{} {}.",
                    rng.gen_range(1..20),
                    rng.gen_range(1..100),
                    sentence(&mut rng, words)
                )
            })
            .collect();
        contents.push(text.join(" "));
    }
    (titles, contents)
}

fn sentence(rng: &mut impl Rng, words: usize) -> String {
    (0..words)
        .filter_map(|_| VOCABULARY.choose(rng).copied())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn database_size(client: &Client) -> Result<u64> {
    let bytes: i64 = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await?
        .get(0);
    Ok(u64::try_from(bytes).unwrap_or_default())
}

async fn summary(admin: &Client, started: Instant) -> Result<LoadSummary> {
    let row = admin
        .query_one(
            "SELECT (SELECT count(*) FROM organisations), (SELECT count(*) FROM users),
                    (SELECT count(*) FROM policies), (SELECT count(*) FROM audit_log)",
            &[],
        )
        .await?;
    Ok(LoadSummary {
        organisations: row.get(0),
        users: row.get(1),
        policies: row.get(2),
        audit_log_rows: row.get(3),
        database_bytes: database_size(admin).await?,
        seconds: started.elapsed().as_secs_f64(),
    })
}
