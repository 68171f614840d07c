//! The rules, as plain functions from the loaded catalog to violations. Rule ids are a public
//! contract (scripts match on them); each message says what is wrong and how to fix it.

use std::collections::HashMap;

use crate::catalog::{
    Catalog, ForeignKey, Policy, RoleAttributes, RuntimeRole, SecurityDefiner, Table,
};
use crate::policy::{self, TENANT_BINDING};
use crate::report::Violation;
use crate::{pattern_rules, runtime_rules};

/// The role every object should belong to, named in ownership fixes.
const OWNER_ROLE: &str = "maturion_owner";

/// §5.1 audit fields with the definitions a fix adds.
const AUDIT_FIELDS: [(&str, &str); 6] = [
    ("created_at", "timestamptz NOT NULL DEFAULT now()"),
    ("created_by", "uuid NOT NULL"),
    ("updated_at", "timestamptz NOT NULL DEFAULT now()"),
    ("updated_by", "uuid"),
    ("deleted_at", "timestamptz"),
    ("deleted_by", "uuid"),
];

/// In a table's COMMENT, marks a module's append-only table: rows are never updated or
/// deleted, so only `created_at` is required.
const APPEND_ONLY_MARKER: &str = "@append-only";

/// In a table's COMMENT, marks platform machinery that holds no tenant data (e.g. queues,
/// invalidation logs). Tenant rules do not apply, but the runtime role must not reach it.
const INTERNAL_MARKER: &str = "@internal";

/// The platform's append-only logs (§4.3, §4.4) carry their own time and actor columns.
const AUDIT_FIELDS_EXEMPT: [&str; 2] = ["public.audit_log", "public.event_log"];

/// The audit trail outlives the organisations and users it names: an erased user (§10.3) or a
/// closed organisation keeps its history, which a foreign key from an immutable log would
/// forbid. Its writers (the audit trigger, record_views) check organisation and actor instead.
const ORGANISATION_FK_EXEMPT: [&str; 1] = ["public.audit_log"];

pub(crate) fn evaluate(catalog: &Catalog) -> Vec<Violation> {
    let mut violations = Vec::new();
    runtime_rules::platform_schema(catalog, &mut violations);
    for table in &catalog.tables {
        check_table(table, catalog, &mut violations);
    }
    check_views(catalog, &mut violations);
    for function in &catalog.security_definers {
        check_security_definer(function, &mut violations);
    }
    runtime_rules::platform_triggers(&catalog.triggers, &mut violations);
    runtime_rules::database_settings(catalog, &mut violations);
    for role in catalog.runtime_roles() {
        check_runtime_role(role, &mut violations);
        runtime_rules::check_runtime_role(role, &catalog.database, &mut violations);
    }
    violations
}

fn check_table(table: &Table, catalog: &Catalog, out: &mut Vec<Violation>) {
    let app_role = catalog.app_role.name.as_str();
    unindexed_foreign_keys(table, out);
    if table.comment.trim_start().starts_with(INTERNAL_MARKER) {
        let roles = [
            (app_role, &table.app_privileges),
            (
                catalog.readonly_role.name.as_str(),
                &table.readonly_privileges,
            ),
        ];
        for (role, privileges) in roles.into_iter().filter(|(_, held)| !held.is_empty()) {
            out.push(Violation::new(
                "internal-table-exposed",
                &table.name,
                format!(
                    "is marked {INTERNAL_MARKER} (platform machinery, exempt from the tenant rules) but {role} or PUBLIC holds {} on it, without RLS; REVOKE ALL ON {name} FROM {role}, PUBLIC and reach it through a SECURITY DEFINER function that filters by organisation",
                    privileges.join(", "),
                    name = table.name,
                    role = ident(role),
                ),
            ));
        }
        return;
    }
    runtime_rules::excess_privileges(table, catalog, out);
    runtime_rules::partition_guards(table, out);
    if !table.is_tenant() {
        // Without the tenant key no other tenant rule can be met; this is the one to fix first.
        out.push(Violation::new(
            "missing-organisation-id",
            &table.name,
            format!(
                "has no organisation_id column, so its rows belong to no organisation and RLS cannot \
                 isolate them (§3.3); ALTER TABLE {name} ADD COLUMN organisation_id uuid NOT NULL \
                 REFERENCES public.organisations (id), then call SELECT \
                 maturion.enable_tenant_isolation({literal}) in a migration",
                name = table.name,
                literal = literal(&table.name),
            ),
        ));
        return;
    }
    organisation_id_column(table, out);
    row_level_security(table, out);
    audit_fields(table, out);
    audit_trail(table, app_role, out);
    tenant_references(table, out);
    tenant_unique_key(table, out);
    partitions(table, out);
    pattern_rules::shared_patterns(table, catalog, out);
}

