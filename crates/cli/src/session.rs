//! The CLI's signed-in session: a small JSON file readable only by its owner (mode 0600), holding the
//! access token and the rotating refresh token. It is rewritten whenever the client refreshes, since a
//! refresh token is single use.
//! (The desktop app keeps its token in the OS keyring instead; a headless client often has none.)

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use leadline_sync::Tokens;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Session {
    pub server_url: String,
    pub access_token: String,
    /// Absent in session files written before sessions had refresh tokens.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

impl Session {
    pub fn tokens(&self) -> Tokens {
        Tokens {
            access_token: self.access_token.clone(),
            refresh_token: self.refresh_token.clone(),
        }
    }

    /// Takes the client's current tokens; true when they differ from the kept ones (then save).
    pub fn update(&mut self, tokens: Option<Tokens>) -> bool {
        match tokens {
            Some(t) if t != self.tokens() => {
                self.access_token = t.access_token;
                self.refresh_token = t.refresh_token;
                true
            }
            _ => false,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_file_keeps_the_refresh_token_privately_and_reads_old_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut s = Session {
            server_url: "http://127.0.0.1:1/".into(),
            access_token: "a1".into(),
            refresh_token: Some("r1".into()),
        };
        s.save(dir.path()).expect("save");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(dir.path()))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!s.update(Some(s.tokens())), "unchanged tokens need no save");
        assert!(!s.update(None));
        assert!(s.update(Some(Tokens {
            access_token: "a2".into(),
            refresh_token: Some("r2".into()),
        })));
        s.save(dir.path()).expect("save");
        let back = Session::load(dir.path()).expect("load");
        assert_eq!(back.refresh_token.as_deref(), Some("r2"));
        assert_eq!(back.access_token, "a2");

        std::fs::write(
            path(dir.path()),
            r#"{"server_url":"http://x/","access_token":"a"}"#,
        )
        .expect("write");
        assert_eq!(Session::load(dir.path()).expect("old file").refresh_token, None);
    }
}
