//! The TypeScript declarations in ui/src/bindings/ must be what ts-rs generates from the Rust types now.
//! Regenerate them with `UPDATE_BINDINGS=1 cargo test -p leadline-desktop --test bindings`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn ts_files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.expect("read the bindings folder").path();
        if path.extension().is_some_and(|e| e == "ts") {
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            out.insert(name, std::fs::read_to_string(&path).expect("read a binding"));
        }
    }
    out
}

#[test]
fn committed_typescript_bindings_are_current() {
    let committed_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings");
    let fresh_dir = tempfile::tempdir().expect("temp dir");
    leadline_desktop::api::export_bindings(fresh_dir.path()).expect("export bindings");
    let fresh = ts_files(fresh_dir.path());
    assert!(
        fresh.contains_key("Lead.ts") && fresh.contains_key("AppStatus.ts"),
        "{:?}",
        fresh.keys()
    );

    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::create_dir_all(&committed_dir).expect("create ui/src/bindings");
        for stale in ts_files(&committed_dir)
            .keys()
            .filter(|k| !fresh.contains_key(*k))
        {
            std::fs::remove_file(committed_dir.join(stale)).expect("remove a stale binding");
        }
        for (name, text) in &fresh {
            std::fs::write(committed_dir.join(name), text).expect("write a binding");
        }
        return;
    }

    let committed = ts_files(&committed_dir);
    let mut problems = Vec::new();
    for (name, text) in &fresh {
        match committed.get(name) {
            None => problems.push(format!("missing: {name}")),
            Some(old) if old != text => problems.push(format!("stale: {name}")),
            Some(_) => {}
        }
    }
    problems.extend(
        committed
            .keys()
            .filter(|k| !fresh.contains_key(*k))
            .map(|k| format!("extra: {k}")),
    );
    assert!(
        problems.is_empty(),
        "ui/src/bindings is out of date ({}); run `UPDATE_BINDINGS=1 cargo test -p leadline-desktop --test \
         bindings` and commit the result",
        problems.join(", ")
    );
}
