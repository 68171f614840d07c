//! The rules: which statements break running code, block traffic or reach beyond the
//! migration's own objects, and what to do instead.

mod definitions;
mod dynamic;
mod locks;
mod platform;
mod privileges;

use std::collections::{HashMap, HashSet};

use pg_query::protobuf::{
    AlterObjectSchemaStmt, AlterTableCmd, AlterTableType, ColumnDef, ConstrType, Constraint,
    DropStmt, IndexStmt, Node, ObjectType, RangeVar, RenameStmt, TruncateStmt,
};
use pg_query::{NodeEnum, NodeRef};

use crate::source::Statement;
use dynamic::Routine;

/// Who may ship a statement a rule refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Nobody: PostgreSQL would reject the script, or could not run it safely.
    Invalid,
    /// A compatibility or locking break, which a MAJOR migration may declare with
    /// `-- maturion:destructive`.
    Breaking,
    /// Reaches past the migration's own objects into what keeps tenants apart (privileges,
    /// roles, triggers, the logs, the platform's functions): only the platform's own migration
    /// sets may, at any version.
    PlatformOnly,
}

/// A rule violated by one statement.
pub(crate) struct Violation {
    pub rule: &'static str,
    pub message: String,
    pub class: Class,
}

fn breaking(rule: &'static str, message: String) -> Violation {
    Violation {
        rule,
        message,
        class: Class::Breaking,
    }
}

fn always(rule: &'static str, message: String) -> Violation {
    Violation {
        rule,
        message,
        class: Class::Invalid,
    }
}

fn platform_only(rule: &'static str, message: String) -> Violation {
    Violation {
        rule,
        message,
        class: Class::PlatformOnly,
    }
}

const NO_TRANSACTION_HINT: &str = "in its own migration whose up.sql starts with \
                                   `-- maturion:no-transaction`";

/// Built-in functions that return a new value on every call. A column added with one of them
/// as its default is filled row by row, rewriting the table; stable defaults such as `now()`
/// are evaluated once and stored as metadata.
const VOLATILE_FUNCTIONS: &[&str] = &[
    "clock_timestamp",
    "gen_random_bytes",
    "gen_random_uuid",
    "gen_salt",
    "nextval",
    "random",
    "random_normal",
    "timeofday",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
];

const SERIAL_TYPES: &[&str] = &[
    "serial",
    "serial2",
    "serial4",
    "serial8",
    "smallserial",
    "bigserial",
];

/// Checks statements in file order, remembering what the file creates: nothing done to a
/// table created here can break running code, because no running code knows the table yet,
/// and a function created here and called at once runs its body at migration time.
pub(crate) struct Checker {
    no_transaction: bool,
    created_tables: HashSet<String>,
    /// Views and materialized views created here that read with their owner's rights,
    /// past row level security.
    owner_rights_relations: HashSet<String>,
    created_schemas: HashSet<String>,
    created_types: HashSet<String>,
    created_routines: HashMap<String, Routine>,
    /// Routines whose bodies are being checked, so that recursion ends.
    expanding: Vec<String>,
    /// How many bodies deep the statement being checked is.
    body_depth: usize,
}

impl Checker {
    pub fn new(no_transaction: bool) -> Self {
        Checker {
            no_transaction,
            created_tables: HashSet::new(),
            owner_rights_relations: HashSet::new(),
            created_schemas: HashSet::new(),
            created_types: HashSet::new(),
            created_routines: HashMap::new(),
            expanding: Vec::new(),
            body_depth: 0,
        }
    }

    /// The violations of one top-level statement, each with its line: a statement inside a DO
    /// block or a called function reports the line of that inner statement.
    pub fn check(&mut self, statement: &Statement) -> Vec<(usize, Violation)> {
        let mut violations: Vec<(usize, Violation)> = self
            .transaction_violation(&statement.node)
            .map(|v| (statement.line, v))
            .into_iter()
            .collect();
        violations.extend(self.check_statement(statement));
        violations
    }

    /// The rules of every statement that runs, at the top level or inside a body.
    fn check_statement(&mut self, statement: &Statement) -> Vec<(usize, Violation)> {
        let mut violations: Vec<(usize, Violation)> = self
            .check_node(&statement.node)
            .into_iter()
            .map(|v| (statement.line, v))
            .collect();
        violations.extend(self.check_reach(statement));
        violations.extend(self.check_bodies(statement));
        violations
    }

    /// The rules that protect what the migration did not create: locks, privileges, roles,
    /// triggers, the logs and the platform's functions.
    fn check_reach(&mut self, statement: &Statement) -> Vec<(usize, Violation)> {
        let mut violations = self.locks(&statement.node);
        violations.extend(self.privileges(&statement.node));
        violations.extend(self.platform(statement));
        violations
            .into_iter()
            .map(|v| (statement.line, v))
            .collect()
    }

