//! Where the access token is kept: the OS keyring (service `leadline`), or — when the machine has no
//! keyring (no Secret Service on a bare X server, a CI box) — only in memory for this run.

use std::collections::HashMap;
use std::sync::Mutex;

const SERVICE: &str = "leadline";

/// Access tokens by account (`user@server`).
#[derive(Default)]
pub struct TokenVault {
    memory: Mutex<HashMap<String, String>>,
}

/// The keyring account name of a user on a server.
pub fn account(server_url: &str, username: &str) -> String {
    format!("{username}@{server_url}")
}

impl TokenVault {
    /// Keeps `token` for `account`. Never fails: without a keyring the token lives in memory only.
    pub fn store(&self, account: &str, token: &str) {
        if let Err(e) = keyring::Entry::new(SERVICE, account).and_then(|entry| entry.set_password(token)) {
            tracing::warn!(
                error = %e,
                "no usable OS keyring; the access token is kept in memory only and you will sign in again next time"
            );
        }
        self.lock().insert(account.to_owned(), token.to_owned());
    }

    /// The token kept for `account`, from memory or the keyring.
    pub fn load(&self, account: &str) -> Option<String> {
        if let Some(token) = self.lock().get(account) {
            return Some(token.clone());
        }
        match keyring::Entry::new(SERVICE, account).and_then(|entry| entry.get_password()) {
            Ok(token) => Some(token),
            Err(keyring::Error::NoEntry) => None,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the OS keyring");
                None
            }
        }
    }

    /// Forgets the token of `account` (sign-out, token refused by the server).
    pub fn forget(&self, account: &str) {
        self.lock().remove(account);
        match keyring::Entry::new(SERVICE, account).and_then(|entry| entry.delete_credential()) {
            Ok(()) | Err(keyring::Error::NoEntry) => {}
            Err(e) => tracing::debug!(error = %e, "cannot delete from the OS keyring"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A panic while holding this lock cannot leave the map half-written; keep using it.
        self.memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_token_is_loaded_back_and_forgotten() {
        let vault = TokenVault::default();
        let acct = account("http://127.0.0.1:1", &format!("test-{}", std::process::id()));
        assert_eq!(vault.load(&acct), None);
        vault.store(&acct, "tok-1");
        assert_eq!(vault.load(&acct).as_deref(), Some("tok-1"));
        vault.forget(&acct);
        assert_eq!(vault.load(&acct), None);
    }
}
