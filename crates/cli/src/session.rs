//! The CLI's signed-in session: a small JSON file readable only by its owner.
//! (The desktop app keeps its token in the OS keyring instead; a headless client often has none.)

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Session {
    pub server_url: String,
    pub access_token: String,
}

fn path(dir: &Path) -> PathBuf {
    dir.join("session.json")
}

impl Session {
    pub fn load(dir: &Path) -> Result<Self> {
        let p = path(dir);
        let text =
            std::fs::read_to_string(&p).with_context(|| "not signed in; run `leadline login` first")?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is damaged; run `leadline login` again", p.display()))
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        let p = path(dir);
        let tmp = p.with_extension("json.tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        serde_json::to_writer(&file, self)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &p).with_context(|| format!("writing {}", p.display()))?;
        Ok(())
    }

    pub fn remove(dir: &Path) -> Result<()> {
        match std::fs::remove_file(path(dir)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
