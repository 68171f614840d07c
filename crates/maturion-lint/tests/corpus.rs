//! Runs the lint over the migrations shipped in `tests/corpus/`: every destructive one must be
//! refused with the rule its header names, every additive one must pass untouched.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use maturion_lint::{lint, lint_file, ChangeKind, Finding};

/// Every public rule name; each must be exercised by at least one destructive corpus file.
const RULES: &[&str] = &[
    "adding-field-with-volatile-default",
    "adding-foreign-key-constraint",
    "adding-not-nullable-field",
    "ban-blocking-table-maintenance",
    "ban-concurrent-index-creation-in-transaction",
    "ban-disable-rls",
    "ban-disable-trigger",
    "ban-drop-column",
    "ban-drop-constraint",
    "ban-drop-database",
    "ban-drop-default",
    "ban-drop-extension",
    "ban-drop-function",
    "ban-drop-not-null",
    "ban-drop-policy",
    "ban-drop-schema",
    "ban-drop-sequence",
    "ban-drop-table",
    "ban-drop-trigger",
    "ban-drop-type",
    "ban-drop-view",
    "ban-dynamic-sql",
    "ban-lock-table",
    "ban-log-table-change",
    "ban-platform-function-change",
    "ban-role-change",
    "ban-runtime-role-grant",
    "ban-set-not-null",
    "ban-truncate",
    "changing-column-type",
    "constraint-missing-not-valid",
    "delete-without-where",
    "destructive-directive-outside-major",
    "disallowed-unique-constraint",
    "no-transaction-mixed",
    "renaming-column",
    "renaming-enum-value",
    "renaming-object",
    "renaming-table",
    "require-concurrent-index-creation",
    "require-concurrent-index-deletion",
    "require-concurrent-reindex",
    "update-without-where",
];

fn corpus(kind: &str) -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .map(|path| {
            let sql = fs::read_to_string(&path).unwrap();
            (path, sql)
        })
        .collect();
    files.sort();
    files
}

/// The value of a `-- key: value` header line.
fn header<'a>(sql: &'a str, key: &str) -> Option<&'a str> {
    sql.lines()
        .find_map(|line| line.strip_prefix(&format!("-- {key}:")).map(str::trim))
}

fn rendered(path: &Path, findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| f.render(path))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn destructive_migrations_are_refused_with_the_expected_rule() {
    let files = corpus("destructive");
    assert!(
        files.len() >= 35,
        "only {} destructive corpus files",
        files.len()
    );

    let mut checked_lines = 0;
    for (path, sql) in &files {
        let expected = header(sql, "expect")
            .unwrap_or_else(|| panic!("{} has no `-- expect: <rule>` line", path.display()));
        assert!(
            RULES.contains(&expected),
            "{}: unknown rule {expected}",
            path.display()
        );

        let findings =
            lint(sql, ChangeKind::Minor).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let hits: Vec<&Finding> = findings.iter().filter(|f| f.rule == expected).collect();
        assert!(
            !hits.is_empty(),
            "{}: expected {expected}, got:\n{}",
            path.display(),
            rendered(path, &findings)
        );

        if let Some(line) = header(sql, "expect-line") {
            let line: usize = line.parse().unwrap();
            assert!(
                hits.iter().any(|f| f.line == line),
                "{}: expected {expected} at line {line}, got:\n{}",
                path.display(),
                rendered(path, &findings)
            );
            checked_lines += 1;
        }
    }
    assert!(
        checked_lines >= 5,
        "only {checked_lines} corpus files check a line number"
    );
}

#[test]
fn every_rule_has_a_destructive_example() {
    let files = corpus("destructive");
    let covered: BTreeSet<&str> = files
        .iter()
        .filter_map(|(_, sql)| header(sql, "expect"))
        .collect();
    let missing: Vec<&str> = RULES
        .iter()
        .copied()
        .filter(|r| !covered.contains(r))
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a corpus example: {missing:?}"
    );
}

#[test]
fn findings_explain_and_offer_an_alternative() {
    for (path, sql) in corpus("destructive") {
        for finding in lint(&sql, ChangeKind::Minor).unwrap() {
            assert!(
                finding.message.len() > 120,
                "{}: terse message: {}",
                path.display(),
                finding.message
            );
            let offers_alternative = [
                "Safe alternative",
                "Put the statement",
                "move this",
                "Remove the statement",
            ]
            .iter()
            .any(|phrase| finding.message.contains(phrase));
            assert!(
                offers_alternative,
                "{}: no alternative in: {}",
                path.display(),
                finding.message
            );
        }
    }
}

