use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp, User};

/// `POST /api/v1/auth/login` body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// A stable id of the signing-in device, so each device gets its own session.
    #[serde(default)]
    pub device_id: Option<String>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("device_id", &self.device_id)
            .finish()
    }
}

/// `POST /api/v1/auth/login` answer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user: User,
    /// The rotating refresh token of this device session (see [`RefreshRequest`]). Single use: each refresh
    /// answers a new one, and presenting a used one again ends the session.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
    /// The device session the tokens belong to.
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub session_id: Id,
}

impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("user", &self.user)
            .field("refresh_token", &"<redacted>")
            .field("refresh_expires_in", &self.refresh_expires_in)
            .field("session_id", &self.session_id)
            .finish()
    }
}

/// `POST /api/v1/auth/refresh` body: trades a refresh token for a new access + refresh token pair (a
/// [`LoginResponse`]). The presented token is used up.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest")
            .field("refresh_token", &"<redacted>")
            .finish()
    }
}

/// `POST /api/v1/auth/logout` body (optional when the request carries a Bearer access token): ends the
/// session the refresh token belongs to.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct LogoutRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for LogoutRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogoutRequest")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// One device session of a user, as `GET /api/v1/users/{id}/sessions` lists it (never its tokens).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: Id,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub user_id: Id,
    pub device_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub last_used_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub expires_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<chrono::DateTime<chrono::Utc>>))]
    pub revoked_at: Option<Timestamp>,
    /// `logout`, `refresh_reused`, `revoked_by:<user id>` …
    pub revoke_reason: Option<String>,
}

/// The body of every error answer of the API: a machine-readable code and a message for people.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    #[test]
    fn debug_never_shows_tokens_and_old_login_requests_still_parse() {
        let login = LoginResponse {
            access_token: "secret-access".into(),
            token_type: "Bearer".into(),
            expires_in: 900,
            user: User {
                id: crate::new_id(),
                username: "priya".into(),
                name: "Priya".into(),
                role: Role::Telecaller,
                team: None,
            },
            refresh_token: "secret-refresh".into(),
            refresh_expires_in: 60,
            session_id: crate::new_id(),
        };
        let refresh = RefreshRequest {
            refresh_token: "secret-refresh".into(),
        };
        let logout = LogoutRequest {
            refresh_token: Some("secret-refresh".into()),
        };
        for text in [
            format!("{login:?}"),
            format!("{refresh:?}"),
            format!("{logout:?}"),
        ] {
            assert!(!text.contains("secret-"), "{text}");
        }
        let back: LoginResponse =
            serde_json::from_str(&serde_json::to_string(&login).expect("json")).expect("parse");
        assert_eq!(back.refresh_token, "secret-refresh");
        let empty: LogoutRequest = serde_json::from_str("{}").expect("empty logout body");
        assert!(empty.refresh_token.is_none());
    }
}
