use serde::{Deserialize, Serialize};

use crate::Id;
use crate::enums::string_enum;

string_enum! {
    /// What a user may do.
    Role, "role" {
        Telecaller => "telecaller",
        Supervisor => "supervisor",
        Admin => "admin",
    }
}

/// A person who signs in.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: Id,
    /// The sign-in name.
    pub username: String,
    /// The display name.
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub team: Option<String>,
}
