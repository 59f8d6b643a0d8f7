//! The key the local cache is encrypted with (SQLCipher), and where it is kept.
//!
//! One random 256-bit key per data directory, made on first use. It lives in the OS keyring (service
//! [`KEYRING_SERVICE`], account = the data directory's full path) through the `keyring` crate (Keychain on
//! macOS, Credential Manager on Windows, the Secret Service over D-Bus elsewhere). Where no keyring works (a
//! headless box, CI), the key is kept in `<data dir>/store.key` instead: 64 hex digits, mode 0600, created
//! atomically with that mode, and a warning is logged once per process. `LEADLINE_STORE_KEY=file` forces
//! the file (tests, CI, scripted machines); `LEADLINE_STORE_KEY=keyring` forbids it.
//!
//! Lookup order (see [`load_or_create`]): the keyring entry, else the key file, else a new key (keyring
//! first, the file when the keyring refuses it). A key found in the keyring always wins, so a key file
//! left by a run without a keyring never shadows it.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Once;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::StoreError;

/// The keyring service under which cache keys are kept (one entry per data directory).
pub const KEYRING_SERVICE: &str = "leadline-store";
/// The file the key is kept in when there is no keyring.
pub const KEY_FILE_NAME: &str = "store.key";
/// The environment variable that picks where keys are kept: `file`, `keyring` or `auto` (the default).
pub const KEY_STORE_ENV: &str = "LEADLINE_STORE_KEY";

const KEY_LEN: usize = 32;

/// A 256-bit cache key. Its bytes are wiped when dropped and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreKey(Zeroizing<[u8; KEY_LEN]>);

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(<redacted>)")
    }
}

impl StoreKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self, StoreError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(bytes.as_mut())
            .map_err(|e| StoreError::Key(format!("no random source for a new key: {e}")))?;
        Ok(Self(bytes))
    }

    /// A key from exactly 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim().as_bytes();
        if text.len() != KEY_LEN * 2 {
            return None;
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        for (i, pair) in text.chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0])?;
            let lo = hex_value(pair[1])?;
            bytes[i] = hi << 4 | lo;
        }
        Some(Self(bytes))
    }

    /// The key as 64 lowercase hex digits.
    pub fn to_hex(&self) -> Zeroizing<String> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = Zeroizing::new(String::with_capacity(KEY_LEN * 2));
        for b in self.0.iter() {
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 0xf)]));
        }
        out
    }

    /// SQLCipher's raw-key literal, `x'<64 hex>'`: used as is, with no key derivation on open.
    pub(crate) fn sqlcipher_literal(&self) -> Zeroizing<String> {
        let hex = self.to_hex();
        let mut out = Zeroizing::new(String::with_capacity(KEY_LEN * 2 + 3));
        out.push_str("x'");
        out.push_str(&hex);
        out.push('\'');
        out
    }

    /// A one-way fingerprint of the key (SHA-256 over a label and the key), kept next to the cache so a
    /// later open can tell "this key made this file" from "some other key made it".
    pub(crate) fn fingerprint(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"leadline-store key check v1\0")
            .chain_update(self.0.as_ref())
            .finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Where cache keys may be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyStorage {
    /// The OS keyring, or the key file where no keyring works (with a warning).
    #[default]
    Auto,
    /// The OS keyring only: no keyring is an error.
    Keyring,
    /// The key file only; the keyring is never touched.
    File,
}

impl KeyStorage {
    /// Reads [`KEY_STORE_ENV`]: `file`, `keyring`, `auto` or unset (auto).
    pub fn from_env() -> Result<Self, StoreError> {
        match std::env::var(KEY_STORE_ENV) {
            Err(std::env::VarError::NotPresent) => Ok(Self::Auto),
            Ok(v) if v.is_empty() || v.eq_ignore_ascii_case("auto") => Ok(Self::Auto),
            Ok(v) if v.eq_ignore_ascii_case("file") => Ok(Self::File),
            Ok(v) if v.eq_ignore_ascii_case("keyring") => Ok(Self::Keyring),
            Ok(v) => Err(StoreError::Key(format!(
                "{KEY_STORE_ENV}={v:?} is not one of auto, keyring, file"
            ))),
            Err(e) => Err(StoreError::Key(format!("{KEY_STORE_ENV}: {e}"))),
        }
    }
}

