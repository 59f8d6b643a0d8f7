//! Applying the server's pull pages.

use std::collections::BTreeSet;

use leadline_model::Id;
use leadline_model::sync::{Change, PullPage};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::codec::write;
use crate::local::{any_edit_pending, write_with_pending};
use crate::search;
use crate::{Store, StoreError};

/// Meta key: when this cache first pulled the server's last page (set once; cleared with the account).
pub(crate) const CAUGHT_UP: &str = "caught_up_at";

/// What one applied page changed locally.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub leads_upserted: u32,
    pub leads_removed: u32,
    pub call_logs_added: u32,
    pub follow_ups_upserted: u32,
    /// Leads newly assigned to this user by this page (not seen on this device before).
    pub leads_assigned: Vec<Id>,
}

impl Store {
    /// Applies one page in one transaction, then stores its cursor: a crash mid-page leaves the previous
    /// cursor, and the page is pulled again (every write here is idempotent).
    ///
    /// Leads new to the cache count as newly assigned (`leads_assigned`, for notifications) only once the
    /// device has caught up with the server once: a new device's first sync is its whole book, not news.
    pub fn apply_pull_page(&mut self, page: &PullPage) -> Result<ApplyReport, StoreError> {
        let caught_up = self.meta_get(CAUGHT_UP)?.is_some();
        let me = self.sync_state()?.user.map(|u| u.id).filter(|_| caught_up);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // A page may carry a call log before its lead; check references at commit instead.
        tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
        let mut report = ApplyReport::default();
        let mut erased = false;
        let edits_pending = any_edit_pending(&tx)?;
        let mut touched = BTreeSet::new();
        let mut follow_up_leads = BTreeSet::new();
        for change in &page.changes {
            match change {
                Change::Lead(lead) => {
                    let known = write_with_pending(&tx, lead, edits_pending)?;
                    if !known && me.is_some() && lead.assigned_to == me {
                        report.leads_assigned.push(lead.id);
                    }
                    report.leads_upserted += 1;
                    touched.insert(lead.id);
                }
                Change::LeadRemoved { lead_id, erased_at } => {
                    if erased_at.is_some() {
                        erase_lead(&tx, lead_id)?;
                        erased = true;
                    } else {
                        remove_lead(&tx, lead_id)?;
                    }
                    touched.remove(lead_id);
                    report.leads_removed += 1;
                }
                Change::CallLog(call) => {
                    if write::insert_call(&tx, call)? {
                        report.call_logs_added += 1;
                    } else {
                        // Known here: the server may have merged the provider's report into it since.
                        write::fill_call_facts(&tx, call)?;
                    }
                    touched.insert(call.lead_id);
                }
                Change::FollowUp(f) => {
                    // A follow-up this device completed or moved and has not pushed yet keeps the local
                    // row until the push lands (a later page brings the server's row then).
                    let pending: bool = tx
                        .prepare_cached(
                            "SELECT EXISTS (SELECT 1 FROM outbox WHERE entity = 'follow_up' AND entity_id = ?1
                                            AND state = 'pending')",
                        )?
                        .query_row([f.id.to_string()], |r| r.get(0))?;
                    if !pending {
                        write::upsert_follow_up(&tx, f)?;
                        // Its lead may come later in the page: its next follow-up is set again below.
                        follow_up_leads.insert(f.lead_id);
                    }
                    report.follow_ups_upserted += 1;
                }
            }
        }
        if !page.dispositions.is_empty() {
            replace_dispositions(&tx, &page.dispositions)?;
        }
        for lead_id in &follow_up_leads {
            write::refresh_next_follow_up(&tx, lead_id)?;
        }
        search::reindex_all(&tx, &touched)?;
        Store::set_cursor(&tx, &page.next_cursor, &page.server_time)?;
        if !page.has_more && !caught_up {
            Store::meta_set(&tx, CAUGHT_UP, &crate::codec::ts(&page.server_time))?;
        }
        tx.commit()?;
        if erased {
            // The pages as they were before the erasure are still frames of the write-ahead log until a
            // checkpoint copies the zeroed ones over them: do it now and empty the log. Best effort: a
            // reader holding an old snapshot makes it partial, and the next checkpoint finishes it.
            if let Err(e) = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0))
            {
                tracing::warn!(error = %e, "checkpoint after an erasure");
            }
        }
        Ok(report)
    }
}