/// The column that names a row's organisation: `id` in the tenant root itself.
fn tenant_column(table: &Table) -> &'static str {
    if table.is_tenant_root {
        "id"
    } else {
        "organisation_id"
    }
}

fn organisation_id_column(table: &Table, out: &mut Vec<Violation>) {
    let Some(column) = &table.organisation_id else {
        return;
    };
    let mut problems = Vec::new();
    let mut fixes = Vec::new();
    if column.type_name != "uuid" {
        problems.push(format!("is {}, not uuid", column.type_name));
        fixes.push("TYPE uuid USING organisation_id::uuid");
    }
    if !column.not_null {
        problems
            .push("is nullable, and a row without an organisation matches no tenant".to_owned());
        fixes.push("SET NOT NULL");
    }
    if !problems.is_empty() {
        let fixes: Vec<String> = fixes
            .iter()
            .map(|fix| {
                format!(
                    "ALTER TABLE {} ALTER COLUMN organisation_id {fix}",
                    table.name
                )
            })
            .collect();
        out.push(Violation::new(
            "nullable-organisation-id",
            &table.name,
            format!(
                "organisation_id {}; {}",
                problems.join(" and "),
                fixes.join("; ")
            ),
        ));
    }

    let references_organisations = table.foreign_keys.iter().any(|fk| {
        fk.references_tenant_root
            && fk.columns == ["organisation_id"]
            && fk.referenced_columns == ["id"]
    });
    if !references_organisations && !ORGANISATION_FK_EXEMPT.contains(&table.name.as_str()) {
        out.push(Violation::new(
            "missing-organisation-fk",
            &table.name,
            format!(
                "organisation_id has no foreign key to public.organisations (id), so rows can name an \
                 organisation that does not exist; ALTER TABLE {} ADD FOREIGN KEY (organisation_id) \
                 REFERENCES public.organisations (id)",
                table.name
            ),
        ));
    }
}

fn row_level_security(table: &Table, out: &mut Vec<Violation>) {
    let new_table_hint = new_table_hint(table);
    rls_switches(table, &new_table_hint, out);
    tenant_policies(table, &new_table_hint, out);
}

/// For a table with no isolation at all yet, one call sets up everything.
fn new_table_hint(table: &Table) -> String {
    if table.is_tenant_root {
        String::new()
    } else {
        format!(
            " (a table with none of the isolation yet gets all of it from SELECT \
             maturion.enable_tenant_isolation({}) in a migration)",
            literal(&table.name)
        )
    }
}

/// Row-level security must be enabled and forced.
fn rls_switches(table: &Table, new_table_hint: &str, out: &mut Vec<Violation>) {
    if !table.rls_enabled {
        out.push(Violation::new(
            "rls-not-enabled",
            &table.name,
            format!(
                "row-level security is disabled, so every role with a grant sees every organisation's \
                 rows; ALTER TABLE {} ENABLE ROW LEVEL SECURITY{new_table_hint}",
                table.name
            ),
        ));
    }
    if !table.rls_forced {
        out.push(Violation::new(
            "rls-not-forced",
            &table.name,
            format!(
                "row-level security is not forced, so the table owner (and every function running as \
                 it) sees every organisation's rows; ALTER TABLE {} FORCE ROW LEVEL SECURITY",
                table.name
            ),
        ));
    }
}

/// The table needs a permissive policy, and each permissive policy must be the fail-closed
/// tenant check.
fn tenant_policies(table: &Table, new_table_hint: &str, out: &mut Vec<Violation>) {
    let column = tenant_column(table);
    // Restrictive policies can only narrow what permissive ones let through, so they cannot
    // open a table; without any permissive policy, RLS lets no row through.
    let permissive: Vec<&Policy> = table
        .policies
        .iter()
        .filter(|policy| policy.is_permissive)
        .collect();
    if permissive.is_empty() {
        out.push(Violation::new(
            "missing-tenant-policy",
            &table.name,
            format!(
                "has no permissive row-level security policy, so the application sees no row (or every \
                 row while RLS is off); CREATE POLICY tenant_isolation ON {name} USING ({column} = \
                 {TENANT_BINDING}) WITH CHECK ({column} = {TENANT_BINDING}){new_table_hint}",
                name = table.name
            ),
        ));
    }
    for policy in permissive {
        if let Some(message) = policy_defects(table, policy, column) {
            out.push(Violation::new(
                "policy-not-fail-closed",
                format!("{}.policy {}", table.name, policy.name),
                message,
            ));
        }
    }
}

