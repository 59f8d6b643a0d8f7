//! SIP over WebSocket transport (RFC 7118) and the client transaction table.
//!
//! A [`Connection`] owns three tasks:
//! * the **reader** parses every text/binary frame as one SIP message; responses are routed to the
//!   waiting client transaction by the branch of their top Via, requests go to the request
//!   handler ([`crate::incoming`]), garbage is logged and reported as a
//!   [`PhoneEvent::ProtocolError`];
//! * the **writer** sends queued frames and WebSocket pings; when nothing at all has been received
//!   for `keepalive_interval + keepalive_timeout` it declares the connection dead;
//! * the **request handler** answers requests from the server.
//!
//! When any of them ends, the connection is closed: every pending transaction fails with
//! [`PhoneError::Disconnected`] and [`Connection::closed`] resolves with the reason.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use rsip::headers::UntypedHeader as _;
use rsip::prelude::HeadersExt as _;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, connect_async_tls_with_config};
use tracing::{debug, trace, warn};

use crate::PhoneEvent;
use crate::config::{PhoneConfig, WsScheme};
use crate::error::{ConnectCause, PhoneError};
use crate::sip::{self, MAX_MESSAGE_BYTES};

type Pending = Arc<Mutex<HashMap<String, mpsc::Sender<rsip::Response>>>>;

/// Identity of the local end of a connection, used in Via and Contact.
#[derive(Debug, Clone)]
pub(crate) struct LocalEnd {
    pub scheme: WsScheme,
    /// Random `xxxx.invalid` host (RFC 7118 §5).
    pub via_host: String,
}

/// One WebSocket connection to the SIP server.
pub(crate) struct Connection {
    link: Link,
    tasks: Vec<JoinHandle<()>>,
    pub local: LocalEnd,
}

/// What calls hold of a connection: a cheap clone that sends messages and runs client transactions on it
/// (and fails with [`PhoneError::Disconnected`] once it is closed).
#[derive(Clone)]
pub(crate) struct Link {
    out: mpsc::Sender<Message>,
    pending: Pending,
    closed: watch::Receiver<Option<String>>,
    pub local: LocalEnd,
}

/// The responses of one client transaction, as they come (provisional ones included); the branch is
/// forgotten when this is dropped.
pub(crate) struct Responses {
    rx: mpsc::Receiver<rsip::Response>,
    pending: Pending,
    branch: String,
    closed: watch::Receiver<Option<String>>,
}

impl Responses {
    /// The next response, or `Disconnected` once the connection is closed. Not bounded in time: callers
    /// wrap it in their own timers.
    pub(crate) async fn next(&mut self) -> Result<rsip::Response, PhoneError> {
        match self.rx.recv().await {
            Some(resp) => Ok(resp),
            None => Err(PhoneError::Disconnected {
                reason: self
                    .closed
                    .borrow()
                    .clone()
                    .unwrap_or_else(|| "connection closed".to_owned()),
            }),
        }
    }
}

