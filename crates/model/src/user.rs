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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Id,
    /// The sign-in name.
    pub username: String,
    /// The display name.
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub team: Option<String>,
}
