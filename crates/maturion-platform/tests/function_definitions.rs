//! ARCHITECTURE.md says where the live definition of each platform function is: the last
//! up script, in the order the platform applies them, that creates it. This keeps it true.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const BEGIN: &str = "<!-- platform-functions:begin -->";
const END: &str = "<!-- platform-functions:end -->";

#[test]
fn architecture_names_the_live_definition_of_every_platform_function() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let expected = table(&live_definitions(&root));
    let architecture = fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let written = architecture
        .split_once(BEGIN)
        .and_then(|(_, rest)| rest.split_once(END))
        .map(|(table, _)| table.trim().to_owned())
        .unwrap_or_default();
    assert!(
        written == expected.trim(),
        "ARCHITECTURE.md's table between {BEGIN} and {END} is out of date; it should be:\n\n{expected}"
    );
}

/// Function name → the up script that defines it last (a later DROP removes it).
fn live_definitions(root: &Path) -> BTreeMap<String, PathBuf> {
    let mut live = BTreeMap::new();
    for set in maturion_platform::migration_sets() {
        for migration in &set.migrations {
            let path = script_path(root, &migration.folder_name(), &migration.up);
            let words: Vec<&str> = migration.up.split_whitespace().collect();
            let text = words.join(" ").to_lowercase();
            for name in names_after(&text, "drop function ") {
                live.remove(&name);
            }
            for name in names_after(&text, "create function ")
                .into_iter()
                .chain(names_after(&text, "create or replace function "))
            {
                live.insert(name, path.clone());
            }
        }
    }
    live
}

/// The function names following each occurrence of `keyword` (`if exists` skipped).
fn names_after(text: &str, keyword: &str) -> Vec<String> {
    text.match_indices(keyword)
        .map(|(at, _)| {
            let rest = text[at + keyword.len()..].trim_start();
            let rest = rest.strip_prefix("if exists ").unwrap_or(rest).trim_start();
            rest.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .map(|name| match name.contains('.') {
            true => name,
            false => format!("public.{name}"),
        })
        .collect()
}

/// The crate file an embedded migration came from.
fn script_path(root: &Path, folder: &str, up: &str) -> PathBuf {
    let crates = fs::read_dir(root.join("crates")).unwrap();
    crates
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("migrations").join(folder).join("up.sql"))
        .find(|path| fs::read_to_string(path).is_ok_and(|text| text == up))
        .unwrap_or_else(|| panic!("no crate holds the migration {folder}"))
        .strip_prefix(root)
        .unwrap()
        .to_path_buf()
}

fn table(live: &BTreeMap<String, PathBuf>) -> String {
    let mut table = String::from("| function | live definition |\n|---|---|\n");
    for (name, path) in live {
        table.push_str(&format!("| `{name}` | `{}` |\n", path.display()));
    }
    table
}
