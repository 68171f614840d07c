//! Rules about what the runtime roles can do to every tenant at once, and about the platform's
//! own machinery (its triggers, its guards, its schema) staying switched on.

use crate::catalog::{Catalog, RuntimeRole, Table, Trigger, ALWAYS_FIRING_GUARDS};
use crate::report::Violation;
use crate::rules::{ident, literal};

/// What each runtime role may hold on a table the architecture governs: the application
/// deletes softly (spec §3.5), the read-only role only reads.
const APP_TABLE_PRIVILEGES: [&str; 3] = ["SELECT", "INSERT", "UPDATE"];
const READONLY_TABLE_PRIVILEGES: [&str; 1] = ["SELECT"];

/// In a table's COMMENT, marks a table only the platform's own functions write (event_log:
/// `maturion.publish_events` and the permission trigger): the runtime roles may only read it,
/// or they could forge what the platform records there.
const PLATFORM_WRITES_MARKER: &str = "@platform-writes";

/// A database without the tenant root has no platform schema: whatever tables it has, none
/// of the isolation the check looks for can be in place.
pub(crate) fn platform_schema(catalog: &Catalog, out: &mut Vec<Violation>) {
    if catalog.tables.iter().any(|table| table.is_tenant_root) {
        return;
    }
    out.push(Violation::new(
        "no-platform-schema",
        format!("database {}", ident(&catalog.database)),
        format!(
            "has no public.organisations, the tenant root of every tenant table: the platform's \
             migrations have not run here, so the {} table(s) checked prove nothing; run `maturion \
             migrate up` against this database (or check that this is the platform's database)",
            catalog.tables.len()
        ),
    ));
}

/// Every platform trigger fires as the platform attached it.
pub(crate) fn platform_triggers(triggers: &[Trigger], out: &mut Vec<Violation>) {
    for trigger in triggers {
        let expected = if ALWAYS_FIRING_GUARDS.contains(&trigger.function.as_str()) {
            "A"
        } else {
            "O"
        };
        if trigger.firing == expected {
            continue;
        }
        let state = match trigger.firing.as_str() {
            "D" => "is disabled, so it never fires",
            "R" => "fires only in sessions with session_replication_role = replica, so ordinary sessions skip it",
            "A" => "fires always, also in replica-mode sessions (replication apply, restores) where the platform lets it rest",
            _ => "fires only in ordinary sessions, so a session in replica mode (session_replication_role = replica) skips this guard",
        };
        let enable = if expected == "A" {
            "ENABLE ALWAYS"
        } else {
            "ENABLE"
        };
        out.push(Violation::new(
            "platform-trigger-firing",
            format!("{}.trigger {}", trigger.table, trigger.name),
            format!(
                "runs {} and {state}; ALTER TABLE {} {enable} TRIGGER {}",
                trigger.function,
                trigger.table,
                ident(&trigger.name)
            ),
        ));
    }
}

/// A partition of a guarded log carries its parent's always-firing guards: a partition is a
/// table of its own, and rows can be changed through it by whoever may.
pub(crate) fn partition_guards(table: &Table, out: &mut Vec<Violation>) {
    for partition in &table.unguarded_partitions {
        let fix = if table.name == "public.audit_log" {
            format!(
                "SELECT maturion.protect_audit_partition({})",
                literal(&partition.name)
            )
        } else {
            format!(
                "create the trigger on it as on {} (ENABLE ALWAYS)",
                table.name
            )
        };
        out.push(Violation::new(
            "log-partition-unguarded",
            &partition.name,
            format!(
                "is a partition of {parent} without the append-only guard {guard} ({function}) that \
                 {parent} has, so its rows can be changed or removed through it unnoticed; {fix}",
                parent = table.name,
                guard = partition.guard,
                function = partition.function,
            ),
        ));
    }
}

/// Table privileges of the runtime roles (or PUBLIC) beyond what the platform grants.
pub(crate) fn excess_privileges(table: &Table, catalog: &Catalog, out: &mut Vec<Violation>) {
    let platform_writes = table.comment.contains(PLATFORM_WRITES_MARKER);
    let app_allowed = if platform_writes {
        &READONLY_TABLE_PRIVILEGES[..]
    } else {
        &APP_TABLE_PRIVILEGES[..]
    };
    let roles = [
        (&catalog.app_role.name, &table.app_privileges, app_allowed),
        (
            &catalog.readonly_role.name,
            &table.readonly_privileges,
            &READONLY_TABLE_PRIVILEGES[..],
        ),
    ];
    for (role, held, allowed) in roles {
        let excess: Vec<&str> = held
            .iter()
            .map(String::as_str)
            .filter(|privilege| !allowed.contains(privilege))
            .collect();
        if excess.is_empty() {
            continue;
        }
        out.push(Violation::new(
            "runtime-role-excess-privilege",
            &table.name,
            format!(
                "{role} or PUBLIC holds {} on it (on the table or a column), beyond the platform's {}{} (DELETE erases rows past \
                 soft deletion and the audit of a change, TRUNCATE empties the table for every \
                 organisation past row-level security, REFERENCES and TRIGGER let it probe or hook \
                 into every tenant's rows, and any of UPDATE/DELETE/TRUNCATE lets it LOCK the table); \
                 REVOKE {} ON {} FROM {}, PUBLIC",
                excess.join(", "),
                allowed.join(", "),
                if platform_writes {
                    format!(
                        "; it is marked {PLATFORM_WRITES_MARKER}: only the platform's functions \
                         write it, so a role that may write it forges what the platform records"
                    )
                } else {
                    String::new()
                },
                excess.join(", "),
                table.name,
                ident(role),
            ),
        ));
    }
}