/// Where a key was found or put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The OS keyring, under [`KEYRING_SERVICE`] and this account.
    Keyring { account: String },
    /// A key file (mode 0600).
    File(PathBuf),
}

/// A cache key and where it lives.
#[derive(Debug, Clone)]
pub struct LoadedKey {
    pub key: StoreKey,
    pub source: KeySource,
    /// Made by this call (no key existed for this data directory).
    pub created: bool,
}

/// The key of the cache(s) in `data_dir`, made and kept on first use. Creates `data_dir` if needed.
///
/// Keyring calls may block on D-Bus: call this off async workers.
pub fn load_or_create(data_dir: &Path, storage: KeyStorage) -> Result<LoadedKey, StoreError> {
    std::fs::create_dir_all(data_dir).map_err(|e| {
        StoreError::Key(format!(
            "cannot create the data folder {}: {e}",
            data_dir.display()
        ))
    })?;
    let file = data_dir.join(KEY_FILE_NAME);
    if storage == KeyStorage::File {
        return load_or_create_file(&file);
    }
    let account = keyring_account(data_dir)?;
    let keyring_problem = match keyring_get(&account) {
        Ok(Some(key)) => {
            return Ok(LoadedKey {
                key,
                source: KeySource::Keyring { account },
                created: false,
            });
        }
        Ok(None) => None,
        Err(problem) => Some(problem),
    };
    if storage == KeyStorage::Keyring {
        if let Some(problem) = keyring_problem {
            return Err(StoreError::Key(format!(
                "the OS keyring is not usable: {problem}"
            )));
        }
    } else if let Some(key) = read_key_file(&file)? {
        warn_fallback(
            keyring_problem
                .as_deref()
                .unwrap_or("an earlier run kept the key in a file"),
            &file,
        );
        return Ok(LoadedKey {
            key,
            source: KeySource::File(file),
            created: false,
        });
    }
    if keyring_problem.is_none() {
        let key = StoreKey::generate()?;
        match keyring_put(&account, &key) {
            Ok(()) => {
                return Ok(LoadedKey {
                    key,
                    source: KeySource::Keyring { account },
                    created: true,
                });
            }
            Err(problem) if storage == KeyStorage::Keyring => {
                return Err(StoreError::Key(format!(
                    "cannot keep the cache key in the OS keyring: {problem}"
                )));
            }
            Err(problem) => warn_fallback(&problem, &file),
        }
    } else if let Some(problem) = &keyring_problem {
        warn_fallback(problem, &file);
    }
    load_or_create_file(&file)
}

fn warn_fallback(problem: &str, file: &Path) {
    static WARNED: Once = Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            problem,
            file = %file.display(),
            "no usable OS keyring; the local cache key is kept in a file readable only by this user"
        );
    });
}

fn keyring_account(data_dir: &Path) -> Result<String, StoreError> {
    let dir = std::fs::canonicalize(data_dir).map_err(|e| {
        StoreError::Key(format!(
            "cannot resolve the data folder {}: {e}",
            data_dir.display()
        ))
    })?;
    Ok(dir.to_string_lossy().into_owned())
}