    fn check_node(&mut self, statement: &NodeEnum) -> Vec<Violation> {
        let mut violations = Vec::new();
        match statement {
            NodeEnum::CreateStmt(s) => self.remember(s.relation.as_ref()),
            // Materialized views too: indexing one created here blocks nobody.
            NodeEnum::CreateTableAsStmt(s) => {
                let relation = s.into.as_ref().and_then(|into| into.rel.as_ref());
                self.remember(relation);
                if s.objtype == ObjectType::ObjectMatview as i32 {
                    self.remember_owner_rights(relation);
                }
            }
            NodeEnum::CreateSeqStmt(s) => self.remember(s.sequence.as_ref()),
            NodeEnum::ViewStmt(s) => {
                self.remember(s.view.as_ref());
                if !is_security_invoker(&s.options) {
                    self.remember_owner_rights(s.view.as_ref());
                }
            }
            NodeEnum::CreateSchemaStmt(s) => {
                self.created_schemas.insert(s.schemaname.clone());
            }
            NodeEnum::CreateEnumStmt(s) => self.remember_type(&s.type_name),
            NodeEnum::CreateDomainStmt(s) => self.remember_type(&s.domainname),
            NodeEnum::CompositeTypeStmt(s) => {
                if let Some(r) = &s.typevar {
                    self.created_types
                        .insert(table_key(&r.schemaname, &r.relname));
                }
            }
            NodeEnum::DropStmt(s) => violations.extend(self.drop(s)),
            NodeEnum::DropdbStmt(s) => violations.push(drop_database(&s.dbname)),
            NodeEnum::AlterTableStmt(s) => {
                if let Some(table) = self.existing(s.relation.as_ref()) {
                    violations.extend(s.cmds.iter().filter_map(|cmd| match &cmd.node {
                        Some(NodeEnum::AlterTableCmd(cmd)) => alter_table(&table, cmd),
                        _ => None,
                    }));
                }
            }
            NodeEnum::AlterEnumStmt(s) => violations.extend(self.rename_enum_value(s)),
            NodeEnum::RenameStmt(s) => violations.extend(self.rename(s)),
            NodeEnum::AlterObjectSchemaStmt(s) => violations.extend(self.move_to_schema(s)),
            NodeEnum::TruncateStmt(s) => violations.extend(self.truncate(s)),
            NodeEnum::DeleteStmt(s) if s.where_clause.is_none() => {
                violations.extend(self.delete_without_where(s.relation.as_ref()))
            }
            NodeEnum::UpdateStmt(s) if s.where_clause.is_none() => {
                violations.extend(self.update_without_where(s.relation.as_ref()))
            }
            NodeEnum::IndexStmt(s) if !s.concurrent => violations.extend(self.create_index(s)),
            _ => {}
        }
        violations
    }

    /// A statement that must run outside a transaction in a migration that runs in one, or the
    /// other way round.
    fn transaction_violation(&self, statement: &NodeEnum) -> Option<Violation> {
        match concurrent_index_statement(statement) {
            Some(what) if !self.no_transaction => Some(always(
                "ban-concurrent-index-creation-in-transaction",
                format!(
                    "{what} cannot run inside a transaction block, and migrations run in one \
                     unless they opt out, so PostgreSQL would reject this migration. Put the \
                     statement {NO_TRANSACTION_HINT}."
                ),
            )),
            None if self.no_transaction => Some(always(
                "no-transaction-mixed",
                "this migration runs outside a transaction (`-- maturion:no-transaction`), so \
                 if a later statement fails, the statements before it stay applied and the \
                 migration cannot simply be retried. Only CREATE INDEX CONCURRENTLY, DROP INDEX \
                 CONCURRENTLY and REINDEX CONCURRENTLY belong in such a migration: move this \
                 statement to a separate, transactional migration."
                    .into(),
            )),
            _ => None,
        }
    }

    fn move_to_schema(&self, s: &AlterObjectSchemaStmt) -> Option<Violation> {
        let Some(kind) = relation_kind(s.object_type) else {
            return self.move_definition(s);
        };
        let name = self.existing(s.relation.as_ref())?;
        Some(breaking(
            "renaming-table",
            format!(
                "moving {kind} {name} to schema {} renames it: running code that \
                 names it with its old schema, or finds it through search_path, \
                 fails with \"relation does not exist\". Safe alternative: leave it \
                 where it is, and if code should see it under the new name, create \
                 a view there (CREATE VIEW {}.{} AS SELECT * FROM {name}).",
                s.newschema,
                s.newschema,
                s.relation.as_ref().map_or("", |r| r.relname.as_str()),
            ),
        ))
    }