/// What is wrong with a permissive policy, or `None` when each of its expressions is the
/// fail-closed tenant check.
fn policy_defects(table: &Table, policy: &Policy, column: &str) -> Option<String> {
    let check = format!("({column} = {TENANT_BINDING})");
    // INSERT has only WITH CHECK; SELECT and DELETE only USING. UPDATE and ALL check new rows
    // with USING when WITH CHECK is absent, as PostgreSQL does.
    let (command, fix) = match policy.command.as_str() {
        "a" => ("FOR INSERT", format!("WITH CHECK {check}")),
        "r" => ("FOR SELECT", format!("USING {check}")),
        "d" => ("FOR DELETE", format!("USING {check}")),
        "w" => ("FOR UPDATE", format!("USING {check} WITH CHECK {check}")),
        _ => ("FOR ALL", format!("USING {check} WITH CHECK {check}")),
    };
    let clauses = [
        ("USING", &policy.using_expression, policy.command != "a"),
        (
            "WITH CHECK",
            &policy.check_expression,
            policy.command == "a",
        ),
    ];
    let mut defects = Vec::new();
    for (clause, expression, required) in clauses {
        match expression {
            None if required => defects.push(format!(
                "has no {clause} expression, so it lets no row through"
            )),
            None => {}
            Some(expression) => {
                if let Some(defect) = policy::defect(expression, column) {
                    defects.push(format!("{clause} {expression} {defect}"));
                }
            }
        }
    }
    (!defects.is_empty()).then(|| {
        let (name, table) = (ident(&policy.name), &table.name);
        format!(
            "{command} policy: {}; ALTER POLICY {name} ON {table} {fix} (or DROP POLICY {name} ON {table} \
             if it is an extra policy: permissive policies are ORed together, so one loose policy opens the table)",
            defects.join("; "),
        )
    })
}

/// In a table's COMMENT, marks rows derived from the logs by the maintenance job: auditing them
/// would audit the audit trail.
const ROLLUP_MARKER: &str = "@rollup";

/// Every change to tenant data leaves an audit row (§3.4), module tables included.
fn audit_trail(table: &Table, app_role: &str, out: &mut Vec<Violation>) {
    if table.comment.contains(ROLLUP_MARKER) {
        // Exempt only while the application cannot write it: rows it writes are its data.
        let writes: Vec<&str> = table
            .app_privileges
            .iter()
            .map(String::as_str)
            .filter(|privilege| ["INSERT", "UPDATE", "DELETE", "TRUNCATE"].contains(privilege))
            .collect();
        if !writes.is_empty() && !table.has_audit_trigger {
            out.push(Violation::new(
                "writable-rollup",
                &table.name,
                format!(
                    "is marked {ROLLUP_MARKER} (derived by the maintenance job, so not audited) but {app_role} \
                     or PUBLIC holds {} on it, so the application's changes to it leave no audit row; \
                     REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {name} FROM {role}, PUBLIC",
                    writes.join(", "),
                    name = table.name,
                    role = ident(app_role),
                ),
            ));
        }
        return;
    }
    if AUDIT_FIELDS_EXEMPT.contains(&table.name.as_str()) || table.has_audit_trigger {
        return;
    }
    out.push(Violation::new(
        "missing-audit-trigger",
        &table.name,
        format!(
            "changes to this tenant table leave no audit_log row (§3.4, §10.2): the trigger running \
             maturion.audit_trail() is missing or disabled; call SELECT maturion.enable_audit_trail({}, \
             '<module>') in a migration (maturion.enable_tenant_isolation attaches it for new tables)",
            literal(&table.name)
        ),
    ));
}

