//! Renames of what running code names besides tables and columns: types and their enum
//! values, functions, sequences and constraints.

use pg_query::protobuf::{AlterEnumStmt, AlterObjectSchemaStmt, Node, ObjectType, RenameStmt};

use super::{breaking, name_parts, table_key, Checker, Violation};

impl Checker {
    pub(super) fn remember_type(&mut self, names: &[Node]) {
        let parts: Vec<&str> = names.iter().map(super::string_value).collect();
        self.created_types.insert(parts_key(&parts));
    }

    pub(super) fn rename_enum_value(&self, s: &AlterEnumStmt) -> Option<Violation> {
        if s.old_val.is_empty() {
            return None;
        }
        let parts: Vec<&str> = s.type_name.iter().map(super::string_value).collect();
        if self.created_types.contains(&parts_key(&parts)) {
            return None;
        }
        Some(breaking(
            "renaming-enum-value",
            format!(
                "renaming value '{}' of enum {} to '{}' breaks every query, default, check and \
                 row of code (and of the previous release, still serving during a rolling \
                 deploy) that writes or compares the old value: PostgreSQL then rejects it as \
                 invalid input. Safe alternative: ALTER TYPE ... ADD VALUE '{}', move writers \
                 and readers over to it, and keep the old value (an enum value cannot be \
                 dropped without rebuilding the type).",
                s.old_val,
                parts.join("."),
                s.new_val,
                s.new_val
            ),
        ))
    }

    /// Renaming a type, domain, function, sequence or constraint this migration did not create.
    pub(super) fn rename_definition(&self, s: &RenameStmt) -> Option<Violation> {
        let rename_type = ObjectType::try_from(s.rename_type).ok()?;
        let (kind, name) = match rename_type {
            ObjectType::ObjectTabconstraint => (
                "constraint",
                format!("{} on {}", s.subname, self.existing(s.relation.as_ref())?),
            ),
            ObjectType::ObjectSequence => ("sequence", self.existing(s.relation.as_ref())?),
            _ => self.created_elsewhere(rename_type, s.object.as_deref())?,
        };
        Some(renaming_object(&format!(
            "renaming {kind} {name} to {}",
            s.newname
        )))
    }

    /// Moving a type, domain, function or sequence this migration did not create to another
    /// schema.
    pub(super) fn move_definition(&self, s: &AlterObjectSchemaStmt) -> Option<Violation> {
        let object_type = ObjectType::try_from(s.object_type).ok()?;
        let (kind, name) = match object_type {
            ObjectType::ObjectSequence => ("sequence", self.existing(s.relation.as_ref())?),
            _ => self.created_elsewhere(object_type, s.object.as_deref())?,
        };
        Some(renaming_object(&format!(
            "moving {kind} {name} to schema {}",
            s.newschema
        )))
    }

    /// The kind and name of a type or routine object, unless this migration created it.
    fn created_elsewhere(
        &self,
        object_type: ObjectType,
        object: Option<&Node>,
    ) -> Option<(&'static str, String)> {
        let kind = match object_type {
            ObjectType::ObjectType => "type",
            ObjectType::ObjectDomain => "domain",
            ObjectType::ObjectFunction => "function",
            ObjectType::ObjectProcedure => "procedure",
            ObjectType::ObjectRoutine => "routine",
            ObjectType::ObjectAggregate => "aggregate",
            _ => return None,
        };
        let parts = name_parts(object?);
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let key = parts_key(&parts);
        let created = match kind {
            "type" | "domain" => self.created_types.contains(&key),
            _ => self.created_routines.contains_key(&key),
        };
        (!created).then(|| (kind, parts.join(".")))
    }
}

fn parts_key(parts: &[&str]) -> String {
    match parts {
        [.., schema, name] => table_key(schema, name),
        [name] => table_key("", name),
        [] => String::new(),
    }
}

fn renaming_object(what: &str) -> Violation {
    breaking(
        "renaming-object",
        format!(
            "{what} breaks every column, cast, default, call and query of running code (and of \
             the previous release, still serving during a rolling deploy) that names it the old \
             way: PostgreSQL then reports that it does not exist. Safe alternative: keep the \
             old name; create the new object beside it (a new type, a new function calling \
             the old one), move users over, and drop the old one later as a planned breaking \
             change."
        ),
    )
}