/// `Ok(None)`: the keyring works and has no key for `account`; `Err`: the keyring does not work.
fn keyring_get(account: &str) -> Result<Option<StoreKey>, String> {
    let entry = keyring_entry(account)?;
    match entry.get_password() {
        Ok(text) => {
            let text = Zeroizing::new(text);
            StoreKey::from_hex(&text)
                .map(Some)
                .ok_or_else(|| format!("the keyring entry {KEYRING_SERVICE}/{account} does not hold a key"))
        }
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

fn keyring_entry(account: &str) -> Result<keyring::Entry, String> {
    keyring::Entry::new(KEYRING_SERVICE, account).map_err(|e| match (e, keyring::Entry::store_status()) {
        // Say why there is no store (no D-Bus session, no Secret Service), not just that there is none.
        (keyring::Error::NoDefaultStore, Err(why)) => why.to_string(),
        (e, _) => e.to_string(),
    })
}

/// Stores `key` and reads it back (some keyrings accept a write they cannot return).
fn keyring_put(account: &str, key: &StoreKey) -> Result<(), String> {
    let entry = keyring_entry(account)?;
    entry.set_password(&key.to_hex()).map_err(|e| e.to_string())?;
    match keyring_get(account)? {
        Some(back) if &back == key => Ok(()),
        _ => Err("the keyring did not return the key it was given".into()),
    }
}

fn load_or_create_file(file: &Path) -> Result<LoadedKey, StoreError> {
    if let Some(key) = read_key_file(file)? {
        return Ok(LoadedKey {
            key,
            source: KeySource::File(file.to_owned()),
            created: false,
        });
    }
    let key = StoreKey::generate()?;
    let key_file_error = |detail: String| StoreError::KeyFile {
        path: file.to_owned(),
        detail,
    };
    let dir = file.parent().unwrap_or_else(|| Path::new("."));
    // tempfile makes the file with mode 0600 on Unix; it is linked into place only if no key file exists,
    // so two processes racing to create one agree on the winner's key.
    let mut tmp = tempfile::Builder::new()
        .prefix(".store.key.")
        .tempfile_in(dir)
        .map_err(|e| key_file_error(format!("cannot create: {e}")))?;
    tmp.write_all(format!("{}\n", key.to_hex().as_str()).as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| key_file_error(format!("cannot write: {e}")))?;
    match tmp.persist_noclobber(file) {
        Ok(_) => {
            sync_dir(dir);
            Ok(LoadedKey {
                key,
                source: KeySource::File(file.to_owned()),
                created: true,
            })
        }
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => match read_key_file(file)? {
            Some(key) => Ok(LoadedKey {
                key,
                source: KeySource::File(file.to_owned()),
                created: false,
            }),
            None => Err(key_file_error("vanished while being created".into())),
        },
        Err(e) => Err(key_file_error(format!("cannot create: {}", e.error))),
    }
}

/// The key in `file`; `None` if there is no such file. Wrong permissions or content are errors.
fn read_key_file(file: &Path) -> Result<Option<StoreKey>, StoreError> {
    let key_file_error = |detail: String| StoreError::KeyFile {
        path: file.to_owned(),
        detail,
    };
    let meta = match std::fs::metadata(file) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(key_file_error(format!("cannot read: {e}"))),
    };
    if !meta.is_file() {
        return Err(key_file_error("is not a regular file".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(key_file_error(format!(
                "its permissions are {mode:o}; it must be readable by its owner only (chmod 600)"
            )));
        }
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(file).map_err(|e| key_file_error(format!("cannot read: {e}")))?,
    );
    StoreKey::from_hex(&text)
        .map(Some)
        .ok_or_else(|| key_file_error("does not hold a key (64 hex digits)".into()))
}

/// Makes a rename or link in `dir` durable (best effort; not possible on every platform).
pub(crate) fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(error = %e, dir = %dir.display(), "cannot sync the folder");
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_bad_text() {
        let key = StoreKey::generate().unwrap();
        assert_eq!(StoreKey::from_hex(&key.to_hex()).unwrap(), key);
        assert!(StoreKey::from_hex(&"ab".repeat(31)).is_none());
        assert!(StoreKey::from_hex(&"zz".repeat(32)).is_none());
        assert_eq!(key.sqlcipher_literal().len(), 67);
        assert_ne!(StoreKey::generate().unwrap(), key);
        assert_eq!(format!("{key:?}"), "StoreKey(<redacted>)");
    }

    #[test]
    fn the_fingerprint_depends_on_the_key() {
        let a = StoreKey::generate().unwrap();
        let b = StoreKey::generate().unwrap();
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert!(!a.fingerprint().contains(a.to_hex().as_str()));
    }
}
