//! What belongs to the platform and keeps tenants apart: its triggers, its logs and its
//! functions. A module's migration may switch none of them off, change none of them and
//! redefine none of them.

use pg_query::protobuf::{
    a_const, AConst, AlterTableCmd, AlterTableType, DropStmt, Node, ObjectType, RangeVar,
    ScanToken, Token, VariableSetKind, VariableSetStmt,
};
use pg_query::NodeEnum;

use super::dynamic::{identifier, routine_key};
use super::privileges::role_violation;
use super::{display_name, name_parts, platform_only, range_var, table_key, Checker, Violation};
use crate::source::Statement;

/// Schemas only the platform's migrations create objects in.
const PLATFORM_SCHEMAS: &[&str] = &["maturion", "maturion_migrations"];

/// The platform's functions outside its schemas (in `public`, so that every table's
/// default can name them unqualified). A test checks the platform's migrations against it.
pub(crate) const PLATFORM_PUBLIC_FUNCTIONS: &[&str] = &["generate_uuidv7"];

/// The triggers `maturion.enable_tenant_isolation` puts on every tenant table.
const TENANT_TABLE_TRIGGERS: &[&str] = &[
    "require_tenant_context",
    "stamp_audit_fields",
    "audit_trail",
    "stamp_organisation",
];

/// The append-only logs; their partitions and rollups are named `<log>_…`.
const LOG_TABLES: &[&str] = &["audit_log", "event_log"];

const TRIGGER_RULE: &str = "ban-disable-trigger";
const LOG_RULE: &str = "ban-log-table-change";
const FUNCTION_RULE: &str = "ban-platform-function-change";

impl Checker {
    pub(super) fn platform(&self, statement: &Statement) -> Vec<Violation> {
        let mut violations = self.platform_node(&statement.node);
        violations.extend(
            settings(&statement.node)
                .into_iter()
                .filter_map(|setting| setting_violation(&setting.name, &setting.value)),
        );
        violations.extend(set_config_calls(&statement.text));
        violations
    }

    fn platform_node(&self, node: &NodeEnum) -> Vec<Violation> {
        match node {
            NodeEnum::AlterTableStmt(s) => {
                let table = s.relation.as_ref().map(display_name).unwrap_or_default();
                let mut violations: Vec<Violation> = s
                    .cmds
                    .iter()
                    .filter_map(|cmd| match &cmd.node {
                        Some(NodeEnum::AlterTableCmd(cmd)) => switch_trigger(&table, cmd),
                        _ => None,
                    })
                    .collect();
                violations.extend(self.log_change(s.relation.as_ref(), "ALTER TABLE"));
                violations
            }
            NodeEnum::CreateFunctionStmt(s) => {
                let key = routine_key(s);
                let what = if s.replace {
                    "CREATE OR REPLACE FUNCTION"
                } else {
                    "CREATE FUNCTION"
                };
                is_platform_function(&key)
                    .then(|| redefine_function(what, &key))
                    .into_iter()
                    .collect()
            }
            NodeEnum::AlterFunctionStmt(s) => {
                let key = s.func.as_ref().map(|f| parts_key(&f.objname));
                self.foreign_routine(key, "ALTER FUNCTION")
            }
            NodeEnum::DropStmt(s) => self.drop_platform(s),
            NodeEnum::RenameStmt(s) => {
                let key = function_key(s.rename_type, s.object.as_deref());
                key.filter(|k| is_platform_function(k))
                    .map(|k| redefine_function("renaming", &k))
                    .into_iter()
                    .chain(self.log_statement(node))
                    .collect()
            }
            NodeEnum::AlterObjectSchemaStmt(s) => {
                let key = function_key(s.object_type, s.object.as_deref());
                key.filter(|k| is_platform_function(k))
                    .map(|k| redefine_function("moving", &k))
                    .into_iter()
                    .chain(self.log_statement(node))
                    .collect()
            }
            NodeEnum::UpdateStmt(s)
                if s.relation
                    .as_ref()
                    .is_some_and(|r| r.relname == "pg_settings") =>
            {
                vec![trigger_violation("UPDATE pg_settings (which works as SET)")]
            }
            NodeEnum::CreateTrigStmt(_) | NodeEnum::RuleStmt(_) => self
                .tenant_trigger_change(node)
                .into_iter()
                .chain(self.log_statement(node))
                .collect(),
            other => self.log_statement(other).into_iter().collect(),
        }
    }

