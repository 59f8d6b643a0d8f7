//! The update banner in the real window, during the workday test (tests/desktop/workday.rs): the demo
//! server hosts the desktop's updates, and the app (a debug build) trusts a throwaway minisign key made
//! by the Tauri CLI, as releases are signed, through `LEADLINE_UPDATER_PUBKEY`, and checks every few
//! seconds. A signed 99.0.0 is published while the telecaller works: with a call not logged yet, and
//! then with the server down and the call logged offline, the banner says one change is still waiting and
//! offers "Sync first" / "Update anyway", never a plain restart; once the change is sent it offers the
//! restart; "Later" puts it away. Nothing is installed (that needs an administrator's password).

use std::path::{Path, PathBuf};
use std::process::Command;

use fantoccini::{Client, Locator};

use crate::app::{eventually, text_of};
use crate::phone::{Step, click, err};

/// What the app is told to trust and how often to check (debug builds only).
pub fn app_env(release: &Release) -> Vec<(&'static str, String)> {
    vec![
        ("LEADLINE_UPDATER_PUBKEY", release.public_key.clone()),
        ("LEADLINE_UPDATE_FIRST_CHECK_SECS", "1".into()),
        ("LEADLINE_UPDATE_CHECK_EVERY_SECS", "2".into()),
    ]
}

/// The release side: a signing key and the directory the server hosts updates from.
pub struct Release {
    key: PathBuf,
    pub public_key: String,
    pub dir: PathBuf,
}

impl Release {
    /// A throwaway key (no password) under `work`, and an empty updates directory.
    pub fn new(work: &Path) -> Self {
        let dir = work.join("updates");
        std::fs::create_dir_all(&dir).expect("updates dir");
        let key = work.join("release.key");
        run(Command::new(tauri_cli())
            .args(["signer", "generate", "--ci", "-p", "", "-w"])
            .arg(&key));
        let public_key = std::fs::read_to_string(work.join("release.key.pub"))
            .expect("the public key")
            .trim()
            .to_owned();
        Self { key, public_key, dir }
    }

    /// Publishes `version`: the package, its signature and the manifest the server answers with.
    pub fn publish(&self, version: &str) -> Step {
        let name = format!("Leadline_{version}_amd64.deb");
        let package = self.dir.join(&name);
        let bytes: Vec<u8> = (0..64 * 1024u32).map(|i| (i * 17 % 251) as u8).collect();
        std::fs::write(&package, bytes).map_err(err)?;
        run(Command::new(tauri_cli())
            .args(["signer", "sign", "-p", "", "--app-version", version, "-f"])
            .arg(&self.key)
            .arg(&package)
            .env_remove("TAURI_SIGNING_PRIVATE_KEY"));
        let manifest = serde_json::json!({
            "version": version,
            "notes": "Faster search",
            "pub_date": "2026-11-27T10:00:00Z",
            "platforms": {"linux-x86_64": {"url": name}}
        });
        std::fs::write(self.dir.join("latest.json"), manifest.to_string()).map_err(err)
    }
}

fn tauri_cli() -> PathBuf {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/node_modules/.bin/tauri");
    assert!(
        cli.exists(),
        "{} is missing: run `npm ci` in ui/ (scripts/setup.sh does)",
        cli.display()
    );
    cli
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run the Tauri CLI");
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The banner's text and which of its buttons show.
#[derive(Debug, Default)]
pub struct Banner {
    pub text: String,
    pub restart: bool,
    pub sync_first: bool,
    pub anyway: bool,
    /// Inside the window (the banner once rendered below the full-height screen, where nobody saw it).
    pub on_screen: bool,
}

/// The update banner as it stands, `None` when it is not shown.
pub async fn banner(client: &Client) -> Result<Option<Banner>, fantoccini::error::CmdError> {
    let Some(text) = text_of(client, "[data-testid=update-banner]").await? else {
        return Ok(None);
    };
    let has = |css: &'static str| async move {
        client
            .find_all(Locator::Css(css))
            .await
            .map(|found| !found.is_empty())
    };
    let on_screen = client
        .execute(
            "const r = document.querySelector('[data-testid=update-banner]').getBoundingClientRect();
             return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight
                 && r.left >= 0 && r.right <= window.innerWidth;",
            vec![],
        )
        .await?
        .as_bool()
        .unwrap_or(false);
    Ok(Some(Banner {
        text,
        restart: has("[data-testid=update-restart]").await?,
        sync_first: has("[data-testid=update-sync-first]").await?,
        anyway: has("[data-testid=update-anyway]").await?,
        on_screen,
    }))
}

/// Waits for the banner to offer `version` as a plain restart (nothing pending).
pub async fn offered_as_a_restart(client: &Client, version: &str) -> Step {
    let shown = eventually("the update banner offering a restart", || async {
        Ok(banner(client)
            .await?
            .filter(|b| b.text.contains(version) && b.restart))
    })
    .await;
    if !shown.on_screen {
        return Err(format!("the update banner is outside the window: {shown:?}"));
    }
    if shown.sync_first || shown.anyway || shown.text.contains("waiting") {
        return Err(format!("nothing is pending, yet the banner asks: {shown:?}"));
    }
    Ok(())
}

/// Waits for the banner to say one change waits for the server, and to ask instead of offering a restart.
pub async fn asks_about_the_waiting_change(client: &Client, version: &str) -> Step {
    let shown = eventually("the update banner asking about the change waiting", || async {
        Ok(banner(client)
            .await?
            .filter(|b| b.text.contains("1 change is still waiting for the server")))
    })
    .await;
    if !shown.on_screen {
        return Err(format!("the update banner is outside the window: {shown:?}"));
    }
    if !shown.text.contains(version) || shown.restart || !shown.sync_first || !shown.anyway {
        return Err(format!(
            "with a change waiting the banner must ask (sync first / update anyway), not restart: {shown:?}"
        ));
    }
    Ok(())
}

/// "Later": the banner goes away.
pub async fn put_off(client: &Client) -> Step {
    click(client, "[data-testid=update-later]").await?;
    eventually("the update banner to go away", || async {
        Ok(banner(client).await?.is_none().then_some(()))
    })
    .await;
    Ok(())
}
