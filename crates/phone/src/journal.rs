//! The call journal: every call the softphone sees, written to the local store as it happens, so that no
//! call goes unlogged — not a missed one, not a refused one, not one a crash cut short.
//!
//! Each call's task sends its entries, in order, to a writer task of its own, which hands them one at a
//! time to the [`CallJournal`] on tokio's blocking pool (SQLite writes wait for the disk). The store's
//! implementation turns them into the call's draft (`leadline_store::CallDraft`): begun when the call
//! starts (dialling or ringing), its provider id, its answer, a heartbeat every
//! [`HEARTBEAT`](crate::session) while it lasts, and its end with the reason. After a crash the app ends
//! the drafts left open at their last heartbeat (`Store::recover_interrupted_calls`) and the telecaller
//! logs them like any other.

use std::sync::{Arc, Mutex, PoisonError};

use leadline_model::{CallDirection, CallEnd, CallQuality, Id, Timestamp};
use leadline_store::{CallDraft, Store};
use tokio::sync::{broadcast, mpsc};
use tracing::warn;

use crate::PhoneEvent;

/// One thing that happened to a call, for the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalEntry {
    /// The call started: our INVITE left, or theirs rang here.
    Started {
        id: Id,
        direction: CallDirection,
        /// The other party: a phone number, or a SIP URI when it is not one.
        remote: String,
        lead_id: Option<Id>,
        at: Timestamp,
    },
    /// The telephony provider's id of the call (Exotel's `X-Exotel-Callsid`).
    ProviderId {
        id: Id,
        provider_call_id: String,
    },
    Answered {
        id: Id,
        at: Timestamp,
    },
    /// The call is still going at `at`.
    Alive {
        id: Id,
        at: Timestamp,
    },
    Ended {
        id: Id,
        at: Timestamp,
        reason: CallEnd,
    },
    /// The call's audio quality as measured (written when a call with media ends).
    Quality {
        id: Id,
        quality: CallQuality,
    },
}

/// Where the softphone records its calls. Called on a blocking thread, one entry at a time, in the order
/// the call's events happened.
pub trait CallJournal: Send + Sync + 'static {
    fn record(&self, entry: &JournalEntry) -> Result<(), String>;

    /// The lead whose number an incoming caller's `remote` user part is, when the journal knows one: the
    /// call is then drafted on that lead from its first moment. Called on a blocking thread.
    fn lead_for_number(&self, remote: &str) -> Option<Id> {
        let _ = remote;
        None
    }
}

/// The local store is the journal: each entry is one write to the call's draft; a caller's number is looked
/// up among the cached leads (main and alternate numbers, in E.164).
impl CallJournal for Mutex<Store> {
    fn lead_for_number(&self, remote: &str) -> Option<Id> {
        let number = leadline_model::PhoneNumber::parse(remote).ok()?;
        let store = self.lock().unwrap_or_else(PoisonError::into_inner);
        match store.lead_by_phone(&number) {
            Ok(lead) => lead.map(|l| l.id),
            Err(e) => {
                warn!(error = %e, "cannot look the caller's number up");
                None
            }
        }
    }

    fn record(&self, entry: &JournalEntry) -> Result<(), String> {
        let mut store = self.lock().unwrap_or_else(PoisonError::into_inner);
        let result = match entry {
            JournalEntry::Started {
                id,
                direction,
                remote,
                lead_id,
                at,
            } => {
                let mut draft = CallDraft::new(*direction, remote.clone(), *at);
                draft.id = *id;
                draft.lead_id = *lead_id;
                store.begin_call(&draft)
            }
            JournalEntry::ProviderId { id, provider_call_id } => store.call_provider_id(id, provider_call_id),
            JournalEntry::Answered { id, at } => store.call_answered(id, *at),
            JournalEntry::Alive { id, at } => store.call_alive(id, *at),
            JournalEntry::Ended { id, at, reason } => store.end_call(id, *at, *reason),
            JournalEntry::Quality { id, quality } => store.call_quality(id, quality),
        };
        result.map_err(|e| e.to_string())
    }
}

/// A call's end of its journal: entries queue here and a writer task records them in order.
#[derive(Clone)]
pub(crate) struct JournalWriter {
    tx: Option<mpsc::Sender<JournalEntry>>,
}

/// Entries one call may have waiting (a call has a handful, plus a heartbeat every few seconds).
const QUEUE: usize = 64;

impl JournalWriter {
    pub(crate) fn new(journal: Option<Arc<dyn CallJournal>>, events: broadcast::Sender<PhoneEvent>) -> Self {
        let Some(journal) = journal else {
            return Self { tx: None };
        };
        let (tx, mut rx) = mpsc::channel::<JournalEntry>(QUEUE);
        tokio::spawn(async move {
            while let Some(entry) = rx.recv().await {
                let journal = journal.clone();
                let written = tokio::task::spawn_blocking(move || {
                    let result = journal.record(&entry);
                    (entry, result)
                })
                .await;
                let failure = match written {
                    Ok((_, Ok(()))) => None,
                    Ok((entry, Err(err))) => Some(format!("{entry:?}: {err}")),
                    Err(err) => Some(format!("the journal's writer failed: {err}")),
                };
                if let Some(message) = failure {
                    warn!(error = %message, "could not journal a call event");
                    let _ = events.send(PhoneEvent::JournalFailed(message));
                }
            }
        });
        Self { tx: Some(tx) }
    }

    /// Queues `entry`; never waits (a full queue drops heartbeats first, which the next one replaces).
    pub(crate) fn write(&self, entry: JournalEntry) {
        let Some(tx) = &self.tx else { return };
        if let Err(mpsc::error::TrySendError::Full(entry)) = tx.try_send(entry) {
            if matches!(entry, JournalEntry::Alive { .. }) {
                return;
            }
            // Anything else must not be lost: wait for room on a task of its own.
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(entry).await;
            });
        }
    }
}
