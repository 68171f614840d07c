//! Table maintenance and explicit locks: commands that hold an ACCESS EXCLUSIVE (or SHARE)
//! lock on a table for as long as they rewrite or rebuild it, blocking every tenant's
//! requests. On a table the migration creates nobody waits; on any other they are an outage.

use pg_query::protobuf::{AlterTableType, Node, RangeVar, ReindexObjectType};
use pg_query::NodeEnum;

use super::{breaking, range_var, Checker, Violation, NO_TRANSACTION_HINT};

impl Checker {
    pub(super) fn locks(&self, node: &NodeEnum) -> Vec<Violation> {
        match node {
            NodeEnum::VacuumStmt(s) if s.is_vacuumcmd && has_option(&s.options, "full") => {
                self.vacuum_full(&s.rels).into_iter().collect()
            }
            NodeEnum::ClusterStmt(s) => {
                let target = match &s.relation {
                    Some(r) => self.existing(Some(r)),
                    None => Some("every clustered table".to_string()),
                };
                target
                    .map(|t| rewrite(&format!("CLUSTER {t}")))
                    .into_iter()
                    .collect()
            }
            NodeEnum::LockStmt(s) => self.lock_table(&s.relations).into_iter().collect(),
            NodeEnum::ReindexStmt(s) if !has_option(&s.params, "concurrently") => self
                .reindex(s.kind, s.relation.as_ref(), &s.name)
                .into_iter()
                .collect(),
            NodeEnum::RefreshMatViewStmt(s) if !s.concurrent => self
                .existing(s.relation.as_ref())
                .map(|view| {
                    rewrite(&format!(
                        "REFRESH MATERIALIZED VIEW {view} without CONCURRENTLY (use REFRESH \
                         MATERIALIZED VIEW CONCURRENTLY, which needs a unique index on the \
                         view and lets readers go on)"
                    ))
                })
                .into_iter()
                .collect(),
            NodeEnum::AlterTableStmt(s) => {
                let Some(table) = self.existing(s.relation.as_ref()) else {
                    return Vec::new();
                };
                s.cmds
                    .iter()
                    .filter_map(|cmd| match &cmd.node {
                        Some(NodeEnum::AlterTableCmd(cmd)) => rewriting_alter(&table, cmd.subtype),
                        _ => None,
                    })
                    .collect()
            }
            NodeEnum::AlterTableMoveAllStmt(s) => vec![rewrite(&format!(
                "ALTER TABLE ALL IN TABLESPACE {} SET TABLESPACE {}",
                s.orig_tablespacename, s.new_tablespacename
            ))],
            _ => Vec::new(),
        }
    }

    fn vacuum_full(&self, relations: &[Node]) -> Option<Violation> {
        if relations.is_empty() {
            return Some(rewrite("VACUUM FULL of the whole database"));
        }
        let existing: Vec<String> = relations
            .iter()
            .filter_map(|node| match &node.node {
                Some(NodeEnum::VacuumRelation(v)) => self.existing(v.relation.as_ref()),
                _ => None,
            })
            .collect();
        (!existing.is_empty()).then(|| rewrite(&format!("VACUUM FULL {}", existing.join(", "))))
    }

    fn lock_table(&self, relations: &[Node]) -> Option<Violation> {
        let existing: Vec<String> = relations
            .iter()
            .filter_map(|node| self.existing(range_var(node)))
            .collect();
        (!existing.is_empty()).then(|| {
            breaking(
                "ban-lock-table",
                format!(
                    "LOCK TABLE {} holds an explicit lock until the migration commits: every \
                     tenant's reads or writes of the table queue behind it, and every later \
                     query queues behind them. Safe alternative: remove the statement; each \
                     statement takes the lock it needs for as short as it can, and the \
                     migration's lock_timeout gives up instead of queueing traffic.",
                    existing.join(", ")
                ),
            )
        })
    }

    fn reindex(&self, kind: i32, relation: Option<&RangeVar>, name: &str) -> Option<Violation> {
        let target = match ReindexObjectType::try_from(kind).ok()? {
            ReindexObjectType::ReindexObjectTable | ReindexObjectType::ReindexObjectIndex => {
                self.existing(relation)?
            }
            _ => format!("everything in {name}"),
        };
        Some(breaking(
            "require-concurrent-reindex",
            format!(
                "REINDEX {target} without CONCURRENTLY blocks every write to the table (and \
                 every read that would use the index) until the rebuild ends, which can take \
                 minutes on a large table. Safe alternative: REINDEX ... CONCURRENTLY \
                 {NO_TRANSACTION_HINT}."
            ),
        ))
    }
}

/// ALTER TABLE subcommands that rewrite the whole table under an ACCESS EXCLUSIVE lock
/// (ALTER COLUMN TYPE has a rule of its own).
fn rewriting_alter(table: &str, subtype: i32) -> Option<Violation> {
    let what = match AlterTableType::try_from(subtype).ok()? {
        AlterTableType::AtSetTableSpace => "SET TABLESPACE",
        AlterTableType::AtSetLogged => "SET LOGGED",
        AlterTableType::AtSetUnLogged => "SET UNLOGGED",
        AlterTableType::AtSetAccessMethod => "SET ACCESS METHOD",
        _ => return None,
    };
    Some(rewrite(&format!("ALTER TABLE {table} {what}")))
}

fn has_option(options: &[Node], name: &str) -> bool {
    options
        .iter()
        .any(|o| matches!(&o.node, Some(NodeEnum::DefElem(d)) if d.defname == name))
}

fn rewrite(what: &str) -> Violation {
    breaking(
        "ban-blocking-table-maintenance",
        format!(
            "{what} rewrites or rebuilds a table that already serves traffic while holding an \
             ACCESS EXCLUSIVE lock: every tenant's reads and writes of it wait until it is \
             done, minutes or hours on a large table. Safe alternative: leave table \
             maintenance to operations, outside migrations (plain VACUUM and autovacuum do not \
             block; pg_repack rebuilds online); if the data must move or change layout, create \
             a new table and backfill it in batches."
        ),
    )
}