    /// Replacing a tenant-table trigger, or a rewrite rule on a table serving traffic.
    fn tenant_trigger_change(&self, node: &NodeEnum) -> Option<Violation> {
        match node {
            NodeEnum::CreateTrigStmt(s)
                if s.replace && TENANT_TABLE_TRIGGERS.contains(&s.trigname.as_str()) =>
            {
                Some(trigger_violation(&format!(
                    "CREATE OR REPLACE TRIGGER {}",
                    s.trigname
                )))
            }
            NodeEnum::RuleStmt(s) => {
                let table = self.existing(s.relation.as_ref())?;
                Some(trigger_violation(&format!(
                    "CREATE RULE {} ON {table}",
                    s.rulename
                )))
            }
            _ => None,
        }
    }

    /// ALTER FUNCTION on a function the migration did not create, or on one of the platform's.
    fn foreign_routine(&self, key: Option<String>, what: &str) -> Vec<Violation> {
        let Some(key) = key else { return Vec::new() };
        if is_platform_function(&key) || !self.created_routines.contains_key(&key) {
            return vec![redefine_function(what, &key)];
        }
        Vec::new()
    }

    fn drop_platform(&self, s: &DropStmt) -> Vec<Violation> {
        let object_type = ObjectType::try_from(s.remove_type).unwrap_or(ObjectType::Undefined);
        let names: Vec<Vec<String>> = s.objects.iter().map(name_parts).collect();
        let key = |parts: &[String]| match parts {
            [.., schema, name] => table_key(schema, name),
            [name] => table_key("", name),
            [] => String::new(),
        };
        match object_type {
            ObjectType::ObjectFunction
            | ObjectType::ObjectProcedure
            | ObjectType::ObjectRoutine => names
                .iter()
                .map(|parts| key(parts))
                .filter(|k| is_platform_function(k))
                .map(|k| redefine_function("DROP FUNCTION", &k))
                .collect(),
            // A trigger or policy is named after its table: `name on table`.
            ObjectType::ObjectTable | ObjectType::ObjectTrigger | ObjectType::ObjectPolicy => {
                let table_parts = |parts: &[String]| match object_type {
                    ObjectType::ObjectTable => parts.to_vec(),
                    _ => parts
                        .split_last()
                        .map(|(_, t)| t.to_vec())
                        .unwrap_or_default(),
                };
                let tenant_trigger = names.iter().find(|parts| {
                    object_type == ObjectType::ObjectTrigger
                        && parts
                            .last()
                            .is_some_and(|name| TENANT_TABLE_TRIGGERS.contains(&name.as_str()))
                });
                names
                    .iter()
                    .map(|parts| table_parts(parts))
                    .find(|parts| is_log_name(parts) && !self.created_here(parts))
                    .map(|parts| log_violation("DROP", &parts.join(".")))
                    .into_iter()
                    .chain(tenant_trigger.map(|parts| {
                        trigger_violation(&format!("DROP TRIGGER {}", parts.join(".")))
                    }))
                    .collect()
            }
            _ => Vec::new(),
        }
    }
}