    fn truncate(&self, s: &TruncateStmt) -> Option<Violation> {
        let existing: Vec<String> = s
            .relations
            .iter()
            .filter_map(|r| self.existing(range_var(r)))
            .collect();
        if existing.is_empty() {
            return None;
        }
        Some(breaking(
            "ban-truncate",
            format!(
                "TRUNCATE {} deletes every row, for every tenant at once, under an \
                 ACCESS EXCLUSIVE lock that blocks all reads and writes; running \
                 code loses data it expects to find. Safe alternative: delete only \
                 the rows you mean to, with a WHERE clause and in batches, or \
                 soft-delete them (e.g. set a deleted_at column).",
                existing.join(", ")
            ),
        ))
    }

    fn delete_without_where(&self, relation: Option<&RangeVar>) -> Option<Violation> {
        let table = self.existing(relation)?;
        Some(breaking(
            "delete-without-where",
            format!(
                "DELETE FROM {table} without WHERE removes every row, for every \
                 tenant, in one transaction that locks all of them; running code \
                 loses data it expects to find. Safe alternative: delete only the \
                 rows you mean to, with a WHERE clause and in batches, or \
                 soft-delete (e.g. set a deleted_at column) so readers can filter."
            ),
        ))
    }

    fn update_without_where(&self, relation: Option<&RangeVar>) -> Option<Violation> {
        let table = self.existing(relation)?;
        Some(breaking(
            "update-without-where",
            format!(
                "UPDATE {table} without WHERE rewrites every row in one \
                 transaction, holding a lock on each of them until it commits \
                 (blocking every concurrent writer) and bloating the table. Safe \
                 alternative: backfill in batches with a WHERE clause (e.g. by \
                 primary-key ranges); to fill a new column, give it a constant \
                 DEFAULT instead."
            ),
        ))
    }

    fn remember(&mut self, relation: Option<&RangeVar>) {
        if let Some(r) = relation {
            self.created_tables
                .insert(table_key(&r.schemaname, &r.relname));
        }
    }

    fn remember_owner_rights(&mut self, relation: Option<&RangeVar>) {
        if let Some(r) = relation {
            self.owner_rights_relations
                .insert(table_key(&r.schemaname, &r.relname));
        }
    }

    /// The display name of `relation` unless this file created it.
    fn existing(&self, relation: Option<&RangeVar>) -> Option<String> {
        let r = relation?;
        if self
            .created_tables
            .contains(&table_key(&r.schemaname, &r.relname))
        {
            return None;
        }
        Some(display_name(r))
    }

    fn create_index(&self, s: &IndexStmt) -> Option<Violation> {
        let table = self.existing(s.relation.as_ref())?;
        let unique = if s.unique { "UNIQUE " } else { "" };
        let name = if s.idxname.is_empty() {
            String::new()
        } else {
            format!("{} ", s.idxname)
        };
        Some(breaking(
            "require-concurrent-index-creation",
            format!(
                "CREATE {unique}INDEX {name}on {table} without CONCURRENTLY takes a SHARE lock \
                 that blocks every INSERT, UPDATE and DELETE on the table until the index is \
                 built, which can take minutes on a large table. Safe alternative: CREATE \
                 {unique}INDEX CONCURRENTLY {NO_TRANSACTION_HINT}."
            ),
        ))
    }

    fn drop(&self, s: &DropStmt) -> Option<Violation> {
        let object_type = ObjectType::try_from(s.remove_type).ok()?;
        let names: Vec<Vec<String>> = s.objects.iter().map(name_parts).collect();
        if self.all_created_here(object_type, &names) {
            return None;
        }
        let joined = names
            .iter()
            .map(|parts| parts.join("."))
            .collect::<Vec<_>>()
            .join(", ");
        let (rule, message) = dropped_relation(object_type, &joined, s.concurrent)
            .or_else(|| dropped_definition(object_type, &joined))
            .or_else(|| dropped_table_rule(object_type, &names))?;
        Some(breaking(rule, message))
    }

    /// Whether every dropped table, or the table of every dropped trigger or policy, was
    /// created by this file.
    fn all_created_here(&self, object_type: ObjectType, names: &[Vec<String>]) -> bool {
        let is_created = |parts: &[String]| match parts {
            [schema, table] => self.created_tables.contains(&table_key(schema, table)),
            [table] => self.created_tables.contains(&table_key("", table)),
            _ => false,
        };
        match object_type {
            ObjectType::ObjectTable | ObjectType::ObjectForeignTable => {
                names.iter().all(|parts| is_created(parts))
            }
            ObjectType::ObjectTrigger | ObjectType::ObjectPolicy => names.iter().all(|parts| {
                parts
                    .split_last()
                    .is_some_and(|(_, table)| is_created(table))
            }),
            _ => false,
        }
    }