impl Drop for Responses {
    fn drop(&mut self) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.branch);
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Builds the rustls configuration for `wss://` (aws-lc-rs, system roots + configured extras).
pub(crate) fn tls_config(cfg: &PhoneConfig) -> Result<Arc<rustls::ClientConfig>, PhoneError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for err in &native.errors {
        debug!(error = %err, "could not load some system root certificates");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    trace!(added, ignored, "system root certificates");
    for der in &cfg.extra_root_certs {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.clone()))
            .map_err(|e| PhoneError::InvalidConfig(format!("extra root certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PhoneError::InvalidConfig(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn connect_error(url: &str, err: tungstenite::Error) -> PhoneError {
    let http_status = match &err {
        tungstenite::Error::Http(resp) => Some(resp.status().as_u16()),
        _ => None,
    };
    PhoneError::Connect {
        url: url.to_owned(),
        source: ConnectCause {
            http_status,
            message: err.to_string(),
        },
    }
}

impl Connection {
    /// Opens the WebSocket (subprotocol `sip`) and starts the connection tasks.
    pub(crate) async fn connect(
        cfg: &PhoneConfig,
        local: LocalEnd,
        tls: Option<Arc<rustls::ClientConfig>>,
        events: broadcast::Sender<PhoneEvent>,
        calls: Arc<crate::session::Calls>,
    ) -> Result<Self, PhoneError> {
        let url = cfg.ws_url.as_str();
        let mut request = url.into_client_request().map_err(|e| connect_error(url, e))?;
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
        let connector = match (local.scheme, tls) {
            (WsScheme::Wss, Some(tls)) => Connector::Rustls(tls),
            (WsScheme::Wss, None) => {
                return Err(PhoneError::InvalidConfig(
                    "wss:// without TLS configuration".into(),
                ));
            }
            (WsScheme::Ws, _) => Connector::Plain,
        };
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES));
        let handshake = connect_async_tls_with_config(request, Some(ws_config), true, Some(connector));
        let (stream, _response) = match timeout(cfg.connect_timeout, handshake).await {
            Ok(Ok(ok)) => ok,
            Ok(Err(err)) => return Err(connect_error(url, err)),
            Err(_) => {
                return Err(PhoneError::Connect {
                    url: url.to_owned(),
                    source: ConnectCause {
                        http_status: None,
                        message: format!("no WebSocket handshake within {:?}", cfg.connect_timeout),
                    },
                });
            }
        };
        debug!(url, "WebSocket connected");

        let (mut sink, mut stream) = stream.split();
        let (out_tx, mut out_rx) = mpsc::channel::<Message>(64);
        let (closed_tx, closed_rx) = watch::channel::<Option<String>>(None);
        let closed_tx = Arc::new(closed_tx);
        let pending: Pending = Arc::default();
        let last_rx = Arc::new(Mutex::new(Instant::now()));
        let (req_tx, req_rx) = mpsc::channel::<rsip::Request>(32);

        let close = {
            let closed_tx = closed_tx.clone();
            let pending = pending.clone();
            move |reason: String| {
                closed_tx.send_if_modified(|current| {
                    if current.is_none() {
                        *current = Some(reason);
                        true
                    } else {
                        false
                    }
                });
                // Dropping the senders fails every waiting transaction.
                pending.lock().unwrap_or_else(PoisonError::into_inner).clear();
            }
        };

        // Writer + keep-alive.
        let writer = {
            let close = close.clone();
            let last_rx = last_rx.clone();
            let interval = cfg.keepalive_interval.max(Duration::from_millis(100));
            let dead_after = interval + cfg.keepalive_timeout;
            // A server that stops reading must not block us forever either.
            let send_timeout = cfg.request_timeout;
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval_at(Instant::now() + interval, interval);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let reason = loop {
                    let (msg, is_close) = tokio::select! {
                        msg = out_rx.recv() => {
                            let Some(msg) = msg else { break "connection closed locally".to_owned() };
                            let is_close = matches!(msg, Message::Close(_));
                            (msg, is_close)
                        }
                        _ = ticker.tick() => {
                            let idle = last_rx.lock().unwrap_or_else(PoisonError::into_inner).elapsed();
                            if idle > dead_after {
                                break format!("keep-alive: nothing received for {idle:?}");
                            }
                            (Message::Ping(Default::default()), false)
                        }
                    };
                    match timeout(send_timeout, sink.send(msg)).await {
                        Ok(Ok(())) if is_close => break "connection closed locally".to_owned(),
                        Ok(Ok(())) => {}
                        Ok(Err(err)) => break format!("send failed: {err}"),
                        Err(_) => break format!("send blocked for {send_timeout:?}"),
                    }
                };
                debug!(%reason, "WebSocket writer finished");
                close(reason);
            })
        };

        // Reader.
        let reader = {
            let close = close.clone();
            let pending = pending.clone();
            let events = events.clone();
            tokio::spawn(async move {
                let reason = loop {
                    let frame = match stream.next().await {
                        None => break "connection closed by server".to_owned(),
                        Some(Err(err)) => break format!("receive failed: {err}"),
                        Some(Ok(frame)) => frame,
                    };
                    *last_rx.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
                    let bytes: &[u8] = match &frame {
                        Message::Text(text) => text.as_bytes(),
                        Message::Binary(bytes) => bytes,
                        Message::Close(frame) => {
                            break match frame {
                                Some(f) => format!("server closed the WebSocket: {} {}", f.code, f.reason),
                                None => "server closed the WebSocket".to_owned(),
                            };
                        }
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                    };
                    if bytes.iter().all(u8::is_ascii_whitespace) {
                        trace!("keep-alive CRLF from server");
                        continue;
                    }
                    match sip::parse_message(bytes) {
                        Ok(rsip::SipMessage::Response(resp)) => route_response(&pending, resp, &events),
                        Ok(rsip::SipMessage::Request(req)) => {
                            if let Err(mpsc::error::TrySendError::Full(req)) = req_tx.try_send(req) {
                                warn!(method = %req.method, "request queue full, dropping request");
                            }
                        }
                        Err(err) => report_garbage(&events, err, bytes),
                    }
                };
                debug!(%reason, "WebSocket reader finished");
                close(reason);
            })
        };

        let link = Link {
            out: out_tx,
            pending,
            closed: closed_rx,
            local: local.clone(),
        };
        let handler = tokio::spawn(crate::incoming::serve(req_rx, link.clone(), events, calls));

        Ok(Self {
            link,
            tasks: vec![writer, reader, handler],
            local,
        })
    }

    /// A handle on this connection for calls.
    pub(crate) fn link(&self) -> Link {
        self.link.clone()
    }

    pub(crate) async fn transaction(
        &self,
        req: rsip::Request,
        branch: &str,
        wait: Duration,
    ) -> Result<rsip::Response, PhoneError> {
        self.link.transaction(req, branch, wait).await
    }

    /// Resolves with the reason once the connection is closed.
    pub(crate) async fn closed(&self) -> String {
        wait_closed(self.link.closed.clone()).await
    }

    /// A watch that turns `Some(reason)` when the connection closes (see [`wait_closed`]).
    pub(crate) fn closed_watch(&self) -> watch::Receiver<Option<String>> {
        self.link.closed.clone()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.link.is_closed()
    }

    /// Sends a WebSocket close frame and waits briefly for the writer to flush it.
    pub(crate) async fn close(self) {
        if self.link.out.send(Message::Close(None)).await.is_ok() {
            let _ = timeout(Duration::from_secs(1), self.closed()).await;
        }
    }
}

