//! Click-to-call, the softphone's fallback where WebRTC cannot be used on a desk (UDP blocked, no
//! microphone): the server has the telephony provider ring the telecaller's own phone, then the lead, and
//! the desktop logs the call like every other, under the id the server chose.

use chrono::Utc;
use leadline_model::{ClickToCall, Id};
use leadline_store::CallDraft;

use crate::{Client, SharedStore, SyncError};

/// A click-to-call the server placed, and its draft on this device (waiting for the wrap-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedCall {
    /// The server's answer: the provider's call id and the call log's id.
    pub call: ClickToCall,
    /// The call's draft in the cache: id = `call.call_log_id`, provider call id = `call.call_sid`. Log it
    /// with `Store::log_drafted_call` once the telecaller has wrapped up.
    pub draft: CallDraft,
}

/// Places a click-to-call on `lead_id` and drafts it in the cache: checks that the lead is cached (the
/// call is logged on it), asks the server ([`Client::click_to_call`]), then records the draft
/// (`Store::begin_click_to_call`) started just before the request. When the server refuses, nothing is
/// recorded. The wrap-up completes the draft into a call log like any call's; the server merges the
/// provider's report (times, talk time, recording) into that same log, whichever arrives first.
pub async fn place_click_to_call(
    client: &Client,
    store: &SharedStore,
    lead_id: Id,
) -> Result<PlacedCall, SyncError> {
    store.run(move |s| s.get_lead(&lead_id).map(drop)).await?;
    let started_at = Utc::now();
    let call = client.click_to_call(lead_id).await?;
    let (id, sid) = (call.call_log_id, call.call_sid.clone());
    let draft = store
        .run(move |s| s.begin_click_to_call(id, lead_id, &sid, started_at))
        .await
        .inspect_err(|e| {
            // The phone is ringing but the call is not drafted: say which call it was.
            tracing::error!(
                error = %e,
                call_log_id = %call.call_log_id,
                call_sid = %call.call_sid,
                "click-to-call placed but not recorded locally"
            );
        })?;
    Ok(PlacedCall { call, draft })
}
