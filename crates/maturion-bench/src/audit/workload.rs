//! The audit benchmark's tables and the clients that write them.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use indicatif::ProgressBar;
use maturion_tenancy::TenantConnection;
use maturion_testing::Tenant;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

use super::{Options, Workload};
use crate::scratch::Scratch;

/// Without a trigger, with the audit trigger, with the floor trigger.
pub(super) const TABLES: [&str; 3] = ["bench_plain", "bench_audited", "bench_floor"];
const CLIENT_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
const USER_AGENT: &str = "maturion-bench/1.0";

/// A typical module table (like README's `risks`), three times: without a trigger, with the
/// audit trigger, with the floor trigger.
pub(super) async fn create_tables(admin: &Client) -> Result<()> {
    let mut sql = String::from("SET ROLE maturion_owner;\n");
    for (table, audited) in [(TABLES[0], false), (TABLES[1], true), (TABLES[2], false)] {
        let _ = write!(
            sql,
            "CREATE TABLE {table} (
               id uuid PRIMARY KEY DEFAULT generate_uuidv7(),
               organisation_id uuid NOT NULL REFERENCES organisations (id),
               title text NOT NULL,
               status text NOT NULL,
               score integer NOT NULL,
               details jsonb,
               owner_id uuid,
               created_at timestamptz NOT NULL DEFAULT now(),
               created_by uuid NOT NULL,
               updated_at timestamptz NOT NULL DEFAULT now(),
               updated_by uuid,
               deleted_at timestamptz,
               deleted_by uuid,
               UNIQUE (organisation_id, id),
               FOREIGN KEY (organisation_id, owner_id) REFERENCES users (organisation_id, id),
               FOREIGN KEY (organisation_id, created_by) REFERENCES users (organisation_id, id),
               FOREIGN KEY (organisation_id, updated_by) REFERENCES users (organisation_id, id),
               FOREIGN KEY (organisation_id, deleted_by) REFERENCES users (organisation_id, id)
             );
             CREATE INDEX ON {table} (organisation_id, owner_id);
             CREATE INDEX ON {table} (organisation_id, created_by);
             CREATE INDEX ON {table} (organisation_id, updated_by);
             CREATE INDEX ON {table} (organisation_id, deleted_by);
             SELECT maturion.enable_tenant_isolation('{table}', 'bench', audit_trail => {audited});\n"
        );
    }
    // The row the audit trigger writes for one of these updates, as constants: the same
    // columns and indexes are maintained, nothing is computed.
    let _ = write!(
        sql,
        "CREATE FUNCTION bench_audit_row_only() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           INSERT INTO public.audit_log
             (organisation_id, user_id, module, entity_type, entity_id, action, changes, ip_address, user_agent)
           VALUES (NEW.organisation_id, NEW.created_by, 'bench', 'bench_floor', NEW.id, 'updated',
                   '{{\"status\": {{\"old\": \"open\", \"new\": \"treated\"}}, \"score\": {{\"old\": 3, \"new\": 4}}}}',
                   '192.0.2.10', 'maturion-bench/1.0');
           RETURN NULL;
         END $$;
         CREATE TRIGGER audit_row_only AFTER INSERT OR UPDATE ON {floor}
           FOR EACH ROW EXECUTE FUNCTION bench_audit_row_only();\n",
        floor = TABLES[2]
    );
    sql.push_str("RESET ROLE;");
    admin
        .batch_execute(&sql)
        .await
        .context("cannot create the benchmark tables")?;
    Ok(())
}

/// One client session per organisation, as `maturion_app`.
pub(super) struct Clients {
    sessions: Vec<Session>,
}

struct Session {
    connection: TenantConnection,
    tenant: Tenant,
}

/// One timed block: every client runs `count` transactions, numbered from `first`, on one
/// table (an index of TABLES).
pub(super) struct Block {
    pub workload: Workload,
    pub table: usize,
    pub first: usize,
    pub count: usize,
}

