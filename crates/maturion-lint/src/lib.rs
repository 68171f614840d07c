//! The zero-regression migration linter.
//!
//! Maturion's schema changes must stay backwards compatible: a MINOR or PATCH migration may
//! only add things, so that code written against the previous schema (including the previous
//! release, still serving during a rolling deploy) keeps working, and so that no migration
//! blocks production traffic behind a long lock. Breaking changes need a MAJOR version
//! (`X.0.0`) whose `up.sql` declares them with a `-- maturion:destructive` line at the top.
//!
//! A module's migration must also stay inside its own objects: no privilege, role, trigger
//! switch, log change or platform function change that would weaken what keeps tenants apart,
//! and no dynamic SQL the lint cannot read. Only the platform's own migration sets
//! ([`Scope::Platform`]) may do that.
//!
//! This crate checks a migration script against those rules with the real PostgreSQL parser
//! ([`pg_query`]). The migration engine runs it before applying a migration, and module
//! authors run it as `maturion migrate lint [PATH…]`, so every [`Finding`] explains what would
//! break and names the safe alternative.

use std::fmt;
use std::path::{Path, PathBuf};

use semver::Version;

mod files;
mod rules;
mod source;

pub use files::{lint_file, lint_paths};
use rules::Class;

/// What a migration's version number allows it to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// `X.0.0`: may break compatibility, when it declares `-- maturion:destructive`.
    Major,
    /// `X.Y.0`: additive only.
    Minor,
    /// `X.Y.Z`: additive only.
    Patch,
}

impl ChangeKind {
    pub fn of(version: &Version) -> Self {
        match (version.minor, version.patch) {
            (0, 0) => ChangeKind::Major,
            (_, 0) => ChangeKind::Minor,
            _ => ChangeKind::Patch,
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChangeKind::Major => "MAJOR",
            ChangeKind::Minor => "MINOR",
            ChangeKind::Patch => "PATCH",
        })
    }
}

/// The `-- maturion:…` directive lines at the top of an `up.sql`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Directives {
    /// `-- maturion:destructive`: this MAJOR migration breaks compatibility on purpose.
    pub destructive: bool,
    /// `-- maturion:no-transaction`: run the script outside a transaction, as
    /// `CREATE INDEX CONCURRENTLY` requires.
    pub no_transaction: bool,
}

const DESTRUCTIVE: &str = "destructive";
const NO_TRANSACTION: &str = "no-transaction";

/// Reads the directives among the leading comment lines of a script. A directive further down
/// is ignored: directives change how the whole file is treated, so they belong where a reader
/// sees them first.
pub fn parse_directives(sql: &str) -> Directives {
    let mut directives = Directives::default();
    for (_, name) in leading_directives(sql) {
        match name {
            DESTRUCTIVE => directives.destructive = true,
            NO_TRANSACTION => directives.no_transaction = true,
            _ => {}
        }
    }
    directives
}

/// `(line, name)` of each `-- maturion:name` line before the first statement.
fn leading_directives(sql: &str) -> impl Iterator<Item = (usize, &str)> {
    sql.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .take_while(|(_, line)| line.is_empty() || line.starts_with("--"))
        .filter_map(|(line, text)| {
            let name = text.strip_prefix("--")?.trim().strip_prefix("maturion:")?;
            // Allow a reason after the directive: `-- maturion:destructive drops legacy_risks`.
            Some((line, name.split_whitespace().next().unwrap_or_default()))
        })
}

/// One rule violation in a migration script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line of the offending statement's first keyword.
    pub line: usize,
    /// The rule's kebab-case name, e.g. `ban-drop-column`.
    pub rule: &'static str,
    /// Why the statement breaks running code or blocks traffic, and the safe alternative.
    pub message: String,
}

impl Finding {
    /// `path:line: rule-name: message`, the format editors and CI logs link to.
    pub fn render(&self, path: &Path) -> String {
        format!(
            "{}:{}: {}: {}",
            path.display(),
            self.line,
            self.rule,
            self.message
        )
    }
}

