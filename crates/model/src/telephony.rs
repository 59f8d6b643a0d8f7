//! Wire types of the telephony endpoints: `POST /api/v1/calls/click-to-call`, the fallback of the softphone
//! when WebRTC cannot be used on a desk (UDP blocked, no microphone). The server asks the telephony
//! provider (Exotel) to ring the telecaller's own phone (their agent number or SIP user) first and then the
//! lead; the provider reports the call's outcome (times, talk time, recording) to the server later, which
//! merges it into the call log whose id is [`ClickToCall::call_log_id`]. The desktop logs the call itself,
//! under that id, like every other call (see `leadline_store::Store::begin_click_to_call`).

use serde::{Deserialize, Serialize};

use crate::Id;

/// The body of `POST /api/v1/calls/click-to-call`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClickToCallRequest {
    /// The lead to call (one the caller may see); a value that is not a UUID is `400 bad_lead_id`.
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub lead_id: Id,
}

/// The answer of `POST /api/v1/calls/click-to-call`: the provider is ringing the caller's agent number.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClickToCall {
    /// The provider's id of the call (Exotel's CallSid): the call log's `provider_call_id`.
    pub call_sid: String,
    /// The id the desktop gives this call's log. The provider echoes it in its status callback
    /// (`CustomField`), so the server merges the call's outcome into the desktop's log, whichever of the
    /// two reaches the server first. The server creates no call log itself.
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub call_log_id: Id,
    /// The provider's status of the call (`in-progress`: ringing the agent).
    pub status: String,
}

/// The `code`s of the error answers of `POST /api/v1/calls/click-to-call` (in an `ApiError`).
pub mod codes {
    /// 400: the body is not a `ClickToCallRequest`.
    pub const BAD_REQUEST: &str = "bad_request";
    /// 400: `lead_id` is not a UUID.
    pub const BAD_LEAD_ID: &str = "bad_lead_id";
    /// 404: no such lead in the caller's scope.
    pub const NOT_FOUND: &str = "not_found";
    /// 409: the caller has no agent number or SIP user to ring first.
    pub const NO_AGENT_NUMBER: &str = "no_agent_number";
    /// 503: the server has no telephony provider configured.
    pub const TELEPHONY_NOT_CONFIGURED: &str = "telephony_not_configured";
    /// 502: the provider refused the server's credentials.
    pub const EXOTEL_AUTH: &str = "exotel_auth";
    /// 502: the provider refused the call (a bad number, no balance, a suspended account, …).
    pub const EXOTEL_REJECTED: &str = "exotel_rejected";
    /// 502: the provider could not be reached or failed (5xx, network, a bad answer).
    pub const EXOTEL_UNAVAILABLE: &str = "exotel_unavailable";
    /// 503 with `Retry-After`: the provider's rate limit.
    pub const EXOTEL_RATE_LIMITED: &str = "exotel_rate_limited";
    /// 504: the provider did not answer in time.
    pub const EXOTEL_TIMEOUT: &str = "exotel_timeout";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn click_to_call_wire_shape() {
        let id = crate::new_id();
        let body = serde_json::to_value(ClickToCallRequest { lead_id: id }).expect("json");
        assert_eq!(body, serde_json::json!({"lead_id": id.to_string()}));
        let answer: ClickToCall = serde_json::from_value(serde_json::json!({
            "call_sid": "b6cfaf5f5cef3ca0fc937749ef960e25",
            "call_log_id": id.to_string(),
            "status": "in-progress",
        }))
        .expect("answer");
        assert_eq!(answer.call_log_id, id);
        assert_eq!(answer.call_sid, "b6cfaf5f5cef3ca0fc937749ef960e25");
        assert!(
            serde_json::from_value::<ClickToCallRequest>(serde_json::json!({"lead_id": "nope"})).is_err()
        );
    }
}