impl Checker {
    /// A write, a rename, a new trigger, policy or partition on a log table.
    fn log_statement(&self, node: &NodeEnum) -> Option<Violation> {
        let (relation, what) = match node {
            NodeEnum::InsertStmt(s) => (s.relation.as_ref(), "INSERT INTO"),
            NodeEnum::UpdateStmt(s) => (s.relation.as_ref(), "UPDATE"),
            NodeEnum::DeleteStmt(s) => (s.relation.as_ref(), "DELETE FROM"),
            NodeEnum::CopyStmt(s) if s.is_from => (s.relation.as_ref(), "COPY INTO"),
            NodeEnum::TruncateStmt(s) => (
                s.relations
                    .iter()
                    .find_map(|r| range_var(r).filter(|r| is_log(r))),
                "TRUNCATE",
            ),
            NodeEnum::RenameStmt(s) => (s.relation.as_ref(), "renaming"),
            NodeEnum::AlterObjectSchemaStmt(s) => (s.relation.as_ref(), "moving"),
            NodeEnum::CreateTrigStmt(s) => (s.relation.as_ref(), "CREATE TRIGGER on"),
            NodeEnum::CreatePolicyStmt(s) => (s.table.as_ref(), "CREATE POLICY on"),
            NodeEnum::AlterPolicyStmt(s) => (s.table.as_ref(), "ALTER POLICY on"),
            NodeEnum::CreateStmt(s) => (
                s.inh_relations
                    .iter()
                    .find_map(|r| range_var(r).filter(|r| is_log(r))),
                "CREATE TABLE ... PARTITION OF / INHERITS",
            ),
            _ => return None,
        };
        self.log_change(relation, what)
    }

    /// `what` on `relation`, if it is a log table this migration did not create.
    fn log_change(&self, relation: Option<&RangeVar>, what: &str) -> Option<Violation> {
        let relation = relation.filter(|r| is_log(r))?;
        self.existing(Some(relation))?;
        Some(log_violation(what, &display_name(relation)))
    }

    fn created_here(&self, parts: &[String]) -> bool {
        match parts {
            [schema, table] => self.created_tables.contains(&table_key(schema, table)),
            [table] => self.created_tables.contains(&table_key("", table)),
            _ => false,
        }
    }
}

fn is_platform_function(key: &str) -> bool {
    match key.split_once('.') {
        Some((schema, _)) => PLATFORM_SCHEMAS.contains(&schema),
        None => PLATFORM_PUBLIC_FUNCTIONS.contains(&key),
    }
}

/// The `schema.name` key of a function, procedure or routine object.
fn function_key(object_type: i32, object: Option<&Node>) -> Option<String> {
    let routine = matches!(
        ObjectType::try_from(object_type).ok()?,
        ObjectType::ObjectFunction | ObjectType::ObjectProcedure | ObjectType::ObjectRoutine
    );
    let parts = name_parts(object?);
    routine.then(|| match parts.as_slice() {
        [.., schema, name] => table_key(schema, name),
        [name] => table_key("", name),
        [] => String::new(),
    })
}

fn parts_key(parts: &[Node]) -> String {
    let parts: Vec<&str> = parts.iter().map(super::string_value).collect();
    match parts.as_slice() {
        [.., schema, name] => table_key(schema, name),
        [name] => table_key("", name),
        [] => String::new(),
    }
}

fn redefine_function(what: &str, key: &str) -> Violation {
    platform_only(
        FUNCTION_RULE,
        format!(
            "{what} {key} changes a function this migration did not create. The platform's \
             functions (schema maturion, and {}) are what its policies, triggers and \
             defaults call to keep tenants apart and audit every write, and another module's \
             functions are that module's contract: a new body here runs for everyone, with \
             the owner's rights. Safe alternative: create a function of your own, under your \
             module's name, and call it from your own tables; ask for a platform change if \
             the platform's behaviour must change.",
            PLATFORM_PUBLIC_FUNCTIONS.join(", ")
        ),
    )
}

/// DISABLE TRIGGER (any name, ALL or USER), ENABLE REPLICA / ALWAYS TRIGGER and their rule
/// counterparts: a trigger that stops firing in ordinary sessions, or changes when it fires.
fn switch_trigger(table: &str, cmd: &AlterTableCmd) -> Option<Violation> {
    let subtype = AlterTableType::try_from(cmd.subtype).ok()?;
    let name = if cmd.name.is_empty() {
        ""
    } else {
        cmd.name.as_str()
    };
    let what = match subtype {
        AlterTableType::AtDisableTrig => format!("DISABLE TRIGGER {name}"),
        AlterTableType::AtDisableTrigAll => "DISABLE TRIGGER ALL".to_string(),
        AlterTableType::AtDisableTrigUser => "DISABLE TRIGGER USER".to_string(),
        AlterTableType::AtEnableReplicaTrig => format!("ENABLE REPLICA TRIGGER {name}"),
        AlterTableType::AtEnableAlwaysTrig => format!("ENABLE ALWAYS TRIGGER {name}"),
        AlterTableType::AtDisableRule => format!("DISABLE RULE {name}"),
        AlterTableType::AtEnableReplicaRule => format!("ENABLE REPLICA RULE {name}"),
        AlterTableType::AtEnableAlwaysRule => format!("ENABLE ALWAYS RULE {name}"),
        _ => return None,
    };
    Some(trigger_violation(&format!("ALTER TABLE {table} {what}")))
}

