//! Loads what the rules look at from `pg_catalog`, in a few set-wise queries (one per kind of
//! object, not one per table), into plain structs.

use std::collections::HashMap;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

use crate::{CheckError, CheckOptions};

/// Trigger functions the platform attaches ENABLE ALWAYS: guards that must hold even in a
/// session in replica mode, on a log's every partition too. Every other platform trigger fires
/// in ordinary sessions only.
pub(crate) const ALWAYS_FIRING_GUARDS: [&str; 2] = [
    "maturion.refuse_log_change()",
    "maturion.refuse_legal_hold_change()",
];

/// In a function's COMMENT, declares that the application role may call it.
pub(crate) const APP_MARKER: &str = "@app-callable";
/// In a function's COMMENT, declares that the read-only role may call it.
pub(crate) const READONLY_MARKER: &str = "@readonly-callable";

/// Relation names are `schema.name`, quoted where PostgreSQL needs it, so they can be pasted
/// into the SQL that a message suggests.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub database: String,
    pub tables: Vec<Table>,
    pub views: Vec<View>,
    pub security_definers: Vec<SecurityDefiner>,
    /// Triggers the platform attached, on every table and partition.
    pub triggers: Vec<Trigger>,
    /// `ALTER DATABASE … SET` defaults of this database, as `name=value`.
    pub database_settings: Vec<String>,
    pub app_role: RuntimeRole,
    pub readonly_role: RuntimeRole,
}

impl Catalog {
    pub fn runtime_roles(&self) -> [&RuntimeRole; 2] {
        [&self.app_role, &self.readonly_role]
    }
}

#[derive(Debug, Default)]
pub(crate) struct Table {
    pub oid: u32,
    pub name: String,
    /// `public.organisations`: tenant key `id`, policed on itself.
    pub is_tenant_root: bool,
    pub is_partitioned: bool,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    pub comment: String,
    /// Whether the audit trail trigger is attached and enabled.
    pub has_audit_trigger: bool,
    /// Privileges the runtime role holds on the table, itself or through PUBLIC.
    pub app_privileges: Vec<String>,
    /// Privileges the read-only role holds on the table, itself or through PUBLIC.
    pub readonly_privileges: Vec<String>,
    pub columns: Vec<String>,
    /// Columns of type tsvector (full-text documents, §6.4).
    pub tsvector_columns: Vec<String>,
    pub organisation_id: Option<OrganisationIdColumn>,
    /// Column names; `None` for an expression.
    pub partition_key: Vec<Option<String>>,
    pub indexes: Vec<Index>,
    pub foreign_keys: Vec<ForeignKey>,
    pub policies: Vec<Policy>,
    /// Descendants a runtime role holds privileges on (not looked up for a missing or superuser
    /// role).
    pub accessible_partitions: Vec<AccessiblePartition>,
    /// Descendants lacking one of the table's append-only guards (`ALWAYS_FIRING_GUARDS`).
    pub unguarded_partitions: Vec<UnguardedPartition>,
}

impl Table {
    /// Tenant tables carry rows of one organisation each, so isolation rules apply to them.
    pub fn is_tenant(&self) -> bool {
        self.is_tenant_root || self.organisation_id.is_some()
    }

    pub fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|column| column == name)
    }
}

#[derive(Debug)]
pub(crate) struct OrganisationIdColumn {
    /// As `format_type` prints it, e.g. `uuid`.
    pub type_name: String,
    pub not_null: bool,
}

#[derive(Debug)]
pub(crate) struct Index {
    pub is_unique: bool,
    pub is_partial: bool,
    /// `btree`, `gin`, …
    pub access_method: String,
    /// Key columns in order (no INCLUDE columns); `None` for an expression.
    pub key_columns: Vec<Option<String>>,
}

