//! Requests from the server (UAS side). Today: OPTIONS pings are answered 200 OK, ACK is
//! absorbed, everything else gets 501 Not Implemented. A dialog layer (INVITE/BYE/CANCEL) will
//! hook in here.

use rsip::headers::UntypedHeader as _;
use tokio::sync::{broadcast, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, warn};

use crate::PhoneEvent;
use crate::sip;

/// Methods we answer, advertised in Allow.
pub(crate) const ALLOW: &str = "OPTIONS";

pub(crate) async fn serve(
    mut requests: mpsc::Receiver<rsip::Request>,
    out: mpsc::Sender<Message>,
    events: broadcast::Sender<PhoneEvent>,
    user_agent: String,
) {
    while let Some(req) = requests.recv().await {
        let method = req.method;
        let (code, reason) = match method {
            rsip::Method::Ack => {
                debug!("ignoring ACK");
                continue;
            }
            rsip::Method::Options => (200, "OK"),
            _ => (501, "Not Implemented"),
        };
        let extra = vec![
            rsip::headers::Allow::new(ALLOW).into(),
            rsip::headers::Accept::new("application/sdp").into(),
            rsip::headers::Server::new(user_agent.clone()).into(),
        ];
        match sip::response_to(&req, code, reason, extra) {
            Ok(resp) => {
                debug!(%method, code, "answering request from server");
                if out.send(Message::text(resp.to_string())).await.is_err() {
                    break;
                }
            }
            Err(err) => {
                warn!(%method, error = %err, "cannot answer malformed request");
                let _ = events.send(PhoneEvent::ProtocolError(err));
            }
        }
    }
}
