//! `include_dir!` embeds `migrations/` but does not tell cargo to rebuild when a migration
//! folder is added; a directory named here is watched whole.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