#[derive(Debug)]
pub(crate) struct ForeignKey {
    pub name: String,
    pub referenced: String,
    pub references_tenant_root: bool,
    /// The referenced table has an `organisation_id` column.
    pub references_tenant_table: bool,
    pub columns: Vec<String>,
    pub referenced_columns: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct Policy {
    pub name: String,
    /// `pg_policy.polcmd`: `r` SELECT, `a` INSERT, `w` UPDATE, `d` DELETE, `*` ALL.
    pub command: String,
    pub is_permissive: bool,
    pub using_expression: Option<String>,
    pub check_expression: Option<String>,
}

#[derive(Debug)]
pub(crate) struct AccessiblePartition {
    /// The runtime role that can reach it.
    pub role: String,
    pub name: String,
    /// Table-level privileges; empty when only column privileges are held.
    pub privileges: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct UnguardedPartition {
    pub name: String,
    pub guard: String,
    /// `schema.name(argument types)` of the guard's function.
    pub function: String,
}

#[derive(Debug)]
pub(crate) struct Trigger {
    pub table: String,
    pub name: String,
    /// `schema.name(argument types)`.
    pub function: String,
    /// `pg_trigger.tgenabled`: `O`, `A`, `R` or `D`.
    pub firing: String,
}

#[derive(Debug)]
pub(crate) struct View {
    pub name: String,
    pub is_materialized: bool,
    /// `reloptions`, e.g. `security_invoker=true`.
    pub options: Vec<String>,
    /// For a materialized view: every relation it reads, through views too.
    pub reads: Vec<u32>,
}

#[derive(Debug)]
pub(crate) struct SecurityDefiner {
    /// `function` or `procedure`.
    pub kind: String,
    /// `schema.name(argument types)`.
    pub signature: String,
    pub pins_search_path: bool,
    pub public_can_execute: bool,
}

/// A role that runs tenants' SQL: the application role, or the read-only one.
#[derive(Debug, Default)]
pub(crate) struct RuntimeRole {
    pub name: String,
    /// The COMMENT marker of the functions this role may call, e.g. `@app-callable`.
    pub marker: &'static str,
    /// `None` when no role of that name exists. For a missing or superuser role, the other fields
    /// stay empty.
    pub attributes: Option<RoleAttributes>,
    pub owned_objects: Vec<OwnedObject>,
    /// Schemas and the database where the role may CREATE.
    pub creatable: Vec<CreatablePlace>,
    /// Whether the role may create temporary tables in this database.
    pub temporary: bool,
    /// Functions it may execute that do not carry its marker.
    pub undeclared_functions: Vec<CallableFunction>,
    /// System functions past RLS or into other sessions, by class (`large-objects`, …).
    pub reach: Vec<FunctionClass>,
    /// Stored defaults of its sessions (`ALTER ROLE … SET`).
    pub settings: Vec<RoleSetting>,
    /// initdb's databases (postgres, template1) it may connect to.
    pub other_databases: Vec<OtherDatabase>,
}

#[derive(Debug)]
pub(crate) struct CallableFunction {
    /// `function`, `procedure` or `aggregate`.
    pub kind: String,
    pub signature: String,
    pub security_definer: bool,
}

#[derive(Debug)]
pub(crate) struct FunctionClass {
    pub class: String,
    pub functions: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct RoleSetting {
    /// `ALTER ROLE … IN DATABASE` rather than for every database.
    pub in_this_database_only: bool,
    /// `name=value`.
    pub setting: String,
}

#[derive(Debug)]
pub(crate) struct OtherDatabase {
    pub name: String,
    pub temporary: bool,
}

#[derive(Debug)]
pub(crate) struct RoleAttributes {
    pub is_superuser: bool,
    pub bypasses_rls: bool,
    /// Other roles with that attribute the role can SET ROLE to.
    pub superuser_roles: Vec<String>,
    pub bypassrls_roles: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct CreatablePlace {
    /// `SCHEMA` or `DATABASE`.
    pub kind: String,
    pub name: String,
}

#[derive(Debug)]
pub(crate) struct OwnedObject {
    /// The word `ALTER … OWNER TO` takes: TABLE, VIEW, FUNCTION, SCHEMA, TYPE, DATABASE, …
    pub kind: String,
    pub name: String,
    pub owner: String,
}

const TABLES: &str = include_str!("../sql/tables.sql");
const INDEXES: &str = include_str!("../sql/indexes.sql");
const FOREIGN_KEYS: &str = include_str!("../sql/foreign_keys.sql");
const POLICIES: &str = include_str!("../sql/policies.sql");
const VIEWS: &str = include_str!("../sql/views.sql");
const FUNCTIONS: &str = include_str!("../sql/functions.sql");
const APP_ROLE: &str = include_str!("../sql/app_role.sql");
const OWNED_OBJECTS: &str = include_str!("../sql/owned_objects.sql");
const PARTITIONS: &str = include_str!("../sql/partitions.sql");
const PARTITION_GUARDS: &str = include_str!("../sql/partition_guards.sql");
const TRIGGERS: &str = include_str!("../sql/triggers.sql");
const ROLE_FUNCTIONS: &str = include_str!("../sql/role_functions.sql");
const ROLE_REACH: &str = include_str!("../sql/role_reach.sql");
const SETTINGS: &str = include_str!("../sql/settings.sql");
const OTHER_DATABASES: &str = include_str!("../sql/other_databases.sql");
const TEMPORARY: &str = "SELECT has_database_privilege($1::name, current_database(), 'TEMPORARY')";
/// Schemas (temporary and TOAST ones aside) and the database where the role may create objects.
const CREATABLE: &str = "
SELECT 'SCHEMA' AS kind, quote_ident(n.nspname) AS name
FROM pg_namespace n
WHERE n.nspname !~ '^pg_(toast|temp_)' AND has_schema_privilege($1::name, n.oid, 'CREATE')
UNION ALL
SELECT 'DATABASE', quote_ident(current_database())
WHERE has_database_privilege($1::name, current_database(), 'CREATE')";

pub(crate) async fn load(client: &Client, options: &CheckOptions) -> Result<Catalog, CheckError> {
    let database = query(
        client,
        "the database name",
        "SELECT current_database()",
        &[],
    )
    .await?;
    let database: String = database[0].get(0);
    let mut tables = load_tables(client, options).await?;
    let views = load_views(client).await?;
    let security_definers = load_security_definers(client).await?;
    let triggers = load_triggers(client).await?;
    let database_settings = load_settings(client, None)
        .await?
        .into_iter()
        .map(|setting| setting.setting)
        .collect();
    let app_role = load_runtime_role(client, &options.app_role, APP_MARKER, &mut tables).await?;
    let readonly_role =
        load_runtime_role(client, &options.readonly_role, READONLY_MARKER, &mut tables).await?;
    Ok(Catalog {
        database,
        tables: tables.tables,
        views,
        security_definers,
        triggers,
        database_settings,
        app_role,
        readonly_role,
    })
}

/// The tables in the order the catalog lists them, found by oid to attach the rows of the
/// other queries to.
struct TablesByOid {
    tables: Vec<Table>,
    oids: Vec<u32>,
    position: HashMap<u32, usize>,
}

impl TablesByOid {
    fn new(tables: Vec<Table>) -> Self {
        let oids: Vec<u32> = tables.iter().map(|table| table.oid).collect();
        let position = oids
            .iter()
            .enumerate()
            .map(|(at, oid)| (*oid, at))
            .collect();
        TablesByOid {
            tables,
            oids,
            position,
        }
    }