/// A lead taken away from this user. Its unsent local changes keep it (hidden) until they are pushed.
fn remove_lead(conn: &Connection, lead_id: &Id) -> Result<(), StoreError> {
    let id = lead_id.to_string();
    let pending: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox WHERE lead_id = ?1)")?
        .query_row([&id], |r| r.get(0))?;
    search::unindex_lead(conn, lead_id)?;
    if pending {
        conn.prepare_cached("UPDATE leads SET removed = 1, next_follow_up_at = NULL WHERE id = ?1")?
            .execute([&id])?;
    } else {
        conn.prepare_cached("DELETE FROM follow_ups WHERE lead_id = ?1")?
            .execute([&id])?;
        conn.prepare_cached("DELETE FROM call_logs WHERE lead_id = ?1")?
            .execute([&id])?;
        conn.prepare_cached("DELETE FROM leads WHERE id = ?1")?
            .execute([&id])?;
    }
    Ok(())
}

/// A lead erased on the server on the person's request: everything this cache holds about it goes, pending
/// changes included — the lead and its search entry, its call logs and follow-ups, conflicts, call drafts
/// (by lead or by its numbers), unsent edits and follow-up changes. Unsent call logs stay queued without
/// their notes (their time, length and disposition still count for the caller's figures; the server
/// refuses them now that the lead is gone, and they stay visible as refused). Idempotent.
fn erase_lead(conn: &Connection, lead_id: &Id) -> Result<(), StoreError> {
    let id = lead_id.to_string();
    search::unindex_lead(conn, lead_id)?;
    let phones: Vec<String> = conn
        .prepare_cached("SELECT phone, alternate_phone FROM leads WHERE id = ?1")?
        .query_map([&id], |r| {
            Ok([
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            ])
        })?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .collect();
    for phone in &phones {
        conn.prepare_cached("DELETE FROM call_drafts WHERE remote = ?1")?
            .execute([phone])?;
    }
    conn.prepare_cached("DELETE FROM call_drafts WHERE lead_id = ?1")?
        .execute([&id])?;
    conn.prepare_cached(
        "UPDATE outbox SET mutation = json_set(mutation, '$.data.notes', '', '$.data.follow_up.note', NULL)
         WHERE lead_id = ?1 AND entity = 'call_log'",
    )?
    .execute([&id])?;
    conn.prepare_cached("DELETE FROM outbox WHERE lead_id = ?1 AND entity <> 'call_log'")?
        .execute([&id])?;
    conn.prepare_cached("DELETE FROM conflicts WHERE lead_id = ?1")?
        .execute([&id])?;
    conn.prepare_cached("DELETE FROM follow_ups WHERE lead_id = ?1")?
        .execute([&id])?;
    conn.prepare_cached("DELETE FROM call_logs WHERE lead_id = ?1")?
        .execute([&id])?;
    conn.prepare_cached("DELETE FROM leads WHERE id = ?1")?
        .execute([&id])?;
    Ok(())
}

/// Replaces the disposition catalogue with `list`, in its order.
pub(crate) fn replace_dispositions(
    conn: &Connection,
    list: &[leadline_model::Disposition],
) -> Result<(), StoreError> {
    conn.execute("DELETE FROM dispositions", [])?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO dispositions (code, label, category, requires_follow_up, hotkey, position)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (i, d) in (0_i64..).zip(list) {
        stmt.execute(params![
            d.code,
            d.label,
            d.category.as_str(),
            d.requires_follow_up,
            d.hotkey,
            i
        ])?;
    }
    Ok(())
}