impl Clients {
    /// `count` organisations (each with its first user, who acts), and a session for each.
    pub async fn connect(scratch: &Scratch, count: usize) -> Result<Self> {
        let mut sessions = Vec::new();
        for n in 0..count {
            let tenant = maturion_testing::organisation_with_admin_from(
                &scratch.admin,
                &format!("Bench {n}"),
                Some(CLIENT_ADDRESS),
                Some(USER_AGENT.to_owned()),
            )
            .await?;
            let client = scratch
                .target
                .connect_as(maturion_schema::APP_ROLE)
                .await
                .context("cannot connect as maturion_app")?;
            let connection = TenantConnection::new(client).await?;
            sessions.push(Session { connection, tenant });
        }
        Ok(Clients { sessions })
    }

    pub async fn set_synchronous_commit(&self, on: bool) -> Result<()> {
        let setting = if on { "on" } else { "off" };
        for session in &self.sessions {
            session
                .connection
                .client()
                .batch_execute(&format!("SET synchronous_commit = {setting}"))
                .await?;
        }
        Ok(())
    }

    /// Runs `block` on every client at once and returns its wall time. Inserts add their ids
    /// to `ids` (per client and table); updates change the rows inserted at the same positions.
    pub async fn run(
        &mut self,
        block: &Block,
        ids: &mut [[Vec<Uuid>; 3]],
        options: &Options,
        progress: &ProgressBar,
    ) -> Result<Duration> {
        let sql = statement_sql(block.workload, TABLES[block.table]);
        let mut statements = Vec::new();
        for session in &self.sessions {
            statements.push(session.connection.client().prepare(&sql).await?);
        }
        let started = Instant::now();
        let work = self
            .sessions
            .iter_mut()
            .zip(&statements)
            .zip(ids.iter())
            .map(|((session, statement), ids)| {
                session.run(block, statement, &ids[block.table], options, progress)
            });
        let new_ids = futures_util::future::try_join_all(work).await?;
        let elapsed = started.elapsed();
        for (ids, new) in ids.iter_mut().zip(new_ids) {
            ids[block.table].extend(new);
        }
        Ok(elapsed)
    }
}

fn statement_sql(workload: Workload, table: &str) -> String {
    match workload {
        Workload::Insert => format!(
            "INSERT INTO {table} (organisation_id, title, status, score, details, owner_id, created_by) \
             VALUES ($1, $2, 'open', $3, $4, $5, $5) RETURNING id"
        ),
        Workload::Update => {
            format!("UPDATE {table} SET status = $2, score = score + 1 WHERE id = $1")
        }
    }
}

impl Session {
    /// This client's share of `block`: returns the ids it inserted.
    async fn run(
        &mut self,
        block: &Block,
        statement: &Statement,
        targets: &[Uuid],
        options: &Options,
        progress: &ProgressBar,
    ) -> Result<Vec<Uuid>> {
        let details = serde_json::json!({"likelihood": 3, "impact": 4, "treatment": "mitigate"});
        let (organisation, user) = (self.tenant.organisation, self.tenant.user);
        let mut new_ids = Vec::new();
        for t in block.first..block.first + block.count {
            let tx = self.connection.transaction(&self.tenant.context).await?;
            for r in 0..options.rows_per_transaction {
                match block.workload {
                    Workload::Insert => {
                        let title =
                            format!("Risk {t}.{r}: supplier outage affects order processing");
                        let score = (t % 25) as i32;
                        let row = tx
                            .query_one(statement, &[&organisation, &title, &score, &details, &user])
                            .await?;
                        new_ids.push(row.get::<_, Uuid>(0));
                    }
                    Workload::Update => {
                        let id = targets[t * options.rows_per_transaction + r];
                        let changed = tx.execute(statement, &[&id, &"treated"]).await?;
                        ensure!(changed == 1, "update changed {changed} rows");
                    }
                }
            }
            tx.commit().await?;
            progress.inc(1);
        }
        Ok(new_ids)
    }
}
