//! The outcome of a check, for people (`render_human`) and for scripts (`Serialize`).

use std::fmt::Write as _;

use serde::{Serialize, Serializer};

/// One thing that breaks the architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Stable kebab-case id, e.g. `rls-not-forced`; scripts may match on it.
    pub rule: &'static str,
    /// What is wrong, e.g. `public.risks`, `public.risks.policy tenant_isolation`,
    /// `function public.f(uuid)`.
    pub object: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Violation {
    pub(crate) fn new(
        rule: &'static str,
        object: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            rule,
            object: object.into(),
            message: message.into(),
        }
    }
}

/// Serialises as `{"database", "tables_checked", "clean", "violations": [{"rule", "object",
/// "message"}]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub database: String,
    /// Tables the architecture governs (partitions and system tables not counted).
    pub tables_checked: usize,
    /// Sorted by object, then rule.
    pub violations: Vec<Violation>,
}

impl Report {
    pub(crate) fn new(
        database: String,
        tables_checked: usize,
        mut violations: Vec<Violation>,
    ) -> Self {
        violations
            .sort_by(|a, b| (&a.object, a.rule, &a.message).cmp(&(&b.object, b.rule, &b.message)));
        Self {
            database,
            tables_checked,
            violations,
        }
    }

    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// Violations grouped under their object, then a summary line.
    pub fn render_human(&self) -> String {
        // Writing to a String cannot fail.
        let mut out = String::new();
        let groups: Vec<&[Violation]> = self
            .violations
            .chunk_by(|a, b| a.object == b.object)
            .collect();
        for group in &groups {
            let _ = writeln!(out, "{}", group[0].object);
            for violation in *group {
                let _ = writeln!(out, "  {}: {}", violation.rule, violation.message);
            }
            out.push('\n');
        }
        let tables = plural(self.tables_checked, "table");
        let _ = if self.is_clean() {
            writeln!(out, "{}: {tables} checked, no violations.", self.database)
        } else {
            let violations = plural(self.violations.len(), "violation");
            let objects = plural(groups.len(), "object");
            writeln!(
                out,
                "{}: {tables} checked, {violations} on {objects}.",
                self.database
            )
        };
        out
    }
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            database: &'a str,
            tables_checked: usize,
            clean: bool,
            violations: &'a [Violation],
        }
        Json {
            database: &self.database,
            tables_checked: self.tables_checked,
            clean: self.is_clean(),
            violations: &self.violations,
        }
        .serialize(serializer)
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report::new(
            "db".into(),
            3,
            vec![
                Violation::new("rls-not-forced", "public.b", "force it"),
                Violation::new("missing-audit-fields", "public.b", "add them"),
                Violation::new("rls-not-enabled", "public.a", "enable it"),
            ],
        )
    }

    #[test]
    fn violations_are_sorted_by_object_then_rule() {
        let report = report();
        let order: Vec<_> = report
            .violations
            .iter()
            .map(|v| (v.object.as_str(), v.rule))
            .collect();
        assert_eq!(
            order,
            [
                ("public.a", "rls-not-enabled"),
                ("public.b", "missing-audit-fields"),
                ("public.b", "rls-not-forced")
            ]
        );
    }

    #[test]
    fn human_rendering_groups_by_object_and_ends_with_a_summary() {
        assert_eq!(
            report().render_human(),
            "public.a\n  rls-not-enabled: enable it\n\n\
             public.b\n  missing-audit-fields: add them\n  rls-not-forced: force it\n\n\
             db: 3 tables checked, 3 violations on 2 objects.\n"
        );
        assert_eq!(
            Report::new("db".into(), 1, vec![]).render_human(),
            "db: 1 table checked, no violations.\n"
        );
    }

    #[test]
    fn json_shape_is_stable_for_scripts() {
        let json = serde_json::to_value(report()).unwrap();
        assert_eq!(json["database"], "db");
        assert_eq!(json["tables_checked"], 3);
        assert_eq!(json["clean"], false);
        assert_eq!(
            json["violations"][0],
            serde_json::json!({"rule": "rls-not-enabled", "object": "public.a", "message": "enable it"})
        );
    }
}
