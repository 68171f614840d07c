//! Privileges and roles. A module's migration may give the runtime roles what a tenant table
//! it creates needs, and nothing else: no privilege that skips row level security or the
//! audit trail, nothing on tables it did not create, no role and no default privileges.

use pg_query::protobuf::{
    AlterTableType, GrantStmt, GrantTargetType, Node, ObjectType, RoleSpec, RoleSpecType,
};
use pg_query::NodeEnum;

use super::{platform_only, string_value, table_key, Checker, Violation};

const GRANT_RULE: &str = "ban-runtime-role-grant";
const ROLE_RULE: &str = "ban-role-change";

/// The role migrations run as, which owns every object.
const OWNER_ROLE: &str = "maturion_owner";

/// What a role may be granted on a table this migration creates: the request path reads and
/// writes (deletes are soft, through UPDATE), reporting reads, the maintenance jobs also purge.
fn table_privileges_allowed(role: &Grantee) -> &'static [&'static str] {
    match role {
        Grantee::Named(name) if name == "maturion_app" => &["select", "insert", "update"],
        Grantee::Named(name) if name == "maturion_maintenance" => {
            &["select", "insert", "update", "delete"]
        }
        Grantee::Named(_) => &["select"],
        Grantee::Public => &[],
    }
}

enum Grantee {
    Named(String),
    /// PUBLIC: every role, present and future.
    Public,
}

impl Grantee {
    fn of(node: &Node) -> Option<Grantee> {
        let Some(NodeEnum::RoleSpec(spec)) = &node.node else {
            return None;
        };
        Some(if spec.roletype == RoleSpecType::RolespecPublic as i32 {
            Grantee::Public
        } else {
            Grantee::Named(role_name(spec))
        })
    }

    fn name(&self) -> &str {
        match self {
            Grantee::Named(name) => name,
            Grantee::Public => "PUBLIC",
        }
    }
}

fn role_name(spec: &RoleSpec) -> String {
    match RoleSpecType::try_from(spec.roletype) {
        Ok(RoleSpecType::RolespecCstring) => spec.rolename.clone(),
        Ok(RoleSpecType::RolespecPublic) => "PUBLIC".into(),
        Ok(RoleSpecType::RolespecSessionUser) => "SESSION_USER".into(),
        // CURRENT_USER and CURRENT_ROLE: the owner role the migration runs as.
        _ => OWNER_ROLE.into(),
    }
}

impl Checker {
    pub(super) fn privileges(&self, node: &NodeEnum) -> Vec<Violation> {
        match node {
            NodeEnum::GrantStmt(s) if s.is_grant => self.grant(s).into_iter().collect(),
            NodeEnum::GrantRoleStmt(s) if s.is_grant => vec![grant_violation(
                "GRANT of a role (role membership)",
                "a member has every privilege of the role it joins, and may SET ROLE to it",
            )],
            NodeEnum::AlterOwnerStmt(s) => new_owner(s.newowner.as_ref()).into_iter().collect(),
            NodeEnum::CreateSchemaStmt(s) => new_owner(s.authrole.as_ref()).into_iter().collect(),
            NodeEnum::AlterTableStmt(s) => s
                .cmds
                .iter()
                .filter_map(|cmd| match &cmd.node {
                    Some(NodeEnum::AlterTableCmd(c))
                        if c.subtype == AlterTableType::AtChangeOwner as i32 =>
                    {
                        new_owner(c.newowner.as_ref())
                    }
                    _ => None,
                })
                .collect(),
            other => role_change(other).into_iter().collect(),
        }
    }