    fn rename(&self, s: &RenameStmt) -> Option<Violation> {
        let rename_type = ObjectType::try_from(s.rename_type).ok()?;
        if matches!(
            rename_type,
            ObjectType::ObjectColumn | ObjectType::ObjectAttribute
        ) {
            let table = self.existing(s.relation.as_ref())?;
            return Some(breaking(
                "renaming-column",
                format!(
                    "renaming column {} of {table} to {} breaks every query of running code \
                     (and of the previous release, still serving during a rolling deploy) that \
                     uses the old name. Safe alternative (expand/contract): add the new column, \
                     keep both in sync (trigger or dual writes), backfill in batches, move \
                     readers and writers over, and drop the old column later.",
                    s.subname, s.newname
                ),
            ));
        }
        if let Some(violation) = self.rename_definition(s) {
            return Some(violation);
        }
        let (kind, name, alternative) = if rename_type == ObjectType::ObjectSchema {
            let alternative = "keep the schema's name, and create new objects in a new schema \
                               if code should move";
            ("schema", s.subname.clone(), alternative)
        } else {
            let alternative = "keep the old name; if code should use a new one, add a view \
                               under the new name (CREATE VIEW new_name AS SELECT * FROM \
                               old_name) and move code over";
            (
                relation_kind(s.rename_type)?,
                self.existing(s.relation.as_ref())?,
                alternative,
            )
        };
        Some(breaking(
            "renaming-table",
            format!(
                "renaming {kind} {name} to {} breaks every query of running code (and of the \
                 previous release, still serving during a rolling deploy) that uses the old \
                 name. Safe alternative: {alternative}.",
                s.newname
            ),
        ))
    }
}

/// `WITH (security_invoker = true)`: the view reads with its caller's rights (PostgreSQL 15).
fn is_security_invoker(options: &[Node]) -> bool {
    options.iter().any(|option| match &option.node {
        Some(NodeEnum::DefElem(d)) if d.defname == "security_invoker" => {
            match d.arg.as_deref().and_then(|arg| arg.node.as_ref()) {
                // A bare `security_invoker` means true.
                None => true,
                Some(NodeEnum::String(s)) => matches!(s.sval.as_str(), "true" | "on" | "1"),
                Some(NodeEnum::Integer(i)) => i.ival != 0,
                Some(NodeEnum::Boolean(b)) => b.boolval,
                Some(_) => false,
            }
        }
        _ => false,
    })
}

fn drop_database(name: &str) -> Violation {
    breaking(
        "ban-drop-database",
        format!(
            "DROP DATABASE {name} destroys a whole database with every tenant's data in it; \
             a schema migration must never do that. Remove the statement."
        ),
    )
}

/// The rule and message for dropping a schema, or a relation: a table, a view or an index.
fn dropped_relation(
    object_type: ObjectType,
    joined: &str,
    concurrent: bool,
) -> Option<(&'static str, String)> {
    Some(match object_type {
        ObjectType::ObjectTable | ObjectType::ObjectForeignTable => (
            "ban-drop-table",
            format!(
                "DROP TABLE {joined} deletes the table and all its rows: running code \
                 (and the previous release, still serving during a rolling deploy) \
                 fails with \"relation does not exist\", and down.sql cannot bring the \
                 data back. Safe alternative (expand/contract): first release code that \
                 no longer uses the table and leave the table in place; drop it only \
                 later, as a planned breaking change."
            ),
        ),
        ObjectType::ObjectSchema => (
            "ban-drop-schema",
            format!(
                "DROP SCHEMA {joined} removes the schema (and, with CASCADE, every table, \
                 view and function in it): every query of running code that names one of \
                 its objects fails. Safe alternative: first release code that no longer \
                 uses the schema and leave it in place."
            ),
        ),
        ObjectType::ObjectView | ObjectType::ObjectMatview => {
            let what = if object_type == ObjectType::ObjectView {
                "VIEW"
            } else {
                "MATERIALIZED VIEW"
            };
            (
                "ban-drop-view",
                format!(
                    "DROP {what} {joined} breaks every query of running code that reads \
                     from it. Safe alternative: keep it (CREATE OR REPLACE VIEW can change \
                     its query and add columns at the end), and create a new view beside \
                     it if the shape must change."
                ),
            )
        }
        ObjectType::ObjectIndex if !concurrent => (
            "require-concurrent-index-deletion",
            format!(
                "DROP INDEX {joined} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on \
                 the index's table, blocking all reads and writes until it finishes. Safe \
                 alternative: DROP INDEX CONCURRENTLY {NO_TRANSACTION_HINT}."
            ),
        ),
        _ => return None,
    })
}

