//! Runs the lint over the migrations shipped in `tests/corpus/`: every destructive one must be
//! refused with the rule its header names, every additive one must pass untouched.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use maturion_lint::{lint, lint_as, lint_file, lint_paths, ChangeKind, Finding, LintError, Scope};

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
    assert!(matches!(lint_file(&missing), Err(LintError::Io { .. })));

    let path = write_migration(
        root.path(),
        "1.2.0_typo",
        "up.sql",
        "SELECT 1;\n\nALTER TABEL risks ADD x int;",
    );
    match lint_file(&path) {
        Err(LintError::Parse { line, message }) => {
            assert_eq!(line, 3);
            assert!(message.contains("syntax error"), "{message}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

/// The platform's own migration sets, as the crates that own them ship them.
fn platform_migrations() -> Vec<(PathBuf, ChangeKind, String)> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for krate in fs::read_dir(&crates).unwrap() {
        let migrations = krate.unwrap().path().join("migrations");
        let Ok(folders) = fs::read_dir(&migrations) else {
            continue;
        };
        for folder in folders {
            let folder = folder.unwrap().path();
            let name = folder.file_name().unwrap().to_str().unwrap().to_owned();
            let version = semver::Version::parse(name.split_once('_').unwrap().0).unwrap();
            let up = folder.join("up.sql");
            let sql = fs::read_to_string(&up).unwrap();
            found.push((up, ChangeKind::of(&version), sql));
        }
    }
    found
}

#[test]
fn the_platform_migrations_pass_as_the_platform_and_not_as_a_module() {
    let migrations = platform_migrations();
    assert!(migrations.len() >= 15, "found {}", migrations.len());
    let mut module_findings = BTreeSet::new();
    for (path, kind, sql) in &migrations {
        let findings = lint_as(sql, *kind, Scope::Platform).unwrap();
        assert!(findings.is_empty(), "{}", rendered(path, &findings));
        module_findings.extend(lint(sql, *kind).unwrap().iter().map(|f| f.rule));
    }
    for rule in [
        "ban-dynamic-sql",
        "ban-runtime-role-grant",
        "ban-disable-trigger",
        "ban-platform-function-change",
        "ban-log-table-change",
    ] {
        assert!(
            module_findings.contains(rule),
            "the platform's migrations, linted as a module's, should hit {rule}: {module_findings:?}"
        );
    }
}

/// Lints `paths` on another thread, so that a lint that blocks fails the test instead of
/// hanging it.
fn lint_paths_in_time(paths: Vec<PathBuf>) -> Result<Vec<(PathBuf, Vec<Finding>)>, LintError> {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || send.send(lint_paths(&paths)));
    receive
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("lint_paths blocked")
}

fn refusal(path: PathBuf) -> String {
    match lint_paths_in_time(vec![path.clone()]) {
        Err(error) => error.to_string(),
        Ok(results) => panic!("{} was linted: {results:?}", path.display()),
    }
}

#[test]
fn named_paths_that_hold_nothing_to_lint_are_errors() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let fifo = root.join("pipe.sql");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let device = root.join("zero.sql");
    std::os::unix::fs::symlink("/dev/zero", &device).unwrap();
    fs::write(root.join("notes.txt"), "DROP TABLE risks;").unwrap();
    fs::create_dir(root.join("folder.sql")).unwrap();
    fs::create_dir(root.join("empty")).unwrap();
    let down_only = write_migration(root, "only_down/1.1.0_x", "down.sql", "DROP TABLE x;");

    let cases = [
        (fifo.clone(), "FIFO"),
        (device, "device"),
        (root.join("notes.txt"), "not a .sql file"),
        (root.join("folder.sql"), "no .sql script"),
        (root.join("empty"), "no .sql script"),
        (root.join("only_down"), "no .sql script"),
        (down_only, "down.sql"),
        (root.join("missing.sql"), "No such file"),
        (PathBuf::from("/dev/null"), "not a .sql file"),
    ];
    for (path, reason) in cases {
        let error = refusal(path.clone());
        assert!(error.contains(reason), "{}: {error}", path.display());
        assert!(error.contains(&path.display().to_string()), "{error}");
    }

    // Inside a folder, a FIFO or device named .sql is an error too, never a wait.
    let folder = root.join("with_fifo");
    fs::create_dir(&folder).unwrap();
    fs::rename(&fifo, folder.join("up.sql")).unwrap();
    assert!(refusal(folder).contains("FIFO"));

    // A file that does not parse names itself and its line.
    let broken = write_migration(
        root,
        "broken/1.2.0_x",
        "up.sql",
        "SELECT 1;\nALTER TABEL x;",
    );
    let error = refusal(root.join("broken"));
    assert!(
        error.contains(&broken.display().to_string()) && error.contains("line 2"),
        "{error}"
    );
}

#[test]
fn folders_are_walked_once_even_through_link_loops() {
    let root = tempfile::tempdir().unwrap();
    let migrations = root.path().join("migrations");
    let up = write_migration(&migrations, "1.1.0_drop", "up.sql", "DROP TABLE risks;");
    write_migration(
        &migrations,
        "1.1.0_drop",
        "down.sql",
        "CREATE TABLE risks ();",
    );
    std::os::unix::fs::symlink(&migrations, migrations.join("loop")).unwrap();
    let results = lint_paths_in_time(vec![migrations]).unwrap();
    let linted: Vec<(&Path, Vec<&str>)> = results
        .iter()
        .map(|(path, findings)| (path.as_path(), findings.iter().map(|f| f.rule).collect()))
        .collect();
    assert_eq!(linted, [(up.as_path(), vec!["ban-drop-table"])]);
}