fn audit_fields(table: &Table, out: &mut Vec<Violation>) {
    if table.is_tenant_root || AUDIT_FIELDS_EXEMPT.contains(&table.name.as_str()) {
        return;
    }
    let append_only = table.comment.contains(APPEND_ONLY_MARKER);
    let required = |name: &str| !append_only || name == "created_at";
    let missing: Vec<(&str, &str)> = AUDIT_FIELDS
        .into_iter()
        .filter(|(name, _)| required(name) && !table.has_column(name))
        .collect();
    if missing.is_empty() {
        return;
    }
    let names: Vec<&str> = missing.iter().map(|(name, _)| *name).collect();
    let additions: Vec<String> = missing
        .iter()
        .map(|(name, definition)| format!("ADD COLUMN {name} {definition}"))
        .collect();
    let fix = format!("ALTER TABLE {} {}", table.name, additions.join(", "));
    let message = if append_only {
        format!("is marked {APPEND_ONLY_MARKER} but lacks created_at (§5.1); {fix}")
    } else {
        let actors = if names.iter().any(|name| name.ends_with("_by")) {
            " (the *_by columns with composite foreign keys to public.users (organisation_id, id))"
        } else {
            ""
        };
        format!(
            "lacks the audit fields of §5.1: {}; {fix}{actors}; a table whose rows are never updated \
             says {APPEND_ONLY_MARKER} in its COMMENT and needs only created_at",
            names.join(", "),
        )
    };
    out.push(Violation::new("missing-audit-fields", &table.name, message));
}

fn tenant_references(table: &Table, out: &mut Vec<Violation>) {
    let column = tenant_column(table);
    for fk in &table.foreign_keys {
        if fk.references_tenant_root || !fk.references_tenant_table {
            continue;
        }
        let same_organisation = fk
            .columns
            .iter()
            .zip(&fk.referenced_columns)
            .any(|(from, to)| from == column && to == "organisation_id");
        if same_organisation {
            continue;
        }
        let pairs = fk
            .columns
            .iter()
            .zip(&fk.referenced_columns)
            .filter(|(from, to)| *from != column && *to != "organisation_id");
        let (from, to): (Vec<&String>, Vec<&String>) = pairs.unzip();
        out.push(Violation::new(
            "non-composite-tenant-reference",
            constraint_object(table, fk),
            format!(
                "foreign key ({}) REFERENCES {} ({}) does not include organisation_id, so a row can point \
                 at another organisation's row (and the key check reveals that it exists); make it \
                 FOREIGN KEY ({column}, {}) REFERENCES {} (organisation_id, {}), backed by a unique key \
                 on (organisation_id, {}) there",
                column_list(&fk.columns),
                fk.referenced,
                column_list(&fk.referenced_columns),
                column_list(&from),
                fk.referenced,
                column_list(&to),
                column_list(&to),
            ),
        ));
    }
}

fn tenant_unique_key(table: &Table, out: &mut Vec<Violation>) {
    // The root's primary key is its tenant key.
    if table.is_tenant_root {
        return;
    }
    // A unique index on a partitioned table must contain the partition key, so it may add it.
    let partition_key: Vec<&str> = table
        .partition_key
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let allowed = |column: &str| {
        column == "organisation_id" || column == "id" || partition_key.contains(&column)
    };
    let has_key = table.indexes.iter().any(|index| {
        let Some(keys) = plain_columns(&index.key_columns) else {
            return false;
        };
        index.is_unique
            && !index.is_partial
            && keys.contains(&"organisation_id")
            && keys.contains(&"id")
            && keys.iter().all(|column| allowed(column))
    });
    if has_key {
        return;
    }
    let mut key = vec!["organisation_id"];
    key.extend(
        partition_key
            .iter()
            .filter(|column| !["organisation_id", "id"].contains(column)),
    );
    key.push("id");
    let id_hint = if table.has_column("id") {
        ""
    } else {
        " (after adding an id uuid column)"
    };
    out.push(Violation::new(
        "missing-tenant-unique-key",
        &table.name,
        format!(
            "has no unique key on (organisation_id, id), so other tenant tables cannot reference it with \
             a composite foreign key that stays inside one organisation; ALTER TABLE {} ADD UNIQUE ({}){id_hint}",
            table.name,
            column_list(&key),
        ),
    ));
}

