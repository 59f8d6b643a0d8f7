//! The SIP password in the OS keyring (Keychain on macOS, Credential Manager on Windows, the Secret Service
//! over D-Bus elsewhere), never in a file or a log.
//!
//! One entry per SIP account, under the service [`KEYRING_SERVICE`] and the account `user@domain`. Where no
//! keyring works there is no fallback to a file: the error says why, and the app asks for the password again
//! (keeping it in memory, in a [`Password`], for this run only).

use crate::config::Password;

/// The keyring service SIP passwords are kept under.
pub const KEYRING_SERVICE: &str = "leadline-sip";

/// Why the keyring could not keep or give back a SIP password. Never contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// This machine has no usable keyring (no Secret Service on the D-Bus session, locked, none at all).
    #[error("no OS keyring is available for the SIP password ({0}); it is kept in memory for this run only")]
    Unavailable(String),
    /// The keyring is there but refused the operation.
    #[error("the OS keyring refused the SIP password: {0}")]
    Refused(String),
}

/// The keyring account of a SIP user at a domain.
pub fn keyring_account(domain: &str, username: &str) -> String {
    format!("{username}@{domain}")
}

fn entry(domain: &str, username: &str) -> Result<keyring::Entry, CredentialError> {
    keyring::Entry::new(KEYRING_SERVICE, &keyring_account(domain, username)).map_err(|e| {
        match (e, keyring::Entry::store_status()) {
            // Say why there is no store (no D-Bus session, no Secret Service), not just that there is none.
            (keyring::Error::NoDefaultStore, Err(why)) => CredentialError::Unavailable(why.to_string()),
            (keyring::Error::NoStorageAccess(e) | keyring::Error::PlatformFailure(e), _) => {
                CredentialError::Unavailable(e.to_string())
            }
            (e, _) => CredentialError::Refused(e.to_string()),
        }
    })
}

fn refused(e: keyring::Error) -> CredentialError {
    match e {
        keyring::Error::NoStorageAccess(e) | keyring::Error::PlatformFailure(e) => {
            CredentialError::Unavailable(e.to_string())
        }
        other => CredentialError::Refused(other.to_string()),
    }
}

/// Keeps `password` for `username@domain`, replacing any earlier one, and reads it back (a keyring that
/// accepts a write it cannot return is no keyring).
pub fn save_password(domain: &str, username: &str, password: &Password) -> Result<(), CredentialError> {
    let entry = entry(domain, username)?;
    entry.set_password(password.expose()).map_err(refused)?;
    match entry.get_password() {
        Ok(back) if back == password.expose() => Ok(()),
        Ok(_) => Err(CredentialError::Refused(
            "the keyring did not give back the password it was given".into(),
        )),
        Err(e) => Err(refused(e)),
    }
}

/// The password kept for `username@domain`; `Ok(None)` when the keyring has none.
pub fn load_password(domain: &str, username: &str) -> Result<Option<Password>, CredentialError> {
    match entry(domain, username)?.get_password() {
        Ok(text) => Ok(Some(Password::new(text))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(refused(e)),
    }
}

/// Forgets the password of `username@domain` (sign-out, account removed); forgetting none is fine.
pub fn forget_password(domain: &str, username: &str) -> Result<(), CredentialError> {
    match entry(domain, username)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(refused(e)),
    }
}
