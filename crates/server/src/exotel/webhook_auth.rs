//! Authenticating webhook requests: a per-tenant secret in the URL path, or HTTP Basic credentials
//! (`https://user:secret@host/...` in the StatusCallback URL).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ExotelError;

/// Whether `presented` equals `expected`, in time that depends on neither value nor their lengths
/// (both are hashed with SHA-256 and the digests compared in constant time). An empty `expected` never
/// matches, so an unset secret cannot be satisfied by an empty one.
pub fn verify_webhook_secret(expected: &str, presented: &str) -> bool {
    if expected.is_empty() {
        return false;
    }
    let expected = Sha256::digest(expected.as_bytes());
    let presented = Sha256::digest(presented.as_bytes());
    expected.as_slice().ct_eq(presented.as_slice()).into()
}

/// HTTP Basic credentials. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Reads an `Authorization: Basic <base64(user:password)>` header value (RFC 7617; the scheme name is
/// case-insensitive; the password may contain `:`).
pub fn parse_basic_authorization(header: &str) -> Result<BasicCredentials, ExotelError> {
    let header = header.trim();
    let (scheme, encoded) = header
        .split_once(|c: char| c.is_ascii_whitespace())
        .ok_or(ExotelError::BadAuthorization("expected \"Basic <credentials>\""))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ExotelError::BadAuthorization("the scheme is not Basic"));
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| ExotelError::BadAuthorization("the credentials are not base64"))?;
    let decoded = String::from_utf8(decoded)
        .map_err(|_| ExotelError::BadAuthorization("the credentials are not UTF-8"))?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or(ExotelError::BadAuthorization("the credentials have no ':'"))?;
    Ok(BasicCredentials {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

/// Whether an `Authorization` header (if any) carries exactly these Basic credentials; both parts are
/// compared with [`verify_webhook_secret`], and both always, so the time does not tell which differed.
pub fn verify_basic_authorization(header: Option<&str>, username: &str, password: &str) -> bool {
    let Some(Ok(credentials)) = header.map(parse_basic_authorization) else {
        return false;
    };
    let user_ok = verify_webhook_secret(username, &credentials.username);
    let password_ok = verify_webhook_secret(password, &credentials.password);
    user_ok & password_ok
}

/// The `Authorization` header value for Basic credentials.
pub fn basic_authorization_header(username: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{username}:{password}")))
}