    fn grant(&self, s: &GrantStmt) -> Option<Violation> {
        if s.targtype == GrantTargetType::AclTargetAllInSchema as i32 {
            return Some(grant_violation(
                "GRANT ... ON ALL ... IN SCHEMA",
                "it reaches every object of the schema, the platform's and other modules' included",
            ));
        }
        if s.grant_option {
            return Some(grant_violation(
                "GRANT ... WITH GRANT OPTION",
                "the grantee may then pass the privilege on to any role",
            ));
        }
        let grantees: Vec<Grantee> = s.grantees.iter().filter_map(Grantee::of).collect();
        let privileges: Vec<String> = s
            .privileges
            .iter()
            .filter_map(|p| match &p.node {
                Some(NodeEnum::AccessPriv(p)) => Some(p.priv_name.to_ascii_lowercase()),
                _ => None,
            })
            .collect();
        let object_type = ObjectType::try_from(s.objtype).unwrap_or(ObjectType::Undefined);
        match object_type {
            ObjectType::ObjectTable => self.grant_on_tables(&s.objects, &privileges, &grantees),
            ObjectType::ObjectSequence => self.grant_on_created(
                &s.objects,
                &privileges,
                &["usage", "select"],
                "sequence",
                |checker, node| checker.created_relation(node),
            ),
            ObjectType::ObjectFunction
            | ObjectType::ObjectProcedure
            | ObjectType::ObjectRoutine => self.grant_on_created(
                &s.objects,
                &privileges,
                &["execute"],
                "function",
                |checker, node| checker.created_routine(node),
            ),
            ObjectType::ObjectSchema => self.grant_on_created(
                &s.objects,
                &privileges,
                &["usage"],
                "schema",
                |checker, node| checker.created_schemas.contains(string_value(node)),
            ),
            _ => Some(grant_violation(
                "GRANT on a database, type, language, parameter or other shared object",
                "such objects are shared by every tenant and module",
            )),
        }
    }

    fn grant_on_tables(
        &self,
        objects: &[Node],
        privileges: &[String],
        grantees: &[Grantee],
    ) -> Option<Violation> {
        if let Some(table) = objects.iter().find(|node| !self.created_relation(node)) {
            let name = match &table.node {
                Some(NodeEnum::RangeVar(r)) => super::display_name(r),
                _ => String::new(),
            };
            return Some(grant_violation(
                &format!("GRANT on {name}, a table this migration did not create,"),
                "the platform's tables and other modules' tables keep the privileges their own \
                 migrations gave them",
            ));
        }
        if let Some(view) = objects.iter().find_map(|node| self.owner_rights(node)) {
            return Some(grant_violation(
                &format!(
                    "GRANT on {view}, a view without security_invoker or a materialized view,"
                ),
                "such a view reads with its owner's rights, so row level security of the \
                 tables under it filters nothing for the grantee; create the view WITH \
                 (security_invoker = true), or give readers a table with its own policy",
            ));
        }
        for grantee in grantees {
            let allowed = table_privileges_allowed(grantee);
            let excess: Vec<&str> = if privileges.is_empty() {
                vec!["all"]
            } else {
                privileges
                    .iter()
                    .map(String::as_str)
                    .filter(|p| !allowed.contains(p))
                    .collect()
            };
            if !excess.is_empty() {
                return Some(grant_violation(
                    &format!(
                        "GRANT {} ... TO {}",
                        excess.join(", ").to_uppercase(),
                        grantee.name()
                    ),
                    &format!(
                        "on a tenant table {} needs at most {}: DELETE and TRUNCATE destroy rows \
                         past the audit trail (TRUNCATE past row level security too), REFERENCES \
                         probes other tenants' keys, TRIGGER runs code as the table's writers",
                        grantee.name(),
                        if allowed.is_empty() {
                            "nothing".to_string()
                        } else {
                            allowed.join(", ").to_uppercase()
                        }
                    ),
                ));
            }
        }
        None
    }

    fn grant_on_created(
        &self,
        objects: &[Node],
        privileges: &[String],
        allowed: &[&str],
        kind: &str,
        created: impl Fn(&Self, &Node) -> bool,
    ) -> Option<Violation> {
        let excess =
            privileges.is_empty() || privileges.iter().any(|p| !allowed.contains(&p.as_str()));
        if excess || !objects.iter().all(|node| created(self, node)) {
            return Some(grant_violation(
                &format!(
                    "GRANT on a {kind} this migration did not create, or beyond {}",
                    allowed.join("/").to_uppercase()
                ),
                &format!(
                    "only a {kind} created by the same migration may be opened, and only for {}",
                    allowed.join("/").to_uppercase()
                ),
            ));
        }
        None
    }

