//! Requests from the server (UAS side). A request in a call's dialog goes to that call's task; a new
//! INVITE starts an incoming call; OPTIONS pings are answered 200 OK; a BYE, CANCEL or other in-dialog
//! request for a dialog we do not know gets 481; anything else 501 Not Implemented.

use std::sync::Arc;

use rsip::prelude::HeadersExt as _;
use tokio::sync::{broadcast, mpsc};
use tracing::{debug, warn};

use crate::PhoneEvent;
use crate::session::{Calls, answer_stateless};
use crate::transport::Link;

pub(crate) async fn serve(
    mut requests: mpsc::Receiver<rsip::Request>,
    link: Link,
    events: broadcast::Sender<PhoneEvent>,
    calls: Arc<Calls>,
) {
    while let Some(req) = requests.recv().await {
        let Some(req) = calls.route(req) else { continue };
        let method = req.method;
        let has_to_tag = req
            .to_header()
            .ok()
            .and_then(|to| to.tag().ok().flatten())
            .is_some();
        let (code, reason) = match method {
            rsip::Method::Ack => {
                debug!("ignoring ACK outside a dialog");
                continue;
            }
            rsip::Method::Invite if !has_to_tag => {
                calls.incoming(req, &link).await;
                continue;
            }
            rsip::Method::Options => (200, "OK"),
            rsip::Method::Bye
            | rsip::Method::Cancel
            | rsip::Method::Invite
            | rsip::Method::Info
            | rsip::Method::Notify
            | rsip::Method::Update
            | rsip::Method::Refer => (481, "Call/Transaction Does Not Exist"),
            _ => (501, "Not Implemented"),
        };
        debug!(%method, code, "answering request from server");
        if let Err(err) = answer_stateless(&link, &req, code, reason).await {
            warn!(%method, error = %err, "cannot answer a malformed request");
            let _ = events.send(PhoneEvent::ProtocolError(err));
        }
    }
}
