//! Builds the UI (ui/ → ui/dist) so that the binary embeds it, then runs tauri-build with the
//! tauri.conf.json next to this file (where the Tauri CLI looks for it).
//!
//! Set `LEADLINE_SKIP_UI_BUILD=1` to use whatever is in ui/dist already (it must exist).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let ui = manifest_dir.join("../ui");
    if let Err(message) = build_ui(&ui) {
        // A build script reports failure by panicking; make the message the first thing people read.
        panic!("\n\nleadline-desktop: building the UI failed: {message}\n\n");
    }
    tauri_build::try_build(tauri_build::Attributes::new()).expect("tauri-build failed (see tauri.conf.json)");
}

fn build_ui(ui: &Path) -> Result<(), String> {
    // Inputs only: listing an output (ui/dist) or a path that does not exist would rebuild every time.
    for input in [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
    ] {
        println!("cargo:rerun-if-changed={}", ui.join(input).display());
    }
    println!("cargo:rerun-if-env-changed=LEADLINE_SKIP_UI_BUILD");

    let built = ui.join("dist/index.html").is_file();
    if std::env::var_os("LEADLINE_SKIP_UI_BUILD").is_some_and(|v| v != "0") {
        return if built {
            Ok(())
        } else {
            Err(format!(
                "LEADLINE_SKIP_UI_BUILD is set but {} does not exist",
                ui.join("dist").display()
            ))
        };
    }
    if !ui.join("node_modules").is_dir() {
        run(ui, &["ci", "--no-audit", "--no-fund"])?;
    }
    run(ui, &["run", "build"])
}

fn run(dir: &Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .status()
        .map_err(|e| {
            format!(
                "cannot run `npm {}` in {} ({e}); install Node.js 20+ and npm",
                args.join(" "),
                dir.display()
            )
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`npm {}` in {} failed with {status}",
            args.join(" "),
            dir.display()
        ))
    }
}
