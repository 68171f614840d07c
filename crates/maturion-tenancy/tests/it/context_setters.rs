//! maturion-tenancy is the only place that sets tenant context: no other source of the
//! workspace sets an `app.*` setting, with `set_config` or with `SET`.

use std::fs;
use std::path::{Path, PathBuf};

/// Files outside maturion-tenancy that set the context on purpose, and why.
const ALLOWED: &[(&str, &str)] = &[
    (
        "crates/maturion-schema/tests/it/isolation.rs",
        "the attacker: runs the app role with forged, malformed and cross-tenant settings",
    ),
    (
        "crates/maturion-schema/tests/it/binding.rs",
        "the attacker: the former app.* context must bind nothing for the runtime roles",
    ),
    (
        "crates/maturion-events/tests/it/attacks.rs",
        "the attacker: the former app.* context must publish nothing and lease nothing",
    ),
    (
        "crates/maturion-audit/tests/it/trigger.rs",
        "the attacker: a malformed organisation id must be refused by the audit functions",
    ),
    (
        "crates/maturion-audit/tests/it/attribution.rs",
        "the attacker: the former app.* context must name no actor, unbound or deactivated",
    ),
    (
        "crates/maturion-bench/src/binding.rs",
        "the baseline: the transaction as it was before the binding, with the set_config context",
    ),
    (
        "crates/maturion-bench/src/api.rs",
        "the baseline: pgbench runs the API's own binding statement, which sets the client's address and agent",
    ),
    (
        "crates/maturion-lint/src/lib.rs",
        "the lint's tests: set_config with computed setting names, which the lint must refuse",
    ),
];

#[test]
fn only_maturion_tenancy_sets_tenant_context() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for crate_dir in fs::read_dir(root.join("crates")).unwrap() {
        let crate_dir = crate_dir.unwrap().path();
        if !crate_dir.ends_with("maturion-tenancy") {
            sources(&crate_dir, &mut files);
        }
    }
    sources(&root.join("xtask"), &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("isolation.rs")),
        "the walk found the workspace's sources"
    );
    let mut offenders = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let text = fs::read_to_string(&file).unwrap_or_default();
        let allowed = ALLOWED.iter().any(|(path, _)| relative == *path);
        if sets_context(&text) != allowed {
            offenders.push(relative);
        }
    }
    assert!(
        offenders.is_empty(),
        "set tenant context only through maturion_tenancy (Database::transaction, \
         TenantConnection); an allowed file that no longer sets it leaves the list: {offenders:?}"
    );
}

/// Every file under `dir` but migrations (which only read the settings) and build output.
fn sources(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        if path.is_dir() {
            if name != "migrations" && name != "target" && !name.starts_with('.') {
                sources(&path, files);
            }
        } else {
            files.push(path);
        }
    }
}

/// Whether `text` sets a setting of the tenant context (`app.…`): through `set_config` with
/// that name (or a name it cannot read: a parameter, an expression), or with `SET`
/// (`SET LOCAL`, `SET SESSION`, `ALTER ROLE … SET`).
fn sets_context(text: &str) -> bool {
    let text = text.to_lowercase().replace('"', "");
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let set_config = compact.split("set_config(").skip(1).any(|call| {
        let name = call.split(',').next().unwrap_or_default();
        let literal = name.len() > 2
            && name.starts_with('\'')
            && name.ends_with('\'')
            && !name[1..name.len() - 1].contains(['\'', '{', '$']);
        !literal || name.starts_with("'app.")
    });
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(' || c == '\'')
        .filter(|w| !w.is_empty())
        .collect();
    let set = (0..words.len()).any(|i| {
        let word = |n: usize| words.get(i + n).copied().unwrap_or_default();
        word(0) == "set"
            && (word(1).starts_with("app.")
                || (["local", "session"].contains(&word(1)) && word(2).starts_with("app.")))
    });
    set_config || set
}

#[test]
fn the_detector_sees_every_way_of_setting_the_context() {
    for setting in [
        "SELECT set_config('app.current_organisation_id', $1, true)",
        "SELECT set_config(\n  'app.current_user_id', $2, true)",
        "SELECT SET_CONFIG ( 'APP.CURRENT_ORGANISATION_ID' , '', true )",
        "SELECT set_config($1, $2, true)",
        "SELECT set_config('{}', $2, true)",
        "SELECT set_config('app.ip_address', $3, true)",
        "SET app.current_organisation_id = '1'",
        "BEGIN;SET LOCAL app.current_user_id TO '1'",
        "SET SESSION \"app.current_organisation_id\" = '1'",
        "ALTER ROLE maturion_app SET app.current_organisation_id = '1'",
    ] {
        assert!(sets_context(setting), "{setting}");
    }
    for other in [
        "SELECT current_setting('app.current_organisation_id', true)",
        "PERFORM set_config('maturion.event_commits_done', done, true)",
        "SET ROLE maturion_app; SET synchronous_commit = off",
        "RESET app.current_organisation_id",
        "-- the tenant transaction sets app.current_organisation_id",
    ] {
        assert!(!sets_context(other), "{other}");
    }
}