fn unindexed_foreign_keys(table: &Table, out: &mut Vec<Violation>) {
    for fk in &table.foreign_keys {
        let mut wanted: Vec<&str> = fk.columns.iter().map(String::as_str).collect();
        wanted.sort_unstable();
        // Only the leading columns matter: an expression after them does not stop the index
        // from serving the key.
        let covered = table.indexes.iter().any(|index| {
            let leading = index
                .key_columns
                .get(..wanted.len())
                .and_then(plain_columns);
            leading.is_some_and(|mut leading| {
                leading.sort_unstable();
                leading == wanted
            })
        });
        if covered {
            continue;
        }
        // A partitioned table's index cannot be built concurrently.
        let create = if table.is_partitioned {
            "CREATE INDEX ON"
        } else {
            "CREATE INDEX CONCURRENTLY ON"
        };
        out.push(Violation::new(
            "unindexed-foreign-key",
            constraint_object(table, fk),
            format!(
                "foreign key ({}) REFERENCES {} has no index leading with its columns, so changes to the \
                 referenced rows scan this table (§6.2); {create} {} ({})",
                column_list(&fk.columns),
                fk.referenced,
                table.name,
                column_list(&fk.columns),
            ),
        ));
    }
}

/// Index columns by name, or `None` when one of them is an expression.
fn plain_columns(columns: &[Option<String>]) -> Option<Vec<&str>> {
    columns.iter().map(Option::as_deref).collect()
}

fn partitions(table: &Table, out: &mut Vec<Violation>) {
    for partition in &table.accessible_partitions {
        let privileges = if partition.privileges.is_empty() {
            "column privileges".to_owned()
        } else {
            partition.privileges.join(", ")
        };
        out.push(Violation::new(
            "partition-directly-accessible",
            &partition.name,
            format!(
                "{holder} holds {privileges} on this partition of {parent}; a partition has its own \
                 privileges and RLS, so direct access skips the parent's tenant policy; REVOKE ALL ON \
                 {name} FROM {role} (and from PUBLIC if granted there), and grant on {parent} only",
                holder = partition.role,
                parent = table.name,
                name = partition.name,
                role = ident(&partition.role),
            ),
        ));
    }
}

fn check_views(catalog: &Catalog, out: &mut Vec<Violation>) {
    let tenant_tables: HashMap<u32, &str> = catalog
        .tables
        .iter()
        .filter(|table| table.is_tenant())
        .map(|table| (table.oid, table.name.as_str()))
        .collect();
    for view in &catalog.views {
        if view.is_materialized {
            let mut read: Vec<&str> = view
                .reads
                .iter()
                .filter_map(|oid| tenant_tables.get(oid).copied())
                .collect();
            if read.is_empty() {
                continue;
            }
            read.sort_unstable();
            out.push(Violation::new(
                "materialized-view-on-tenant-data",
                &view.name,
                format!(
                    "stores rows of the tenant table(s) {}, and a materialized view has no row-level \
                     security, so whoever may read it sees every organisation's rows; use a view WITH \
                     (security_invoker = true) instead",
                    read.join(", ")
                ),
            ));
        } else if !view
            .options
            .iter()
            .any(|option| is_security_invoker(option))
        {
            out.push(Violation::new(
                "view-without-security-invoker",
                &view.name,
                format!(
                    "runs with its owner's rights, so it reads its tables past their row-level security; \
                     ALTER VIEW {} SET (security_invoker = true)",
                    view.name
                ),
            ));
        }
    }
}

/// `security_invoker=<value>` with a value PostgreSQL reads as true.
fn is_security_invoker(option: &str) -> bool {
    let Some(("security_invoker", value)) = option.split_once('=') else {
        return false;
    };
    // PostgreSQL's parse_bool: on, 1, or any prefix of true or yes, in any case.
    let value = value.to_ascii_lowercase();
    value == "on"
        || value == "1"
        || (!value.is_empty() && ("true".starts_with(&value) || "yes".starts_with(&value)))
}

fn check_security_definer(function: &SecurityDefiner, out: &mut Vec<Violation>) {
    let object = format!("{} {}", function.kind, function.signature);
    let keyword = function.kind.to_uppercase();
    if !function.pins_search_path {
        out.push(Violation::new(
            "security-definer-without-search-path",
            &object,
            format!(
                "runs with its owner's rights but resolves names through the caller's search_path, so a \
                 caller can slip in objects of their own; ALTER {keyword} {} SET search_path = pg_catalog, pg_temp",
                function.signature
            ),
        ));
    }
    if function.public_can_execute {
        out.push(Violation::new(
            "security-definer-executable-by-public",
            &object,
            format!(
                "runs with its owner's rights and every role may call it; REVOKE EXECUTE ON {keyword} {} \
                 FROM PUBLIC, then GRANT EXECUTE to the roles that need it",
                function.signature
            ),
        ));
    }
}