/// The rule and message for dropping what columns, defaults and code are defined with.
fn dropped_definition(object_type: ObjectType, joined: &str) -> Option<(&'static str, String)> {
    Some(match object_type {
        ObjectType::ObjectFunction
        | ObjectType::ObjectProcedure
        | ObjectType::ObjectRoutine
        | ObjectType::ObjectAggregate => (
            "ban-drop-function",
            format!(
                "dropping {} {joined} breaks everything that calls it: running code, \
                 triggers, policies, defaults and views. Safe alternative: keep it; change \
                 its body with CREATE OR REPLACE and the same signature, or add a new \
                 function beside it and move callers over.",
                routine_kind(object_type)
            ),
        ),
        ObjectType::ObjectType | ObjectType::ObjectDomain => (
            "ban-drop-type",
            format!(
                "dropping {} {joined} breaks the columns, functions and casts that use \
                 it. Safe alternative: keep it; add a new type beside it and move its \
                 users over (an enum can grow with ALTER TYPE ... ADD VALUE).",
                if object_type == ObjectType::ObjectDomain {
                    "domain"
                } else {
                    "type"
                }
            ),
        ),
        ObjectType::ObjectSequence => (
            "ban-drop-sequence",
            format!(
                "DROP SEQUENCE {joined} breaks the column defaults and the code that call \
                 nextval() on it, so inserts start failing. Safe alternative: keep the \
                 sequence until nothing uses it any more."
            ),
        ),
        ObjectType::ObjectExtension => (
            "ban-drop-extension",
            format!(
                "DROP EXTENSION {joined} removes the functions, types and operators it \
                 provides, breaking every column, index and query that uses them. Safe \
                 alternative: keep the extension installed."
            ),
        ),
        _ => return None,
    })
}

/// The rule and message for dropping a trigger or a policy: behaviour of a table that running
/// code relies on.
fn dropped_table_rule(
    object_type: ObjectType,
    names: &[Vec<String>],
) -> Option<(&'static str, String)> {
    Some(match object_type {
        ObjectType::ObjectTrigger => (
            "ban-drop-trigger",
            format!(
                "DROP TRIGGER {} silently stops behaviour running code relies on (audit \
                 rows, derived columns, tenant checks). Safe alternative: change what it \
                 does with CREATE OR REPLACE FUNCTION on its trigger function, or when it \
                 fires with CREATE OR REPLACE TRIGGER.",
                on_tables(names)
            ),
        ),
        ObjectType::ObjectPolicy => (
            "ban-drop-policy",
            format!(
                "DROP POLICY {} changes who may see and change which rows: with row level \
                 security on, it either hides rows from running code or, if a broader \
                 permissive policy remains, opens rows across tenants. Safe alternative: \
                 change the policy in place with ALTER POLICY ... USING (...) WITH CHECK \
                 (...).",
                on_tables(names)
            ),
        ),
        _ => return None,
    })
}