impl Link {
    /// Starts a client transaction: registers `branch` (the top Via's of `req`), sends `req` and hands
    /// back its responses as they come.
    pub(crate) async fn start(&self, req: rsip::Request, branch: &str) -> Result<Responses, PhoneError> {
        let (tx, rx) = mpsc::channel(16);
        let key = transaction_key(branch, &req.method);
        self.register_branch(&key, tx)?;
        let responses = Responses {
            rx,
            pending: self.pending.clone(),
            branch: key,
            closed: self.closed.clone(),
        };
        self.send(rsip::SipMessage::Request(req)).await?;
        Ok(responses)
    }

    /// Registers the waiter of a transaction under its key (see [`transaction_key`]).
    fn register_branch(&self, branch: &str, tx: mpsc::Sender<rsip::Response>) -> Result<(), PhoneError> {
        if let Some(reason) = self.closed.borrow().clone() {
            return Err(PhoneError::Disconnected { reason });
        }
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(branch.to_owned(), tx);
        if let Some(reason) = self.closed.borrow().clone() {
            // Closed between the check above and the insert: the table was already cleared.
            self.pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(branch);
            return Err(PhoneError::Disconnected { reason });
        }
        Ok(())
    }

    /// Sends a request and waits for its final response (provisional ones are skipped). The
    /// request's top Via must carry `branch`.
    pub(crate) async fn transaction(
        &self,
        req: rsip::Request,
        branch: &str,
        wait: Duration,
    ) -> Result<rsip::Response, PhoneError> {
        let (tx, mut rx) = mpsc::channel(4);
        let key = transaction_key(branch, &req.method);
        self.register_branch(&key, tx)?;
        let result = async {
            self.send(rsip::SipMessage::Request(req)).await?;
            let deadline = Instant::now() + wait;
            loop {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Err(_) => return Err(PhoneError::Timeout),
                    Ok(None) => {
                        return Err(PhoneError::Disconnected {
                            reason: self.close_reason(),
                        });
                    }
                    Ok(Some(resp)) if resp.status_code.code() < 200 => continue,
                    Ok(Some(resp)) => return Ok(resp),
                }
            }
        }
        .await;
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        result
    }

    pub(crate) async fn send(&self, msg: rsip::SipMessage) -> Result<(), PhoneError> {
        let text = msg.to_string();
        trace!(message = %text, "SIP out");
        self.out
            .send(Message::text(text))
            .await
            .map_err(|_| PhoneError::Disconnected {
                reason: self.close_reason(),
            })
    }

    fn close_reason(&self) -> String {
        self.closed
            .borrow()
            .clone()
            .unwrap_or_else(|| "connection closed".to_owned())
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.borrow().is_some()
    }
}