fn check_runtime_role(role: &RuntimeRole, out: &mut Vec<Violation>) {
    let object = format!("role {}", role.name);
    let Some(attributes) = &role.attributes else {
        out.push(Violation::new(
            "app-role-missing",
            object,
            "does not exist, so nothing here shows the application runs subject to row-level security; \
             create the platform roles (maturion-schema's sql/roles.sql) or check the role name",
        ));
        return;
    };
    role_attributes(&role.name, attributes, &object, out);
    owned_objects(role, out);
    creatable_places(role, out);
}

/// The role must not be, or be able to become, a superuser or a BYPASSRLS role.
fn role_attributes(
    role: &str,
    attributes: &RoleAttributes,
    object: &str,
    out: &mut Vec<Violation>,
) {
    let name = ident(role);
    if attributes.is_superuser {
        out.push(Violation::new(
            "app-role-superuser",
            object,
            format!("is a superuser, which skips row-level security and every privilege check; ALTER ROLE {name} NOSUPERUSER"),
        ));
    }
    if attributes.bypasses_rls {
        out.push(Violation::new(
            "app-role-bypassrls",
            object,
            format!("has BYPASSRLS, so row-level security never applies to it; ALTER ROLE {name} NOBYPASSRLS"),
        ));
    }
    for (rule, roles, what) in [
        (
            "app-role-superuser",
            &attributes.superuser_roles,
            "superuser",
        ),
        (
            "app-role-bypassrls",
            &attributes.bypassrls_roles,
            "BYPASSRLS",
        ),
    ] {
        if !roles.is_empty() {
            let roles: Vec<String> = roles.iter().map(|role| ident(role)).collect();
            out.push(Violation::new(
                rule,
                object,
                format!(
                    "is a member of the {what} role(s) {list}, so it can SET ROLE past row-level security; \
                     REVOKE {list} FROM {name}",
                    list = roles.join(", ")
                ),
            ));
        }
    }
}

/// Objects owned by the role, or by a role it can SET ROLE to.
fn owned_objects(role: &RuntimeRole, out: &mut Vec<Violation>) {
    for owned in &role.owned_objects {
        let object = match owned.kind.as_str() {
            "TABLE" | "VIEW" | "MATERIALIZED VIEW" | "SEQUENCE" | "FOREIGN TABLE" => {
                owned.name.clone()
            }
            kind => format!("{} {}", kind.to_lowercase(), owned.name),
        };
        let owner = if owned.owner == role.name {
            format!("is owned by {}", role.name)
        } else {
            format!(
                "is owned by {}, a role {} can SET ROLE to",
                owned.owner, role.name
            )
        };
        out.push(Violation::new(
            "app-role-owns-objects",
            object,
            format!(
                "{owner}; an owner skips row-level security unless it is forced, and can disable it or \
                 grant itself anything; ALTER {} {} OWNER TO {OWNER_ROLE}",
                owned.kind, owned.name
            ),
        ));
    }
}

/// Schemas and the database where the role may create objects.
fn creatable_places(role: &RuntimeRole, out: &mut Vec<Violation>) {
    let name = ident(&role.name);
    for place in &role.creatable {
        out.push(Violation::new(
            "app-role-can-create",
            format!("{} {}", place.kind.to_lowercase(), place.name),
            format!(
                "{} may CREATE here, and would own (and so could open) what it creates; REVOKE CREATE ON \
                 {} {} FROM {name}, PUBLIC",
                role.name, place.kind, place.name
            ),
        ));
    }
}

fn constraint_object(table: &Table, fk: &ForeignKey) -> String {
    format!("{}.constraint {}", table.name, fk.name)
}

/// An SQL string literal.
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// An SQL identifier, quoted unless it is plain lower case (keywords are left alone: the
/// fixes only name columns in places where PostgreSQL accepts them bare).
pub(crate) fn ident(name: &str) -> String {
    let plain = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn column_list<S: AsRef<str>>(columns: &[S]) -> String {
    columns
        .iter()
        .map(|column| ident(column.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}