#[test]
fn additive_migrations_pass() {
    let files = corpus("additive");
    assert!(
        files.len() >= 22,
        "only {} additive corpus files",
        files.len()
    );
    for (path, sql) in &files {
        for kind in [ChangeKind::Minor, ChangeKind::Patch, ChangeKind::Major] {
            let findings = lint(sql, kind).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                findings.is_empty(),
                "{} ({kind}) should pass, got:\n{}",
                path.display(),
                rendered(path, &findings)
            );
        }
    }
}

fn write_migration(root: &Path, folder: &str, file: &str, sql: &str) -> PathBuf {
    let dir = root.join(folder);
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    fs::write(&path, sql).unwrap();
    path
}

const DECLARED_DROP: &str = "-- maturion:destructive\nDROP TABLE legacy_risks;\n";

#[test]
fn a_major_migration_may_declare_a_destructive_change() {
    let root = tempfile::tempdir().unwrap();
    let path = write_migration(root.path(), "2.0.0_drop_legacy", "up.sql", DECLARED_DROP);
    assert_eq!(lint_file(&path).unwrap(), Some(vec![]));
}

#[test]
fn a_minor_migration_may_not_declare_a_destructive_change() {
    let root = tempfile::tempdir().unwrap();
    let path = write_migration(root.path(), "1.1.0_drop_legacy", "up.sql", DECLARED_DROP);
    let findings = lint_file(&path).unwrap().unwrap();
    let rules: Vec<(usize, &str)> = findings.iter().map(|f| (f.line, f.rule)).collect();
    assert_eq!(
        rules,
        [
            (1, "destructive-directive-outside-major"),
            (2, "ban-drop-table")
        ]
    );
    assert!(findings[0]
        .render(&path)
        .starts_with(&format!("{}:1: ", path.display())));
}

#[test]
fn a_major_migration_without_the_directive_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let path = write_migration(
        root.path(),
        "3.0.0_drop_legacy",
        "up.sql",
        "DROP TABLE legacy_risks;",
    );
    let findings = lint_file(&path).unwrap().unwrap();
    assert_eq!(findings.len(), 1);
    assert!(
        findings[0].message.contains("`-- maturion:destructive`"),
        "{}",
        findings[0].message
    );
}

#[test]
fn patch_migrations_are_as_strict_as_minor_ones() {
    let root = tempfile::tempdir().unwrap();
    let path = write_migration(
        root.path(),
        "1.1.3_fix",
        "up.sql",
        "ALTER TABLE risks DROP COLUMN x;",
    );
    let rules: Vec<&str> = lint_file(&path)
        .unwrap()
        .unwrap()
        .iter()
        .map(|f| f.rule)
        .collect();
    assert_eq!(rules, ["ban-drop-column"]);
}

#[test]
fn down_scripts_are_not_linted() {
    let root = tempfile::tempdir().unwrap();
    let path = write_migration(root.path(), "1.1.0_add_x", "down.sql", "DROP TABLE x;");
    assert_eq!(lint_file(&path).unwrap(), None);
}

#[test]
fn loose_files_are_linted_as_minor() {
    let root = tempfile::tempdir().unwrap();
    let path = write_migration(root.path(), "scratch", "change.sql", DECLARED_DROP);
    let rules: Vec<&str> = lint_file(&path)
        .unwrap()
        .unwrap()
        .iter()
        .map(|f| f.rule)
        .collect();
    assert_eq!(
        rules,
        ["destructive-directive-outside-major", "ban-drop-table"]
    );
}

#[test]
fn unreadable_and_invalid_files_are_errors() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("1.1.0_x/up.sql");
    assert!(matches!(
        lint_file(&missing),
        Err(maturion_lint::LintError::Io { .. })
    ));

    let path = write_migration(
        root.path(),
        "1.2.0_typo",
        "up.sql",
        "SELECT 1;\n\nALTER TABEL risks ADD x int;",
    );
    match lint_file(&path) {
        Err(maturion_lint::LintError::Parse { line, message }) => {
            assert_eq!(line, 3);
            assert!(message.contains("syntax error"), "{message}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}