/// Whose migration set a script belongs to, which decides how far it may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A module's set: it may create and change its own objects, and give its own new tables
    /// the standard grants; nothing of the platform's or of other modules'.
    Module,
    /// The platform's own sets (global schema, audit, events, maintenance), which define the
    /// roles, grants, guards and functions the module rules protect.
    Platform,
}

#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error("line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A path named for linting that holds nothing the lint reads.
    #[error("cannot lint {}: {reason}", path.display())]
    NotLintable { path: PathBuf, reason: String },
}

/// Lints one `up.sql` script of a module as a migration of the given kind (the strictest
/// scope). Findings are sorted by line.
pub fn lint(sql: &str, kind: ChangeKind) -> Result<Vec<Finding>, LintError> {
    lint_as(sql, kind, Scope::Module)
}

/// Lints one `up.sql` script of the given scope as a migration of the given kind. Findings are
/// sorted by line.
pub fn lint_as(sql: &str, kind: ChangeKind, scope: Scope) -> Result<Vec<Finding>, LintError> {
    let directives = parse_directives(sql);
    let statements = source::statements(sql)?;
    let breaking_allowed = kind == ChangeKind::Major && directives.destructive;

    let mut findings = Vec::new();
    if kind != ChangeKind::Major {
        findings.extend(
            leading_directives(sql)
                .filter(|(_, name)| *name == DESTRUCTIVE)
                .map(|(line, _)| Finding {
                    line,
                    rule: "destructive-directive-outside-major",
                    message: format!(
                        "`-- maturion:destructive` is only allowed in a MAJOR migration (X.0.0), \
                         and this one is {kind}. Breaking changes need a new major version: \
                         move this change to an X.0.0 migration, or make it additive \
                         (expand/contract) and remove the directive."
                    ),
                }),
        );
    }

    let mut checker = rules::Checker::new(directives.no_transaction);
    for statement in &statements {
        for (line, violation) in checker.check(statement) {
            let note = match violation.class {
                Class::Invalid => None,
                Class::Breaking if breaking_allowed => continue,
                Class::Breaking => Some(policy_note(kind)),
                Class::PlatformOnly if scope == Scope::Platform => continue,
                Class::PlatformOnly => Some(MODULE_NOTE),
            };
            let mut message = violation.message;
            if let Some(note) = note {
                message.push(' ');
                message.push_str(note);
            }
            findings.push(Finding {
                line,
                rule: violation.rule,
                message,
            });
        }
    }
    findings.sort_by_key(|f| f.line);
    Ok(findings)
}

/// The closing sentence of a finding only the platform's own migrations may ship.
const MODULE_NOTE: &str = "A module's migration may not do this at any version, MAJOR and \
                           `-- maturion:destructive` included; only the platform's own \
                           migration sets may.";