/// Resolves with the reason once the watched connection is closed.
pub(crate) async fn wait_closed(mut rx: watch::Receiver<Option<String>>) -> String {
    match rx.wait_for(Option::is_some).await {
        Ok(reason) => reason.clone().unwrap_or_default(),
        Err(_) => "connection closed".to_owned(),
    }
}

/// A client transaction is known by its branch and method (RFC 3261 §17.1.3): a CANCEL shares its INVITE's
/// branch.
fn transaction_key(branch: &str, method: &rsip::Method) -> String {
    format!("{branch} {method}")
}

fn route_response(pending: &Pending, resp: rsip::Response, events: &broadcast::Sender<PhoneEvent>) {
    // The method is the CSeq's last word; the number is left to the transaction to check, so a response with
    // a broken number still reaches it and fails it as a protocol error instead of leaving it waiting.
    let key = sip::top_via_branch(&resp).and_then(|branch| {
        let cseq = resp
            .cseq_header()
            .map_err(|_| PhoneError::Protocol("response without CSeq".into()))?;
        let method = cseq
            .value()
            .split_whitespace()
            .last()
            .ok_or_else(|| PhoneError::Protocol("empty CSeq".into()))?;
        Ok(format!("{branch} {}", method.to_ascii_uppercase()))
    });
    let branch = match key {
        Ok(key) => key,
        Err(err) => {
            report_garbage(events, err, resp.to_string().as_bytes());
            return;
        }
    };
    let waiter = {
        let table = pending.lock().unwrap_or_else(PoisonError::into_inner);
        table.get(&branch).cloned().or_else(|| {
            // A method that matches nothing: when one transaction has this branch, it gets the response and
            // refuses it as a protocol error (its own checks) instead of waiting for a time-out.
            let prefix = branch.split_once(' ').map_or(branch.as_str(), |(b, _)| b);
            let mut same = table
                .iter()
                .filter(|(key, _)| key.split_once(' ').is_some_and(|(b, _)| b == prefix));
            match (same.next(), same.next()) {
                (Some((_, tx)), None) => Some(tx.clone()),
                _ => None,
            }
        })
    };
    match waiter {
        Some(tx) => {
            if tx.try_send(resp).is_err() {
                debug!(%branch, "transaction no longer waiting for this response");
            }
        }
        None => {
            let cseq = resp.cseq_header().map(|c| c.to_string()).unwrap_or_default();
            debug!(%branch, %cseq, code = resp.status_code.code(), "response matches no transaction, dropped");
        }
    }
}

fn report_garbage(events: &broadcast::Sender<PhoneEvent>, err: PhoneError, bytes: &[u8]) {
    warn!(error = %err, message = ?sip::truncate(&String::from_utf8_lossy(bytes)), "dropping malformed SIP message");
    let _ = events.send(PhoneEvent::ProtocolError(err));
}
