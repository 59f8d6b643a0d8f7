//! Where the session's tokens are kept: the OS keyring (service `leadline`), or — when the machine has no
//! keyring (no Secret Service on a bare X server, a CI box) — only in memory for this run.
//!
//! One keyring entry per account holds the access token and the rotating refresh token together (as
//! JSON), so the pair is replaced at once after each refresh. An entry written before refresh tokens
//! existed (a bare access token) still loads, without a refresh token.

use std::collections::HashMap;
use std::sync::Mutex;

use leadline_sync::Tokens;
use serde::{Deserialize, Serialize};

const SERVICE: &str = "leadline";

/// The keyring form of [`Tokens`].
#[derive(Serialize, Deserialize)]
struct StoredTokens {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// Tokens by account (`user@server`), in their keyring form.
#[derive(Default)]
pub struct TokenVault {
    memory: Mutex<HashMap<String, String>>,
}

/// The keyring account name of a user on a server.
pub fn account(server_url: &str, username: &str) -> String {
    format!("{username}@{server_url}")
}

impl TokenVault {
    /// Keeps the token pair of `account` (after sign-in and after every refresh).
    pub fn store_tokens(&self, account: &str, tokens: &Tokens) {
        let stored = StoredTokens {
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
        };
        match serde_json::to_string(&stored) {
            Ok(text) => self.store(account, &text),
            Err(e) => tracing::error!(error = %e, "cannot encode the session tokens"),
        }
    }

    /// The token pair kept for `account`.
    pub fn load_tokens(&self, account: &str) -> Option<Tokens> {
        let text = self.load(account)?;
        Some(match serde_json::from_str::<StoredTokens>(&text) {
            Ok(t) => Tokens {
                access_token: t.access_token,
                refresh_token: t.refresh_token,
            },
            // Written by an earlier version: a bare access token.
            Err(_) => Tokens {
                access_token: text,
                refresh_token: None,
            },
        })
    }

    /// Keeps `token` for `account`. Never fails: without a keyring the token lives in memory only.
    pub fn store(&self, account: &str, token: &str) {
        if let Err(e) = keyring::Entry::new(SERVICE, account).and_then(|entry| entry.set_password(token)) {
            tracing::warn!(
                error = %e,
                "no usable OS keyring; the session tokens are kept in memory only and you will sign in again next time"
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

    #[test]
    fn a_token_pair_is_kept_together_and_a_bare_old_token_still_loads() {
        let vault = TokenVault::default();
        let acct = account("http://127.0.0.1:2", &format!("pair-{}", std::process::id()));
        let pair = Tokens {
            access_token: "access-1".into(),
            refresh_token: Some("refresh-1".into()),
        };
        vault.store_tokens(&acct, &pair);
        assert_eq!(vault.load_tokens(&acct), Some(pair));
        let rotated = Tokens {
            access_token: "access-2".into(),
            refresh_token: Some("refresh-2".into()),
        };
        vault.store_tokens(&acct, &rotated);
        assert_eq!(vault.load_tokens(&acct), Some(rotated));
        vault.store(&acct, "bare-access-token");
        assert_eq!(
            vault.load_tokens(&acct),
            Some(Tokens {
                access_token: "bare-access-token".into(),
                refresh_token: None,
            })
        );
        vault.forget(&acct);
        assert_eq!(vault.load_tokens(&acct), None);
    }
}
