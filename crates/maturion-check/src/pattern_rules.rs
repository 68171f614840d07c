//! The shared patterns of spec §5 and the search of §6.4, verified from the table's shape: a
//! table with a pattern's columns must have the platform's trigger that enforces it (the
//! helpers of platform 3.4.0 attach them), and a full-text document its GIN index.

use crate::catalog::{Catalog, Table};
use crate::report::Violation;
use crate::rules::literal;

/// Rule id, the pattern's columns, its trigger function, and the helper that attaches it.
const PATTERNS: [(&str, [&str; 3], &str, &str); 3] = [
    (
        "versioning-not-enforced",
        ["version_number", "is_current_version", "parent_version_id"],
        "maturion.keep_versions()",
        "maturion.enable_versioning",
    ),
    (
        "workflow-not-enforced",
        ["status", "status_changed_at", "status_changed_by"],
        "maturion.enforce_workflow()",
        "maturion.enable_workflow",
    ),
    (
        "retention-not-enforced",
        [
            "retention_until",
            "retention_reason",
            "is_legally_protected",
        ],
        "maturion.keep_retained_rows()",
        "maturion.enable_retention",
    ),
];

pub(crate) fn shared_patterns(table: &Table, catalog: &Catalog, out: &mut Vec<Violation>) {
    for (rule, columns, function, helper) in PATTERNS {
        if !columns.iter().all(|column| table.has_column(column)) {
            continue;
        }
        let enforced = catalog
            .triggers
            .iter()
            .any(|trigger| trigger.table == table.name && trigger.function == function);
        if !enforced {
            out.push(Violation::new(
                rule,
                &table.name,
                format!(
                    "has the columns {} (spec §5) but not the trigger that enforces them ({function}), so \
                     clients write them as they like; SELECT {helper}({}) in a migration \
                     (maturion.enable_shared_patterns does every pattern the columns call for)",
                    columns.join(", "),
                    literal(&table.name),
                ),
            ));
        }
    }
    for column in &table.tsvector_columns {
        let indexed = table.indexes.iter().any(|index| {
            index.access_method == "gin"
                && index.key_columns.first().and_then(Option::as_deref) == Some(column.as_str())
        });
        if !indexed {
            out.push(Violation::new(
                "unindexed-search-vector",
                format!("{}.{column}", table.name),
                format!(
                    "is a full-text document without a GIN index, so every search reads every row of the \
                     organisation (§6.4); CREATE INDEX CONCURRENTLY ON {} USING gin ({column})",
                    table.name
                ),
            ));
        }
    }
}