fn trigger_violation(what: &str) -> Violation {
    platform_only(
        TRIGGER_RULE,
        format!(
            "{what} changes whether triggers fire. The platform's triggers on every tenant \
             table (tenant context, audit fields, the audit trail) and on the logs (append-only \
             guards) are how tenants stay apart and every write stays audited; switched off or \
             moved to replica-only firing, writes go through unchecked and unaudited. Safe \
             alternative: leave triggers enabled; to change what your own trigger does, CREATE \
             OR REPLACE its function, or CREATE OR REPLACE TRIGGER ... WHEN (...) to narrow when \
             it fires."
        ),
    )
}

/// A setting a statement makes: SET, SET LOCAL, and the SET clauses of functions, roles and
/// databases.
struct Setting {
    name: String,
    /// The new value as written, lower case; empty for RESET.
    value: String,
}

fn settings(node: &NodeEnum) -> Vec<Setting> {
    let from_options = |options: &[Node]| -> Vec<Setting> {
        options
            .iter()
            .filter_map(|option| match &option.node {
                Some(NodeEnum::DefElem(d)) if d.defname == "set" => {
                    match d.arg.as_deref()?.node.as_ref()? {
                        NodeEnum::VariableSetStmt(v) => Some(setting(v)),
                        _ => None,
                    }
                }
                _ => None,
            })
            .collect()
    };
    match node {
        NodeEnum::VariableSetStmt(v) => vec![setting(v)],
        NodeEnum::CreateFunctionStmt(s) => from_options(&s.options),
        NodeEnum::AlterFunctionStmt(s) => from_options(&s.actions),
        NodeEnum::AlterRoleSetStmt(s) => s.setstmt.iter().map(setting).collect(),
        NodeEnum::AlterDatabaseSetStmt(s) => s.setstmt.iter().map(setting).collect(),
        _ => Vec::new(),
    }
}

