//! Leadline's client side of the API: signing in, and pulling the server's change feed into the local
//! [`Store`]. Pushing the outbox, the background engine (triggers, backoff, status stream) come on top of
//! these pieces.

mod client;
mod error;

pub use client::{Client, DEFAULT_TIMEOUT, Tokens};
pub use error::SyncError;

use leadline_model::sync::PROTOCOL_VERSION;
use leadline_store::{ApplyReport, Store};
use serde::{Deserialize, Serialize};

/// What a full pull did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullReport {
    pub pages: u32,
    pub leads_upserted: u64,
    pub leads_removed: u64,
    pub call_logs_added: u64,
    pub follow_ups_upserted: u64,
    /// Leads that are new on this device and assigned to its user: the desktop notifies about these.
    pub leads_assigned: Vec<leadline_model::Id>,
}

impl PullReport {
    fn add(&mut self, a: ApplyReport) {
        self.pages += 1;
        self.leads_upserted += u64::from(a.leads_upserted);
        self.leads_removed += u64::from(a.leads_removed);
        self.call_logs_added += u64::from(a.call_logs_added);
        self.follow_ups_upserted += u64::from(a.follow_ups_upserted);
        self.leads_assigned.extend(a.leads_assigned);
    }
}

/// The most pages one pull follows before it stops and reports: a server that always says `has_more`
/// must not keep a client busy for ever.
pub const MAX_PAGES_PER_PULL: u32 = 10_000;

/// Pulls every page after the store's cursor and applies each in its own transaction.
///
/// The cursor moves only with an applied page, so an interrupted pull resumes where it stopped.
pub async fn pull_all(client: &Client, store: &mut Store) -> Result<PullReport, SyncError> {
    let mut report = PullReport::default();
    let mut cursor = store.sync_state()?.cursor;
    loop {
        let page = client.pull(&cursor, None).await?;
        if page.protocol != PROTOCOL_VERSION {
            return Err(SyncError::Protocol(format!(
                "server speaks sync protocol {}, this client speaks {PROTOCOL_VERSION}",
                page.protocol
            )));
        }
        if page.has_more && page.next_cursor == cursor {
            return Err(SyncError::Protocol(
                "server says there is more but its cursor does not move".into(),
            ));
        }
        let applied = store.apply_pull_page(&page)?;
        report.add(applied);
        cursor = page.next_cursor;
        if !page.has_more {
            break;
        }
        if report.pages >= MAX_PAGES_PER_PULL {
            tracing::warn!(
                pages = report.pages,
                "pull stopped after the page limit; the next sync continues"
            );
            break;
        }
    }
    tracing::info!(
        pages = report.pages,
        leads = report.leads_upserted,
        calls = report.call_logs_added,
        "pulled"
    );
    Ok(report)
}