    /// The table whose oid is in `column` of `row`.
    fn of(&mut self, row: &Row, column: &str) -> &mut Table {
        &mut self.tables[self.position[&row.get::<_, u32>(column)]]
    }
}

/// The tables with their indexes, foreign keys and policies.
async fn load_tables(client: &Client, options: &CheckOptions) -> Result<TablesByOid, CheckError> {
    let roles: [&(dyn ToSql + Sync); 2] = [&options.app_role, &options.readonly_role];
    let rows = query(client, "tables", TABLES, &roles).await?;
    let mut tables = TablesByOid::new(rows.iter().map(table).collect());
    let indexes = query(client, "indexes", INDEXES, &[&tables.oids]).await?;
    for row in indexes {
        tables.of(&row, "table_oid").indexes.push(Index {
            is_unique: row.get("is_unique"),
            is_partial: row.get("is_partial"),
            access_method: row.get("access_method"),
            key_columns: row.get("key_columns"),
        });
    }
    let foreign_keys = query(client, "foreign keys", FOREIGN_KEYS, &[&tables.oids]).await?;
    for row in foreign_keys {
        tables.of(&row, "table_oid").foreign_keys.push(ForeignKey {
            name: row.get("name"),
            referenced: row.get("referenced"),
            references_tenant_root: row.get("references_tenant_root"),
            references_tenant_table: row.get("references_tenant_table"),
            columns: row.get("columns"),
            referenced_columns: row.get("referenced_columns"),
        });
    }
    let policies = query(client, "policies", POLICIES, &[&tables.oids]).await?;
    for row in policies {
        tables.of(&row, "table_oid").policies.push(Policy {
            name: row.get("name"),
            command: row.get("command"),
            is_permissive: row.get("is_permissive"),
            using_expression: row.get("using_expression"),
            check_expression: row.get("check_expression"),
        });
    }
    let what = "partitions without their parent's guards";
    let guards = &ALWAYS_FIRING_GUARDS[..];
    for row in query(client, what, PARTITION_GUARDS, &[&tables.oids, &guards]).await? {
        tables
            .of(&row, "parent_oid")
            .unguarded_partitions
            .push(UnguardedPartition {
                name: row.get("partition"),
                guard: row.get("guard"),
                function: row.get("function"),
            });
    }
    Ok(tables)
}

async fn load_triggers(client: &Client) -> Result<Vec<Trigger>, CheckError> {
    let triggers = query(client, "platform triggers", TRIGGERS, &[]).await?;
    Ok(triggers
        .iter()
        .map(|row| Trigger {
            table: row.get("table_name"),
            name: row.get("name"),
            function: row.get("function"),
            firing: row.get("firing"),
        })
        .collect())
}

/// The stored defaults of `role`, or of this database with `None`.
async fn load_settings(
    client: &Client,
    role: Option<&str>,
) -> Result<Vec<RoleSetting>, CheckError> {
    let settings = query(client, "stored settings", SETTINGS, &[&role]).await?;
    Ok(settings
        .iter()
        .map(|row| RoleSetting {
            in_this_database_only: row.get("in_this_database_only"),
            setting: row.get("setting"),
        })
        .collect())
}

async fn load_views(client: &Client) -> Result<Vec<View>, CheckError> {
    let views = query(client, "views", VIEWS, &[]).await?;
    Ok(views
        .iter()
        .map(|row| View {
            name: row.get("name"),
            is_materialized: row.get("is_materialized"),
            options: row.get("options"),
            reads: row.get("reads"),
        })
        .collect())
}

async fn load_security_definers(client: &Client) -> Result<Vec<SecurityDefiner>, CheckError> {
    let functions = query(client, "SECURITY DEFINER functions", FUNCTIONS, &[]).await?;
    Ok(functions
        .iter()
        .map(|row| SecurityDefiner {
            kind: row.get("kind"),
            signature: row.get("signature"),
            pins_search_path: row.get("pins_search_path"),
            public_can_execute: row.get("public_can_execute"),
        })
        .collect())
}

/// A runtime role's attributes and, for a role that exists and is no superuser, what it owns,
/// where it may create, what it may call and connect to, its stored settings, and the
/// partitions of `tables` it can reach.
async fn load_runtime_role(
    client: &Client,
    name: &str,
    marker: &'static str,
    tables: &mut TablesByOid,
) -> Result<RuntimeRole, CheckError> {
    let role = query(client, "a runtime role", APP_ROLE, &[&name]).await?;
    let attributes = role.first().map(|row| RoleAttributes {
        is_superuser: row.get("is_superuser"),
        bypasses_rls: row.get("bypasses_rls"),
        superuser_roles: row.get("superuser_roles"),
        bypassrls_roles: row.get("bypassrls_roles"),
    });
    let mut role = RuntimeRole {
        name: name.to_owned(),
        marker,
        ..RuntimeRole::default()
    };
    // The privilege functions raise for a role that does not exist, and answer yes to everything
    // for a superuser, which says nothing beyond `app-role-superuser`.
    if attributes
        .as_ref()
        .is_some_and(|attributes| !attributes.is_superuser)
    {
        load_reach(client, &mut role).await?;
        attach_accessible_partitions(client, name, tables).await?;
    }
    if attributes.is_some() {
        role.settings = load_settings(client, Some(name)).await?;
    }
    role.attributes = attributes;
    Ok(role)
}

/// What a role that exists and is no superuser owns, may create, call and connect to.
async fn load_reach(client: &Client, role: &mut RuntimeRole) -> Result<(), CheckError> {
    let name = role.name.as_str();
    role.owned_objects = load_owned_objects(client, name).await?;
    role.creatable = load_creatable(client, name).await?;
    role.temporary = query(client, "temporary-table rights", TEMPORARY, &[&name]).await?[0].get(0);
    let marker = role.marker;
    let functions = query(
        client,
        "functions a role may call",
        ROLE_FUNCTIONS,
        &[&name, &marker],
    )
    .await?;
    role.undeclared_functions = functions
        .iter()
        .map(|row| CallableFunction {
            kind: row.get("kind"),
            signature: row.get("signature"),
            security_definer: row.get("security_definer"),
        })
        .collect();
    let reach = query(
        client,
        "system functions a role may call",
        ROLE_REACH,
        &[&name],
    )
    .await?;
    role.reach = reach
        .iter()
        .map(|row| FunctionClass {
            class: row.get("class"),
            functions: row.get("functions"),
        })
        .collect();
    let databases = query(
        client,
        "databases a role may connect to",
        OTHER_DATABASES,
        &[&name],
    )
    .await?;
    role.other_databases = databases
        .iter()
        .map(|row| OtherDatabase {
            name: row.get("name"),
            temporary: row.get("temporary"),
        })
        .collect();
    Ok(())
}

async fn load_owned_objects(
    client: &Client,
    app_role: &str,
) -> Result<Vec<OwnedObject>, CheckError> {
    let owned = query(
        client,
        "objects the app role owns",
        OWNED_OBJECTS,
        &[&app_role],
    )
    .await?;
    Ok(owned
        .iter()
        .map(|row| OwnedObject {
            kind: row.get("kind"),
            name: row.get("name"),
            owner: row.get("owner"),
        })
        .collect())
}

async fn load_creatable(
    client: &Client,
    app_role: &str,
) -> Result<Vec<CreatablePlace>, CheckError> {
    let places = query(
        client,
        "where the app role may create",
        CREATABLE,
        &[&app_role],
    )
    .await?;
    Ok(places
        .iter()
        .map(|row| CreatablePlace {
            kind: row.get("kind"),
            name: row.get("name"),
        })
        .collect())
}

async fn attach_accessible_partitions(
    client: &Client,
    app_role: &str,
    tables: &mut TablesByOid,
) -> Result<(), CheckError> {
    let what = "partitions the app role can reach";
    let partitions = query(client, what, PARTITIONS, &[&tables.oids, &app_role]).await?;
    for row in partitions {
        tables
            .of(&row, "parent_oid")
            .accessible_partitions
            .push(AccessiblePartition {
                role: app_role.to_owned(),
                name: row.get("name"),
                privileges: row.get("table_privileges"),
            });
    }
    Ok(())
}

fn table(row: &Row) -> Table {
    let type_name: Option<String> = row.get("organisation_id_type");
    Table {
        oid: row.get("oid"),
        name: row.get("name"),
        is_tenant_root: row.get("is_tenant_root"),
        is_partitioned: row.get("is_partitioned"),
        rls_enabled: row.get("rls_enabled"),
        rls_forced: row.get("rls_forced"),
        comment: row.get("comment"),
        app_privileges: row.get("app_privileges"),
        readonly_privileges: row.get("readonly_privileges"),
        has_audit_trigger: row.get("has_audit_trigger"),
        columns: row.get("columns"),
        tsvector_columns: row.get("tsvector_columns"),
        organisation_id: type_name.map(|type_name| OrganisationIdColumn {
            type_name,
            not_null: row.get("organisation_id_not_null"),
        }),
        partition_key: row.get("partition_key"),
        ..Table::default()
    }
}

async fn query(
    client: &Client,
    what: &'static str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, CheckError> {
    client
        .query(sql, params)
        .await
        .map_err(|source| CheckError::Catalog { what, source })
}
