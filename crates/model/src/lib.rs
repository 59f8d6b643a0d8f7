//! Leadline's domain types and the sync wire protocol.
//!
//! Everything here is shared by the desktop client, the headless CLI and the server, so the JSON shape
//! (snake_case, enums as lowercase strings) is the contract between them. Nothing in this crate does I/O.

mod enums;
mod phone;

pub mod admin;
pub mod analytics;
pub mod api;
pub mod auth;
pub mod calendar;
pub mod call;
pub mod disposition;
pub mod events;
pub mod import;
pub mod lead;
pub mod privacy;
pub mod setup;
pub mod supervise;
pub mod sync;
pub mod telephony;
pub mod user;

pub use api::{AssigneeFilter, LeadListQuery, LeadPage, LeadSort};
pub use auth::{LoginRequest, LoginResponse, LogoutRequest, RefreshRequest, SessionInfo};
pub use call::{
    BadCallQuality, CallDirection, CallEnd, CallLog, CallQuality, FollowUp, FollowUpSpec, WrapUp,
    follow_up_id_for_call, talk_seconds,
};
pub use disposition::{Disposition, DispositionCategory, default_catalogue};
pub use enums::ParseEnumError;
pub use events::{AnnouncementRequest, EventMessage, ServerEvent};
pub use lead::{Lead, LeadPriority, LeadSource, LeadStatus};
pub use phone::{DEFAULT_REGION, PhoneError, PhoneNumber, with_stored_numbers};
pub use telephony::{
    ClickToCall, ClickToCallRequest, DeskPreferences, DeskScreen, EXOTEL_WSS_URL, Language, PhoneSettings,
    Theme,
};
pub use user::{Role, User};

/// Identifiers are UUIDv7: time-ordered, so a device can mint them offline and they still index well.
pub type Id = uuid::Uuid;

/// A new time-ordered identifier.
pub fn new_id() -> Id {
    uuid::Uuid::now_v7()
}

/// Timestamps are UTC everywhere; the UI converts to the user's zone.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