/// The closing sentence of a breaking finding: how the change could still be shipped.
fn policy_note(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Major => {
            "This is a MAJOR migration: if the break is intended, declare it with a \
             `-- maturion:destructive` line at the top of up.sql."
        }
        ChangeKind::Minor | ChangeKind::Patch => {
            "MINOR and PATCH migrations may neither break running code nor block it behind \
             long locks; only a MAJOR migration (X.0.0) that declares `-- maturion:destructive` \
             may do this."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(sql: &str, kind: ChangeKind) -> Vec<(usize, &'static str)> {
        lint(sql, kind)
            .unwrap()
            .into_iter()
            .map(|f| (f.line, f.rule))
            .collect()
    }

    #[test]
    fn change_kind_follows_semver() {
        let kind = |v: &str| ChangeKind::of(&Version::parse(v).unwrap());
        assert_eq!(kind("1.0.0"), ChangeKind::Major);
        assert_eq!(kind("2.0.0"), ChangeKind::Major);
        assert_eq!(kind("0.0.0"), ChangeKind::Major);
        assert_eq!(kind("1.2.0"), ChangeKind::Minor);
        assert_eq!(kind("0.1.0"), ChangeKind::Minor);
        assert_eq!(kind("1.2.3"), ChangeKind::Patch);
        assert_eq!(kind("1.0.1"), ChangeKind::Patch);
    }

    #[test]
    fn directives_are_read_from_leading_comments_only() {
        let both = "-- Drop the legacy table.\n\n--maturion:destructive\n  -- maturion:no-transaction   \nDROP TABLE t;";
        assert_eq!(
            parse_directives(both),
            Directives {
                destructive: true,
                no_transaction: true
            }
        );

        let with_reason = "-- maturion:destructive legacy_risks is unused since 2.3\nDROP TABLE t;";
        assert!(parse_directives(with_reason).destructive);

        let too_late = "SELECT 1;\n-- maturion:destructive\nDROP TABLE t;";
        assert_eq!(parse_directives(too_late), Directives::default());

        let spaced = "-- maturion: no-transaction\nSELECT 1;";
        assert!(parse_directives(spaced).no_transaction);

        let misspelt = "-- maturion:destructiveness\nSELECT 1;";
        assert_eq!(parse_directives(misspelt), Directives::default());
    }

    #[test]
    fn lines_point_at_the_statement_keyword() {
        let sql = "-- header comment\n\nCREATE TABLE a (id int);\n\n/* block\n   comment */\n  -- another\n  DROP TABLE b;\nALTER TABLE c DROP COLUMN x; TRUNCATE d;\n";
        assert_eq!(
            rules(sql, ChangeKind::Minor),
            [
                (8, "ban-drop-table"),
                (9, "ban-drop-column"),
                (9, "ban-truncate")
            ]
        );
    }

    #[test]
    fn tables_created_in_the_same_file_are_not_existing_tables() {
        let sql = "CREATE TABLE \"public\".staging (id int);\n\
                   CREATE INDEX staging_id ON staging (id);\n\
                   ALTER TABLE public.staging ADD COLUMN name text NOT NULL;\n\
                   ALTER TABLE staging ALTER COLUMN id SET NOT NULL;\n\
                   DROP TABLE staging;\n\
                   CREATE INDEX risks_id ON risks (id);\n\
                   CREATE INDEX other_id ON audit.staging (id);";
        assert_eq!(
            rules(sql, ChangeKind::Minor),
            [
                (6, "require-concurrent-index-creation"),
                (7, "require-concurrent-index-creation")
            ]
        );
    }

    #[test]
    fn quoted_names_keep_their_case() {
        let sql = "CREATE TABLE \"Risks\" (id int);\nCREATE INDEX ON risks (id);";
        assert_eq!(
            rules(sql, ChangeKind::Minor),
            [(2, "require-concurrent-index-creation")]
        );
    }

    #[test]
    fn major_with_directive_may_break() {
        let sql =
            "-- maturion:destructive\nDROP TABLE legacy;\nALTER TABLE risks DROP COLUMN score;";
        assert_eq!(rules(sql, ChangeKind::Major), []);
    }

    #[test]
    fn major_without_directive_is_told_about_it() {
        let findings = lint("DROP TABLE legacy;", ChangeKind::Major).unwrap();
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0].message.contains("This is a MAJOR migration"),
            "{}",
            findings[0].message
        );
        assert!(findings[0].message.contains("-- maturion:destructive"));
    }

    #[test]
    fn destructive_directive_outside_major_is_always_a_finding() {
        let sql = "-- why: cleanup\n-- maturion:destructive\nCOMMENT ON TABLE t IS 'x';";
        assert_eq!(
            rules(sql, ChangeKind::Patch),
            [(2, "destructive-directive-outside-major")]
        );
        let findings = lint(sql, ChangeKind::Minor).unwrap();
        assert!(
            findings[0].message.contains("this one is MINOR"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn the_directive_does_not_silence_transaction_rules() {
        let sql = "-- maturion:destructive\nDROP INDEX CONCURRENTLY risks_old;";
        assert_eq!(
            rules(sql, ChangeKind::Major),
            [(2, "ban-concurrent-index-creation-in-transaction")]
        );
    }

    #[test]
    fn findings_are_sorted_by_line() {
        let sql = "DROP TABLE a;\n-- maturion:destructive\nDROP TABLE b;";
        let lines: Vec<usize> = lint(sql, ChangeKind::Minor)
            .unwrap()
            .iter()
            .map(|f| f.line)
            .collect();
        assert_eq!(lines, [1, 3]);
    }

    #[test]
    fn render_is_path_line_rule_message() {
        let finding = Finding {
            line: 7,
            rule: "ban-truncate",
            message: "no.".into(),
        };
        assert_eq!(
            finding.render(Path::new("migrations/1.2.0_x/up.sql")),
            "migrations/1.2.0_x/up.sql:7: ban-truncate: no."
        );
    }

    fn rules_as(sql: &str, kind: ChangeKind, scope: Scope) -> Vec<(usize, &'static str)> {
        lint_as(sql, kind, scope)
            .unwrap()
            .into_iter()
            .map(|f| (f.line, f.rule))
            .collect()
    }

    const REACHES_PAST_THE_MODULE: &str = "ALTER TABLE risks DISABLE TRIGGER ALL;\n\
                                           GRANT DELETE ON users TO maturion_app;\n\
                                           ALTER ROLE maturion_app BYPASSRLS;";

    #[test]
    fn only_the_platform_may_reach_past_its_own_objects() {
        let expected = [
            (1, "ban-disable-trigger"),
            (2, "ban-runtime-role-grant"),
            (3, "ban-role-change"),
        ];
        for kind in [ChangeKind::Minor, ChangeKind::Patch, ChangeKind::Major] {
            assert_eq!(
                rules_as(REACHES_PAST_THE_MODULE, kind, Scope::Module),
                expected
            );
            assert_eq!(rules_as(REACHES_PAST_THE_MODULE, kind, Scope::Platform), []);
        }
        let declared = format!("-- maturion:destructive\n{REACHES_PAST_THE_MODULE}");
        let declared_lines: Vec<usize> = lint(&declared, ChangeKind::Major)
            .unwrap()
            .iter()
            .map(|f| f.line)
            .collect();
        assert_eq!(
            declared_lines,
            [2, 3, 4],
            "the directive does not help a module"
        );
        let message = &lint(REACHES_PAST_THE_MODULE, ChangeKind::Minor).unwrap()[0].message;
        assert!(message.contains("only the platform's own"), "{message}");
    }

    #[test]
    fn the_platform_still_may_not_break_compatibility_unannounced() {
        assert_eq!(
            rules_as(
                "ALTER TABLE users DROP COLUMN name;",
                ChangeKind::Minor,
                Scope::Platform
            ),
            [(1, "ban-drop-column")]
        );
    }

    #[test]
    fn do_blocks_are_read_statement_by_statement() {
        let sql = "DO $$\nBEGIN\n  PERFORM 1;\n  ALTER TABLE risks DROP COLUMN x;\n  \
                   ALTER TABLE risks ENABLE REPLICA TRIGGER t;\nEND $$;";
        assert_eq!(
            rules(sql, ChangeKind::Minor),
            [(4, "ban-drop-column"), (5, "ban-disable-trigger")]
        );
        let quoted = "DO 'BEGIN EXECUTE ''TRUNCATE risks''; END';";
        assert_eq!(rules(quoted, ChangeKind::Minor), [(1, "ban-dynamic-sql")]);
    }

    #[test]
    fn every_form_of_dynamic_sql_is_refused() {
        for body in [
            "EXECUTE 'SELECT 1'",
            "FOR r IN EXECUTE 'SELECT 1' LOOP END LOOP",
            "OPEN c FOR EXECUTE 'SELECT 1'",
        ] {
            let sql = format!("DO $$ DECLARE r record; c refcursor; BEGIN {body}; END $$;");
            assert_eq!(
                rules(&sql, ChangeKind::Minor),
                [(1, "ban-dynamic-sql")],
                "{body}"
            );
        }
        let other_language = "DO LANGUAGE plpython3u $$ plpy.execute('TRUNCATE risks') $$;";
        assert_eq!(
            rules(other_language, ChangeKind::Minor),
            [(1, "ban-dynamic-sql")]
        );
        // The PL/pgSQL parser refuses this body; the EXECUTE keyword is still seen.
        let unreadable = "DO $$ BEGIN RETURN QUERY EXECUTE 'SELECT 1'; END $$;";
        assert_eq!(
            rules(unreadable, ChangeKind::Minor),
            [(1, "ban-dynamic-sql")]
        );
    }

    #[test]
    fn routines_created_here_run_when_called() {
        let sql = "CREATE FUNCTION again() RETURNS void LANGUAGE plpgsql AS $$\n\
                   BEGIN\n  PERFORM again();\n  SET LOCAL session_replication_role = replica;\nEND $$;\n\
                   CREATE PROCEDURE wipe() LANGUAGE sql AS $$ TRUNCATE risks $$;\n\
                   SELECT again(), again();\n\
                   CALL public.wipe();";
        assert_eq!(
            rules(sql, ChangeKind::Minor),
            [(4, "ban-disable-trigger"), (6, "ban-truncate")]
        );
        let only_created = "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ \
                            BEGIN EXECUTE 'TRUNCATE risks'; END $$;";
        assert_eq!(rules(only_created, ChangeKind::Minor), []);
    }

    #[test]
    fn grants_fit_a_table_of_the_migration_own() {
        let created = "CREATE TABLE notes (id int);\n";
        let allowed = [
            "GRANT SELECT, INSERT, UPDATE ON notes TO maturion_app",
            "GRANT SELECT ON TABLE public.notes TO maturion_readonly",
            "GRANT UPDATE (id) ON notes TO maturion_app",
            "REVOKE ALL ON users FROM maturion_app",
        ];
        for grant in allowed {
            assert_eq!(
                rules(&format!("{created}{grant};"), ChangeKind::Minor),
                [],
                "{grant}"
            );
        }
        let refused = [
            "GRANT DELETE ON notes TO maturion_app",
            "GRANT INSERT ON notes TO maturion_readonly",
            "GRANT SELECT ON notes TO maturion_app WITH GRANT OPTION",
            "GRANT SELECT ON notes, organisations TO maturion_app",
            "GRANT USAGE ON SCHEMA maturion TO maturion_app",
            "GRANT CREATE ON SCHEMA public TO maturion_app",
            "GRANT SET ON PARAMETER row_security TO maturion_app",
            "GRANT SELECT ON LARGE OBJECT 1 TO maturion_app",
            "GRANT maturion_owner TO maturion_readonly",
            "ALTER TABLE notes OWNER TO maturion_readonly",
        ];
        for grant in refused {
            assert_eq!(
                rules(&format!("{created}{grant};"), ChangeKind::Minor),
                [(2, "ban-runtime-role-grant")],
                "{grant}"
            );
        }
    }

    #[test]
    fn maintenance_of_existing_tables_is_refused() {
        for (sql, rule) in [
            (
                "VACUUM (FULL, ANALYZE) risks",
                "ban-blocking-table-maintenance",
            ),
            ("VACUUM FULL", "ban-blocking-table-maintenance"),
            ("CLUSTER", "ban-blocking-table-maintenance"),
            (
                "ALTER TABLE risks SET LOGGED",
                "ban-blocking-table-maintenance",
            ),
            (
                "ALTER INDEX risks_pkey SET TABLESPACE slow",
                "ban-blocking-table-maintenance",
            ),
            ("LOCK risks IN SHARE MODE", "ban-lock-table"),
            ("REINDEX INDEX risks_pkey", "require-concurrent-reindex"),
            ("REINDEX SCHEMA public", "require-concurrent-reindex"),
        ] {
            assert_eq!(
                rules(&format!("{sql};"), ChangeKind::Minor),
                [(1, rule)],
                "{sql}"
            );
        }
    }

    #[test]
    fn views_are_granted_only_when_they_read_with_the_caller_s_rights() {
        let invoker = "CREATE VIEW open_risks WITH (security_invoker = true) AS SELECT 1;\n\
                       CREATE VIEW closed_risks WITH (security_invoker) AS SELECT 1;\n\
                       GRANT SELECT ON open_risks, closed_risks TO maturion_readonly;";
        assert_eq!(rules(invoker, ChangeKind::Minor), []);
        for definer in [
            "CREATE VIEW all_users AS SELECT * FROM users;",
            "CREATE VIEW all_users WITH (security_invoker = false) AS SELECT * FROM users;",
            "CREATE MATERIALIZED VIEW all_users AS SELECT * FROM users;",
        ] {
            let sql = format!("{definer}\nGRANT SELECT ON all_users TO maturion_app;");
            assert_eq!(
                rules(&sql, ChangeKind::Minor),
                [(2, "ban-runtime-role-grant")],
                "{definer}"
            );
        }
    }

    #[test]
    fn the_tenant_table_triggers_stay_even_on_new_tables() {
        let sql = "CREATE TABLE notes (id int);\n\
                   SELECT maturion.enable_tenant_isolation('notes');\n\
                   DROP TRIGGER audit_trail ON notes;\n\
                   CREATE OR REPLACE TRIGGER require_tenant_context BEFORE INSERT ON risks \
                   FOR EACH STATEMENT EXECUTE FUNCTION noop();\n\
                   CREATE RULE quiet AS ON INSERT TO users DO INSTEAD NOTHING;\n\
                   CREATE OR REPLACE TRIGGER notes_touch BEFORE UPDATE ON notes \
                   FOR EACH ROW EXECUTE FUNCTION touch();";
        assert_eq!(
            rules(sql, ChangeKind::Minor),
            [
                (3, "ban-disable-trigger"),
                (4, "ban-disable-trigger"),
                (5, "ban-disable-trigger")
            ]
        );
    }

    #[test]
    fn settings_are_caught_however_they_are_made() {
        for (sql, rule) in [
            ("SELECT set_config($$session_replication_role$$, 'replica', true)", "ban-disable-trigger"),
            ("SELECT set_config('session_' || 'replication_role', 'replica', true)", "ban-disable-trigger"),
            ("SELECT set_config(E'session_replication_role', 'replica', true)", "ban-disable-trigger"),
            ("UPDATE pg_settings SET setting = 'replica' WHERE name = 'session_replication_role'", "ban-disable-trigger"),
            ("SELECT set_config('role', 'maturion_maintenance', true)", "ban-role-change"),
            ("SET ROLE maturion_maintenance", "ban-role-change"),
            ("SET SESSION AUTHORIZATION postgres", "ban-role-change"),
            ("SELECT set_config('search_path', 'maturion', true)", "ban-platform-function-change"),
            ("CREATE SCHEMA reporting AUTHORIZATION maturion_app", "ban-runtime-role-grant"),
        ] {
            assert_eq!(rules(&format!("{sql};"), ChangeKind::Minor), [(1, rule)], "{sql}");
        }
        let harmless = "SET LOCAL statement_timeout = '5min';\n\
                        SET LOCAL search_path = reporting, public;\n\
                        SELECT set_config('maturion.note', 'x', true);\n\
                        CREATE SCHEMA reporting AUTHORIZATION maturion_owner;";
        assert_eq!(rules(harmless, ChangeKind::Minor), []);
    }

    #[test]
    fn bodies_nested_too_deep_are_not_read() {
        let mut sql = "ALTER TABLE risks DROP COLUMN x;".to_string();
        for depth in 0..40 {
            sql = format!("DO $d{depth}$ BEGIN {sql} END $d{depth}$;");
        }
        assert_eq!(rules(&sql, ChangeKind::Minor), [(1, "ban-dynamic-sql")]);
        let mut shallow = "ALTER TABLE risks DROP COLUMN x;".to_string();
        for depth in 0..3 {
            shallow = format!("DO $d{depth}$ BEGIN {shallow} END $d{depth}$;");
        }
        assert_eq!(rules(&shallow, ChangeKind::Minor), [(1, "ban-drop-column")]);
    }
}