fn setting(v: &VariableSetStmt) -> Setting {
    let value = if v.kind == VariableSetKind::VarSetValue as i32 {
        v.args
            .iter()
            .map(|arg| match &arg.node {
                Some(NodeEnum::AConst(AConst {
                    val: Some(a_const::Val::Sval(s)),
                    ..
                })) => s.sval.to_ascii_lowercase(),
                // Numbers, booleans and expressions name no schema; keep them visible.
                _ => "?".to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        String::new()
    };
    Setting {
        name: v.name.to_ascii_lowercase(),
        value,
    }
}

fn setting_violation(name: &str, value: &str) -> Option<Violation> {
    match name {
        "session_replication_role" if !value.is_empty() && value != "origin" => Some(
            trigger_violation(&format!("setting session_replication_role ({value})")),
        ),
        "role" | "session_authorization" => Some(role_violation(&format!("setting {name}"))),
        "search_path" if PLATFORM_SCHEMAS.iter().any(|schema| value.contains(schema)) => {
            Some(platform_only(
                FUNCTION_RULE,
                format!(
                    "setting search_path to include the platform's schema ({value}) makes \
                     unqualified names in this migration resolve to the platform's objects, so \
                     that CREATE OR REPLACE FUNCTION or DROP on a bare name reaches them. Safe \
                     alternative: keep the search_path the migration engine sets (public) and \
                     call the platform's functions schema-qualified (maturion.function(...))."
                ),
            ))
        }
        _ => None,
    }
}

/// Calls of set_config anywhere in the statement whose first argument names a setting the
/// rules guard, or is not a plain literal (so could name any).
fn set_config_calls(text: &str) -> Vec<Violation> {
    let Ok(scan) = pg_query::scan_tokens(text) else {
        return Vec::new();
    };
    let slice = |token: &ScanToken| {
        let start = usize::try_from(token.start).ok()?;
        let end = usize::try_from(token.end).ok()?;
        text.get(start..end)
    };
    scan.windows(4)
        .filter(|w| {
            slice(&w[0]).map(identifier).as_deref() == Some("set_config")
                && w[1].token == Token::Ascii40 as i32
        })
        .filter_map(|w| {
            // A plain literal argument: a string constant and then the comma.
            let literal = slice(&w[2]).filter(|_| {
                w[2].token == Token::Sconst as i32 && w[3].token == Token::Ascii44 as i32
            });
            let name = literal
                .and_then(|l| l.strip_prefix('\'')?.strip_suffix('\''))
                .filter(|name| !name.contains('\''))
                .map(str::to_ascii_lowercase);
            match name.as_deref() {
                // The value is an expression: judge it as if it named every schema it could.
                Some("search_path") => setting_violation("search_path", PLATFORM_SCHEMAS[0]),
                Some(name) => setting_violation(name, "any"),
                None => Some(trigger_violation(
                    "a set_config call whose setting name is not a plain literal (it could be \
                     session_replication_role)",
                )),
            }
        })
        .collect()
}

fn is_log(r: &RangeVar) -> bool {
    matches!(r.schemaname.as_str(), "" | "public") && is_log_table(&r.relname)
}

fn is_log_name(parts: &[String]) -> bool {
    match parts {
        [schema, table] if schema == "public" => is_log_table(table),
        [table] => is_log_table(table),
        _ => false,
    }
}

/// `audit_log`, `event_log`, and their partitions and rollups (`audit_log_p2027_03`, …).
fn is_log_table(name: &str) -> bool {
    LOG_TABLES.iter().any(|log| {
        name.strip_prefix(log)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
    })
}

fn log_violation(what: &str, table: &str) -> Violation {
    platform_only(
        LOG_RULE,
        format!(
            "{what} {table} touches the platform's append-only logs (audit_log, event_log, \
             their partitions and rollups). They are the evidence of who did what, and the \
             history events are replayed from: detaching a partition takes its rows out of \
             every reader's view and out of the guards, and any change here can forge or hide \
             history for every tenant. Safe alternative: leave the logs to the platform \
             (partitions, retention and legal holds are run by `maturion maintain`); write \
             your module's events with the platform's publishing functions."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tables_are_the_logs_their_partitions_and_rollups() {
        for name in [
            "audit_log",
            "event_log",
            "audit_log_p2027_03",
            "event_log_default",
            "audit_log_hourly",
        ] {
            assert!(is_log_table(name), "{name}");
        }
        for name in ["audit_logs", "my_audit_log", "event_logger", "risks"] {
            assert!(!is_log_table(name), "{name}");
        }
    }

    /// Every function the platform's migrations create is one `is_platform_function` knows,
    /// so that a new one in `public` cannot be redefined by a module unnoticed.
    #[test]
    fn every_function_of_the_platform_is_known_as_the_platform_s() {
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut functions = Vec::new();
        for krate in std::fs::read_dir(crates).unwrap() {
            let Ok(folders) = std::fs::read_dir(krate.unwrap().path().join("migrations")) else {
                continue;
            };
            for folder in folders {
                let sql = std::fs::read_to_string(folder.unwrap().path().join("up.sql")).unwrap();
                for statement in crate::source::statements(&sql).unwrap() {
                    if let NodeEnum::CreateFunctionStmt(s) = &statement.node {
                        functions.push(routine_key(s));
                    }
                }
            }
        }
        assert!(functions.len() > 20, "found {functions:?}");
        let unknown: Vec<&String> = functions
            .iter()
            .filter(|key| !is_platform_function(key))
            .collect();
        assert!(
            unknown.is_empty(),
            "add to PLATFORM_PUBLIC_FUNCTIONS: {unknown:?}"
        );
    }
}