/// `ALTER DATABASE … SET` defaults: every session of every role, tenants' included, starts
/// with them.
pub(crate) fn database_settings(catalog: &Catalog, out: &mut Vec<Violation>) {
    let database = ident(&catalog.database);
    for setting in &catalog.database_settings {
        out.push(Violation::new(
            "database-setting",
            format!("database {database}"),
            format!(
                "stores the default {setting} for every session, the application's included, which \
                 can switch off or weaken what each tenant transaction relies on; ALTER DATABASE \
                 {database} RESET {}",
                setting_name(setting)
            ),
        ));
    }
}

/// What a runtime role can do to every tenant beyond its table privileges.
pub(crate) fn check_runtime_role(role: &RuntimeRole, database: &str, out: &mut Vec<Violation>) {
    stored_settings(role, database, out);
    undeclared_functions(role, out);
    system_functions(role, out);
    other_databases(role, out);
    if role.temporary {
        let database = ident(database);
        out.push(Violation::new(
            "runtime-role-temp-tables",
            format!("database {database}"),
            format!(
                "{} may create temporary tables here, so it writes (and keeps session state) where \
                 nothing isolates tenants; REVOKE TEMPORARY ON DATABASE {database} FROM {}, PUBLIC",
                role.name,
                ident(&role.name)
            ),
        ));
    }
}

/// `ALTER ROLE <runtime role> SET …`, which PostgreSQL lets a role do to itself.
fn stored_settings(role: &RuntimeRole, database: &str, out: &mut Vec<Violation>) {
    let name = ident(&role.name);
    for setting in &role.settings {
        let scope = if setting.in_this_database_only {
            format!(" IN DATABASE {}", ident(database))
        } else {
            String::new()
        };
        out.push(Violation::new(
            "runtime-role-setting",
            format!("role {}", role.name),
            format!(
                "has the stored default {} (ALTER ROLE {name}{scope} SET): every later session of it, \
                 for every tenant, starts with it (row_security, read-only, timeouts or search_path \
                 can break or weaken them all); ALTER ROLE {name}{scope} RESET {} (the periodic job \
                 removes such settings and logs a warning)",
                setting.setting,
                setting_name(&setting.setting)
            ),
        ));
    }
}

/// Functions the role may call that no COMMENT declares callable by it.
fn undeclared_functions(role: &RuntimeRole, out: &mut Vec<Violation>) {
    let name = ident(&role.name);
    for function in &role.undeclared_functions {
        let definer = if function.security_definer {
            " It runs with its owner's rights."
        } else {
            ""
        };
        out.push(Violation::new(
            "runtime-role-undeclared-function",
            format!("{} {}", function.kind, function.signature),
            format!(
                "{} may execute it, but its COMMENT does not declare it callable by that role ({}).{definer} \
                 REVOKE EXECUTE ON {} {} FROM PUBLIC, {name} and grant it to the roles that need it; if \
                 {} must call it, add {} to its COMMENT",
                role.name,
                role.marker,
                function.kind.to_uppercase(),
                function.signature,
                role.name,
                role.marker,
            ),
        ));
    }
}

/// Large objects, advisory locks and backend signals, which reach past every tenant.
fn system_functions(role: &RuntimeRole, out: &mut Vec<Violation>) {
    for class in &role.reach {
        let (rule, harm) = match class.class.as_str() {
            "large-objects" => (
                "runtime-role-large-objects",
                "large objects have no row-level security, so one tenant's session reads and writes another's",
            ),
            "advisory-locks" => (
                "runtime-role-advisory-locks",
                "it can take the keys the platform orders commits, seals and migrations on (they show in pg_locks) and stall every tenant",
            ),
            _ => (
                "runtime-role-signals-backends",
                "a role may cancel or terminate every session of its own role, so one tenant's session can end every other tenant's",
            ),
        };
        let functions: Vec<String> = class
            .functions
            .iter()
            .map(|function| format!("pg_catalog.{function}"))
            .collect();
        out.push(Violation::new(
            rule,
            format!("role {}", role.name),
            format!(
                "may execute {}: {harm}; as a superuser, REVOKE EXECUTE ON FUNCTION … FROM PUBLIC for \
                 each (maturion-schema's sql/roles.sql does) and grant back only to the platform roles",
                functions.join(", ")
            ),
        ));
    }
}

/// initdb's databases, where none of this database's revocations apply.
fn other_databases(role: &RuntimeRole, out: &mut Vec<Violation>) {
    for database in &role.other_databases {
        let temporary = if database.temporary {
            " and create temporary tables there"
        } else {
            ""
        };
        out.push(Violation::new(
            "runtime-role-other-database",
            format!("database {}", database.name),
            format!(
                "{} may connect here{temporary}, where this database's revocations (large objects, \
                 advisory locks, signals) do not apply; REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM \
                 PUBLIC as its owner (maturion-schema's sql/roles.sql does where it may)",
                role.name, database.name
            ),
        ));
    }
}

/// `name` of a `name=value` setting.
fn setting_name(setting: &str) -> &str {
    setting.split_once('=').map_or(setting, |(name, _)| name)
}
