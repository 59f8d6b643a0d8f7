//! The schema migrations are compiled in (`include_dir!`): rebuild when any of them changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