/// Dropped triggers or policies as `name on table`: their name comes after their table's.
fn on_tables(names: &[Vec<String>]) -> String {
    names
        .iter()
        .map(|parts| match parts.split_last() {
            Some((name, table)) => format!("{name} on {}", table.join(".")),
            None => String::new(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY` or `REINDEX … CONCURRENTLY`: the
/// statements that must run outside a transaction.
fn concurrent_index_statement(statement: &NodeEnum) -> Option<&'static str> {
    match statement {
        NodeEnum::IndexStmt(s) if s.concurrent => Some("CREATE INDEX CONCURRENTLY"),
        NodeEnum::DropStmt(s)
            if s.concurrent && s.remove_type == ObjectType::ObjectIndex as i32 =>
        {
            Some("DROP INDEX CONCURRENTLY")
        }
        NodeEnum::ReindexStmt(s)
            if s.params.iter().any(
                |p| matches!(&p.node, Some(NodeEnum::DefElem(d)) if d.defname == "concurrently"),
            ) =>
        {
            Some("REINDEX CONCURRENTLY")
        }
        _ => None,
    }
}

/// The rules for one `ALTER TABLE` subcommand on an existing table.
fn alter_table(table: &str, cmd: &AlterTableCmd) -> Option<Violation> {
    let subtype = AlterTableType::try_from(cmd.subtype).ok()?;
    match subtype {
        AlterTableType::AtAddColumn => match cmd.def.as_ref()?.node.as_ref()? {
            NodeEnum::ColumnDef(def) => add_column(table, def),
            _ => None,
        },
        AlterTableType::AtAddConstraint => match cmd.def.as_ref()?.node.as_ref()? {
            NodeEnum::Constraint(c) => add_constraint(table, c),
            _ => None,
        },
        _ => change_column(table, &cmd.name, subtype)
            .or_else(|| drop_default(table, &cmd.name, subtype, cmd.def.is_some()))
            .or_else(|| weaken_guarantee(table, &cmd.name, subtype)),
    }
}

/// Dropping a column or changing its type or nullability.
fn change_column(table: &str, column: &str, subtype: AlterTableType) -> Option<Violation> {
    let violation = match subtype {
        AlterTableType::AtDropColumn => breaking(
            "ban-drop-column",
            format!(
                "dropping column {column} of {table} breaks every query, view and INSERT of \
                 running code (and of the previous release, still serving during a rolling \
                 deploy) that names the column. Safe alternative (expand/contract): first \
                 release code that no longer reads or writes it, leaving the column in place \
                 (give it a DEFAULT if writers must be able to omit it); drop it later, as a \
                 planned breaking change."
            ),
        ),
        AlterTableType::AtAlterColumnType => breaking(
            "changing-column-type",
            format!(
                "changing the type of column {column} of {table} rewrites the whole table and \
                 its indexes under an ACCESS EXCLUSIVE lock, blocking all reads and writes, and \
                 running code that reads or writes the old type may break. Safe alternative \
                 (expand/contract): add a new column with the new type, keep both in sync \
                 (trigger or dual writes), backfill in batches, move readers over, and drop the \
                 old column later."
            ),
        ),
        AlterTableType::AtSetNotNull => breaking(
            "ban-set-not-null",
            format!(
                "SET NOT NULL on column {column} of {table} scans the whole table under an \
                 ACCESS EXCLUSIVE lock, blocking all reads and writes, and makes running code \
                 that writes NULL there fail. Safe alternative: once no code writes NULL, ADD \
                 CONSTRAINT {column}_not_null CHECK ({column} IS NOT NULL) NOT VALID, then ALTER \
                 TABLE {table} VALIDATE CONSTRAINT {column}_not_null in a later migration (it \
                 does not block reads or writes); the validated CHECK enforces the same rule."
            ),
        ),
        AlterTableType::AtDropNotNull => breaking(
            "ban-drop-not-null",
            format!(
                "DROP NOT NULL on column {column} of {table} lets NULL in where running code \
                 (and the previous release) assumes there is always a value, so readers may \
                 crash on the first NULL. Safe alternative: keep the column NOT NULL (give it a \
                 DEFAULT if writers must be able to omit it), or add a new nullable column if \
                 the data model really changes."
            ),
        ),
        _ => return None,
    };
    Some(violation)
}

/// Dropping a column's default or identity, which writers that omit the column rely on.
/// `has_new_default`: an `AT_ColumnDefault` that sets a default rather than dropping it.
fn drop_default(
    table: &str,
    column: &str,
    subtype: AlterTableType,
    has_new_default: bool,
) -> Option<Violation> {
    let violation = match subtype {
        AlterTableType::AtColumnDefault if !has_new_default => breaking(
            "ban-drop-default",
            format!(
                "DROP DEFAULT on column {column} of {table} breaks every INSERT of running code \
                 (and of the previous release, still serving during a rolling deploy) that \
                 leaves the column out and relies on the default: it then stores NULL, or fails \
                 on a NOT NULL column. Safe alternative: keep the default, or SET DEFAULT to the \
                 new value; drop it only once no writer omits the column, as a planned breaking \
                 change."
            ),
        ),
        AlterTableType::AtDropIdentity => breaking(
            "ban-drop-default",
            format!(
                "DROP IDENTITY on column {column} of {table} removes the sequence that fills it: \
                 every INSERT of running code that leaves the column out then fails on NULL. \
                 Safe alternative: keep the identity; to change how values are made, ALTER \
                 COLUMN {column} SET GENERATED / RESTART, which keeps inserts working."
            ),
        ),
        _ => return None,
    };
    Some(violation)
}

/// Dropping a constraint or turning row level security off: a guarantee running code relies on.
fn weaken_guarantee(table: &str, constraint: &str, subtype: AlterTableType) -> Option<Violation> {
    let violation = match subtype {
        AlterTableType::AtDropConstraint => breaking(
            "ban-drop-constraint",
            format!(
                "dropping constraint {constraint} of {table} removes a guarantee running code relies \
                 on (uniqueness for ON CONFLICT, referential integrity, valid values) and, for a \
                 UNIQUE or PRIMARY KEY constraint, the index behind it. Safe alternative: keep \
                 it; to change a rule, add the new constraint beside it first (NOT VALID, then \
                 VALIDATE CONSTRAINT)."
            ),
        ),
        AlterTableType::AtDisableRowSecurity => breaking(
            "ban-disable-rls",
            format!(
                "DISABLE ROW LEVEL SECURITY on {table} turns off tenant isolation: every role \
                 that can read the table then sees and changes every tenant's rows. Safe \
                 alternative: keep row level security enabled and change what a role may see \
                 with CREATE POLICY or ALTER POLICY."
            ),
        ),
        AlterTableType::AtNoForceRowSecurity => breaking(
            "ban-disable-rls",
            format!(
                "NO FORCE ROW LEVEL SECURITY on {table} exempts the table's owner from its \
                 policies, so code connecting as the owner sees and changes every tenant's rows. \
                 Safe alternative: keep row level security forced and change what a role may \
                 see with CREATE POLICY or ALTER POLICY."
            ),
        ),
        _ => return None,
    };
    Some(violation)
}

fn add_column(table: &str, def: &ColumnDef) -> Option<Violation> {
    let column = &def.colname;
    let constraints = column_constraints(def);
    let has = |t: ConstrType| constraints.iter().any(|c| c.contype == t as i32);
    let default = def.raw_default.as_deref().or_else(|| {
        constraints
            .iter()
            .find(|c| c.contype == ConstrType::ConstrDefault as i32)
            .and_then(|c| c.raw_expr.as_deref())
    });
    if let Some(what) = per_row_value(def, &constraints, default) {
        return Some(breaking(
            "adding-field-with-volatile-default",
            format!(
                "adding column {column} to {table} with {what} rewrites the whole table to give \
                 every existing row its own value, holding an ACCESS EXCLUSIVE lock that blocks \
                 all reads and writes until it is done. Safe \
                 alternative: add the column without a default (or with a constant or stable \
                 one such as now()), then ALTER COLUMN {column} SET DEFAULT so new rows get the \
                 value, and backfill existing rows in batches."
            ),
        ));
    }

    let not_null =
        def.is_not_null || has(ConstrType::ConstrNotnull) || has(ConstrType::ConstrPrimary);
    if not_null && default.is_none() {
        return Some(breaking(
            "adding-not-nullable-field",
            format!(
                "adding column {column} to {table} as NOT NULL without a DEFAULT fails on a table \
                 that has rows, and on an empty one it breaks every INSERT of running code that \
                 does not name the new column. Safe alternative: add the column with a constant \
                 DEFAULT (a metadata-only change), or add it nullable, backfill it, and enforce \
                 NOT NULL later with a CHECK (...) NOT VALID constraint."
            ),
        ));
    }

    if has(ConstrType::ConstrUnique) || has(ConstrType::ConstrPrimary) {
        return Some(breaking(
            "disallowed-unique-constraint",
            format!(
                "adding column {column} to {table} with an inline UNIQUE or PRIMARY KEY builds \
                 its index under an ACCESS EXCLUSIVE lock, blocking all reads and writes. Safe \
                 alternative: add the plain column, CREATE UNIQUE INDEX CONCURRENTLY \
                 {NO_TRANSACTION_HINT}, then ADD CONSTRAINT ... UNIQUE USING INDEX in the next \
                 one."
            ),
        ));
    }
    None
}

fn column_constraints(def: &ColumnDef) -> Vec<&Constraint> {
    def.constraints
        .iter()
        .filter_map(|n| match &n.node {
            Some(NodeEnum::Constraint(c)) => Some(&**c),
            _ => None,
        })
        .collect()
}

/// What fills each existing row of a new column with a value of its own, forcing a table
/// rewrite.
fn per_row_value(
    def: &ColumnDef,
    constraints: &[&Constraint],
    default: Option<&Node>,
) -> Option<String> {
    let has = |t: ConstrType| constraints.iter().any(|c| c.contype == t as i32);
    let type_name = def
        .type_name
        .as_ref()
        .and_then(|t| t.names.last())
        .map(string_value);
    let serial = type_name.filter(|t| SERIAL_TYPES.contains(t));
    if let Some(serial) = serial {
        Some(format!("type {serial} (a nextval() default)"))
    } else if has(ConstrType::ConstrIdentity) {
        Some("GENERATED ... AS IDENTITY (a sequence default)".to_string())
    } else if has(ConstrType::ConstrGenerated) {
        Some("GENERATED ALWAYS AS (...) STORED".to_string())
    } else {
        default
            .and_then(volatile_function)
            .map(|f| format!("the volatile default {f}()"))
    }
}

fn add_constraint(table: &str, c: &Constraint) -> Option<Violation> {
    let name = if c.conname.is_empty() {
        String::new()
    } else {
        format!("{} ", c.conname)
    };
    let validate = if c.conname.is_empty() {
        "<name>"
    } else {
        c.conname.as_str()
    };
    let violation = match ConstrType::try_from(c.contype).ok()? {
        ConstrType::ConstrForeign if !c.skip_validation => {
            let referenced = c.pktable.as_ref().map_or_else(String::new, display_name);
            breaking(
                "adding-foreign-key-constraint",
                format!(
                    "adding foreign key {name}on {table} without NOT VALID checks every \
                     existing row while holding a SHARE ROW EXCLUSIVE lock on both {table} and \
                     {referenced}, blocking writes to both. Safe alternative: ADD CONSTRAINT ... \
                     FOREIGN KEY ... NOT VALID (new rows are checked at once), then ALTER TABLE \
                     {table} VALIDATE CONSTRAINT {validate} in a later migration, which does not \
                     block writes."
                ),
            )
        }
        ConstrType::ConstrCheck if !c.skip_validation => breaking(
            "constraint-missing-not-valid",
            format!(
                "adding CHECK constraint {name}on {table} without NOT VALID scans every row \
                 while holding an ACCESS EXCLUSIVE lock, blocking all reads and writes. Safe \
                 alternative: ADD CONSTRAINT ... CHECK (...) NOT VALID (new rows are checked at \
                 once), then ALTER TABLE {table} VALIDATE CONSTRAINT {validate} in a later \
                 migration, which does not block reads or writes."
            ),
        ),
        kind @ (ConstrType::ConstrUnique | ConstrType::ConstrPrimary) if c.indexname.is_empty() => {
            let what = if kind == ConstrType::ConstrUnique {
                "UNIQUE"
            } else {
                "PRIMARY KEY"
            };
            breaking(
                "disallowed-unique-constraint",
                format!(
                    "adding {what} constraint {name}on {table} builds its index while holding an \
                     ACCESS EXCLUSIVE lock, blocking all reads and writes. Safe alternative: \
                     CREATE UNIQUE INDEX CONCURRENTLY {NO_TRANSACTION_HINT}, then ALTER TABLE \
                     {table} ADD CONSTRAINT {validate} {what} USING INDEX <index> in the next \
                     one, which only takes a brief lock."
                ),
            )
        }
        _ => return None,
    };
    Some(violation)
}

/// The first known volatile function called anywhere in `expr`.
fn volatile_function(expr: &Node) -> Option<&'static str> {
    expr.node
        .as_ref()?
        .nodes()
        .into_iter()
        .find_map(|(node, ..)| match node {
            NodeRef::FuncCall(call) => {
                let name = call.funcname.last().map(string_value)?.to_ascii_lowercase();
                VOLATILE_FUNCTIONS.iter().find(|f| **f == name).copied()
            }
            _ => None,
        })
}

fn routine_kind(object_type: ObjectType) -> &'static str {
    match object_type {
        ObjectType::ObjectProcedure => "procedure",
        ObjectType::ObjectRoutine => "routine",
        ObjectType::ObjectAggregate => "aggregate",
        _ => "function",
    }
}

/// "table", "view", … for the relation kinds a rename or a schema move breaks.
fn relation_kind(object_type: i32) -> Option<&'static str> {
    match ObjectType::try_from(object_type).ok()? {
        ObjectType::ObjectTable => Some("table"),
        ObjectType::ObjectForeignTable => Some("foreign table"),
        ObjectType::ObjectView => Some("view"),
        ObjectType::ObjectMatview => Some("materialized view"),
        _ => None,
    }
}

/// Identifies a table the way PostgreSQL resolves it by default: `public.t` and `t` are the
/// same table. The parser has already folded unquoted names to lower case and removed quotes.
fn table_key(schema: &str, table: &str) -> String {
    if schema.is_empty() || schema == "public" {
        table.to_string()
    } else {
        format!("{schema}.{table}")
    }
}

fn display_name(r: &RangeVar) -> String {
    if r.schemaname.is_empty() {
        r.relname.clone()
    } else {
        format!("{}.{}", r.schemaname, r.relname)
    }
}

fn range_var(node: &Node) -> Option<&RangeVar> {
    match &node.node {
        Some(NodeEnum::RangeVar(r)) => Some(r),
        _ => None,
    }
}

/// The dotted name parts of a dropped object, whatever node the parser wraps them in.
fn name_parts(node: &Node) -> Vec<String> {
    let strings = |nodes: &[Node]| nodes.iter().map(|n| string_value(n).to_string()).collect();
    match &node.node {
        Some(NodeEnum::String(s)) => vec![s.sval.clone()],
        Some(NodeEnum::List(list)) => strings(&list.items),
        Some(NodeEnum::ObjectWithArgs(o)) => strings(&o.objname),
        Some(NodeEnum::TypeName(t)) => strings(&t.names),
        _ => Vec::new(),
    }
}

fn string_value(node: &Node) -> &str {
    match &node.node {
        Some(NodeEnum::String(s)) => &s.sval,
        _ => "",
    }
}