    fn created_relation(&self, node: &Node) -> bool {
        match &node.node {
            Some(NodeEnum::RangeVar(r)) => self
                .created_tables
                .contains(&table_key(&r.schemaname, &r.relname)),
            _ => false,
        }
    }

    fn owner_rights(&self, node: &Node) -> Option<String> {
        match &node.node {
            Some(NodeEnum::RangeVar(r))
                if self
                    .owner_rights_relations
                    .contains(&table_key(&r.schemaname, &r.relname)) =>
            {
                Some(super::display_name(r))
            }
            _ => None,
        }
    }

    fn created_routine(&self, node: &Node) -> bool {
        let Some(NodeEnum::ObjectWithArgs(o)) = &node.node else {
            return false;
        };
        let parts: Vec<&str> = o.objname.iter().map(string_value).collect();
        let key = match parts.as_slice() {
            [.., schema, name] => table_key(schema, name),
            [name] => table_key("", name),
            [] => return false,
        };
        self.created_routines.contains_key(&key) && !key.starts_with("maturion.")
    }
}

fn grant_violation(what: &str, why: &str) -> Violation {
    platform_only(
        GRANT_RULE,
        format!(
            "{what} gives more than a module's own new tables need: {why}. The runtime roles \
             (maturion_app, maturion_readonly) and PUBLIC run every tenant's requests, so a \
             privilege given to them is given to every SQL injection in every module. Safe \
             alternative: create your table and call maturion.enable_tenant_isolation('table') \
             in the same migration, which grants SELECT, INSERT, UPDATE to maturion_app and \
             SELECT to maturion_readonly (or GRANT exactly that yourself on the table you \
             create); anything more is a platform change."
        ),
    )
}

fn new_owner(owner: Option<&RoleSpec>) -> Option<Violation> {
    let owner = role_name(owner?);
    (owner != OWNER_ROLE).then(|| {
        grant_violation(
            &format!("OWNER TO {owner}"),
            "an owner holds every privilege on the object, may grant them on, and skips row \
             level security unless it is forced",
        )
    })
}

/// Creating, changing or dropping a role, default privileges, role and database settings.
/// (Switching the role the migration runs as is a setting: see `platform::setting_violation`.)
fn role_change(node: &NodeEnum) -> Option<Violation> {
    let what = match node {
        NodeEnum::CreateRoleStmt(s) => format!("CREATE ROLE {}", s.role),
        NodeEnum::AlterRoleStmt(s) => format!(
            "ALTER ROLE {}",
            s.role.as_ref().map(role_name).unwrap_or_default()
        ),
        NodeEnum::AlterRoleSetStmt(s) => format!(
            "ALTER ROLE {} SET",
            s.role
                .as_ref()
                .map(role_name)
                .unwrap_or_else(|| "ALL".into())
        ),
        NodeEnum::DropRoleStmt(_) => "DROP ROLE".to_string(),
        NodeEnum::RenameStmt(s) if s.rename_type == ObjectType::ObjectRole as i32 => {
            format!("ALTER ROLE {} RENAME", s.subname)
        }
        NodeEnum::AlterDefaultPrivilegesStmt(s)
            if s.action.as_ref().is_some_and(|a| a.is_grant) =>
        {
            "ALTER DEFAULT PRIVILEGES ... GRANT".to_string()
        }
        NodeEnum::AlterDatabaseSetStmt(s) => format!("ALTER DATABASE {} SET", s.dbname),
        NodeEnum::AlterSystemStmt(_) => "ALTER SYSTEM".to_string(),
        _ => return None,
    };
    Some(role_violation(&what))
}

pub(super) fn role_violation(what: &str) -> Violation {
    platform_only(
        ROLE_RULE,
        format!(
            "{what} changes who may do what across the whole cluster: roles, their attributes \
             (BYPASSRLS, SUPERUSER, LOGIN, CREATEROLE), their memberships and settings, the \
             privileges every future object gets, and the role this migration runs as are the \
             platform's, not a module's; a change here reaches every tenant. Safe alternative: \
             leave roles to the platform (`maturion` sets them up), and give your own tables \
             the standard grants with maturion.enable_tenant_isolation('table')."
        ),
    )
}
