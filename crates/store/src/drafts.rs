//! Calls in progress and calls waiting for their wrap-up: the softphone's drafts of call logs.
//!
//! The softphone opens a draft the moment a call starts (dialling or ringing), marks it answered, keeps it
//! alive with a heartbeat while it lasts and ends it with how it ended. The wrap-up form then completes it
//! into a call log ([`Store::log_drafted_call`]): the log takes the draft's id, times and provider id, the
//! user's disposition, notes and follow-up, and is queued for the server in the same transaction that
//! removes the draft. A draft is never dropped silently: [`Store::unlogged_calls`] lists every one, and
//! [`Store::recover_interrupted_calls`] ends those a crash left open at their last heartbeat.
//!
//! A click-to-call (the softphone's fallback: the server has the provider ring the telecaller's own phone,
//! then the lead) is drafted with [`Store::begin_click_to_call`] under the id and provider call id the
//! server answered ([`CallVia::ClickToCall`]). The desktop never sees such a call answered or ended, so its
//! log carries no answer or end time and no talk time: the provider reports those (and the recording) to
//! the server, which fills them into the log of the same id whichever arrives first.

use leadline_model::{CallDirection, CallEnd, CallLog, CallQuality, Disposition, Id, Timestamp};
use rusqlite::{OptionalExtension as _, params};
use serde::{Deserialize, Serialize};

use crate::codec::{
    QUALITY_COLUMNS, QualityCols, check_quality, opt_ts, parse_enum, parse_id, parse_opt_ts, parse_ts,
    quality_from_row, ts, with_quality,
};
use crate::{Store, StoreError};

/// How a call was placed, which says who sees it happen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallVia {
    /// The desktop's own softphone call: the desktop sees its answer and end.
    #[default]
    Softphone,
    /// A click-to-call: the provider rang the telecaller's own phone, then the lead. The provider, not the
    /// desktop, sees the answer and the end, and reports them to the server.
    ClickToCall,
}

impl CallVia {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Softphone => "softphone",
            Self::ClickToCall => "click_to_call",
        }
    }
}

impl std::str::FromStr for CallVia {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "softphone" => Ok(Self::Softphone),
            "click_to_call" => Ok(Self::ClickToCall),
            other => Err(format!("unknown call route {other:?}")),
        }
    }
}

/// A call as the softphone knows it before the telecaller logs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallDraft {
    /// Becomes the call log's id.
    pub id: Id,
    pub lead_id: Option<Id>,
    pub direction: CallDirection,
    /// The other party: an E.164 number or a SIP URI.
    pub remote: String,
    pub provider_call_id: Option<String>,
    pub started_at: Timestamp,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub end_reason: Option<CallEnd>,
    /// The call's last sign of life (its start, answer or heartbeat).
    pub last_seen_at: Timestamp,
    pub device_id: Option<String>,
    /// How the call was placed (a draft of an older cache: the softphone).
    #[serde(default)]
    pub via: CallVia,
    /// How the call sounded, as the softphone last measured it ([`Store::call_quality`]); the call log
    /// takes it.
    #[serde(default)]
    pub quality: Option<CallQuality>,
}

impl CallDraft {
    /// A call starting now-ish at `started_at`.
    pub fn new(direction: CallDirection, remote: impl Into<String>, started_at: Timestamp) -> Self {
        Self {
            id: leadline_model::new_id(),
            lead_id: None,
            direction,
            remote: remote.into(),
            provider_call_id: None,
            started_at,
            answered_at: None,
            ended_at: None,
            end_reason: None,
            last_seen_at: started_at,
            device_id: None,
            via: CallVia::Softphone,
            quality: None,
        }
    }

    /// A click-to-call the server placed, starting at `started_at`: outbound to `remote` (the lead's
    /// number), under the call log id and provider call id the server answered
    /// (`leadline_model::ClickToCall`).
    pub fn click_to_call(
        call_log_id: Id,
        lead_id: Id,
        remote: impl Into<String>,
        provider_call_id: impl Into<String>,
        started_at: Timestamp,
    ) -> Self {
        Self {
            id: call_log_id,
            lead_id: Some(lead_id),
            provider_call_id: Some(provider_call_id.into()),
            via: CallVia::ClickToCall,
            ..Self::new(CallDirection::Outbound, remote, started_at)
        }
    }

    /// Talk time in whole seconds: answer to end, zero for a call never answered.
    pub fn talk_seconds(&self) -> i64 {
        leadline_model::talk_seconds(self.answered_at, self.ended_at)
    }
}

pub use leadline_model::WrapUp;

const DRAFT_COLUMNS: &str = "id, lead_id, direction, remote, provider_call_id, started_at, answered_at, ended_at, \
     end_reason, last_seen_at, device_id, via, quality_mos, quality_rtt_ms, quality_jitter_ms, quality_loss, \
     quality_codec, quality_remote_loss, quality_remote_jitter_ms";

fn draft_from_row(r: &rusqlite::Row<'_>) -> Result<CallDraft, StoreError> {
    let text = |i: usize| r.get::<_, String>(i);
    let opt = |i: usize| r.get::<_, Option<String>>(i);
    Ok(CallDraft {
        id: parse_id(&text(0)?)?,
        lead_id: opt(1)?.as_deref().map(parse_id).transpose()?,
        direction: parse_enum(&text(2)?)?,
        remote: text(3)?,
        provider_call_id: opt(4)?,
        started_at: parse_ts(&text(5)?)?,
        answered_at: parse_opt_ts(opt(6)?)?,
        ended_at: parse_opt_ts(opt(7)?)?,
        end_reason: opt(8)?.as_deref().map(parse_enum).transpose()?,
        last_seen_at: parse_ts(&text(9)?)?,
        device_id: opt(10)?,
        via: parse_enum(&text(11)?)?,
        quality: quality_from_row(r, 12)?,
    })
}

impl Store {
    /// Records a call that has just started (or rung). A click-to-call draft needs its lead and provider
    /// call id. An id that a draft or a call log has already is refused ([`StoreError::Invalid`]).
    pub fn begin_call(&mut self, draft: &CallDraft) -> Result<(), StoreError> {
        if draft.via == CallVia::ClickToCall
            && (draft.lead_id.is_none()
                || draft
                    .provider_call_id
                    .as_deref()
                    .is_none_or(|p| p.trim().is_empty()))
        {
            return Err(StoreError::Invalid(
                "a click-to-call draft needs its lead and the provider's call id".into(),
            ));
        }
        check_quality(draft.quality.as_ref())?;
        let taken: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM call_drafts WHERE id = ?1)
                 OR EXISTS (SELECT 1 FROM call_logs WHERE id = ?1)",
            [draft.id.to_string()],
            |r| r.get(0),
        )?;
        if taken {
            return Err(StoreError::Invalid(format!(
                "call {} is recorded already",
                draft.id
            )));
        }
        let q = QualityCols::of(draft.quality.as_ref());
        self.conn.execute(
            &format!(
                "INSERT INTO call_drafts ({DRAFT_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
            ),
            with_quality(
                params![
                    draft.id.to_string(),
                    draft.lead_id.map(|l| l.to_string()),
                    draft.direction.as_str(),
                    draft.remote,
                    draft.provider_call_id,
                    ts(&draft.started_at),
                    opt_ts(&draft.answered_at),
                    opt_ts(&draft.ended_at),
                    draft.end_reason.map(CallEnd::as_str),
                    ts(&draft.last_seen_at),
                    draft.device_id,
                    draft.via.as_str(),
                ],
                &q,
            ),
        )?;
        Ok(())
    }

    /// Drafts a click-to-call the server placed on lead `lead_id` (`leadline_model::ClickToCall`): under
    /// the server's `call_log_id` and the provider's `call_sid`, outbound to the lead's number, from this
    /// device, started at `started_at`. The lead must be in the cache (check before asking the server to
    /// call). Recording the same call again (same id and call sid) answers the draft as it is.
    pub fn begin_click_to_call(
        &mut self,
        call_log_id: Id,
        lead_id: Id,
        call_sid: &str,
        started_at: Timestamp,
    ) -> Result<CallDraft, StoreError> {
        if let Some(existing) = self.call_draft(&call_log_id)? {
            return if existing.via == CallVia::ClickToCall
                && existing.lead_id == Some(lead_id)
                && existing.provider_call_id.as_deref() == Some(call_sid)
            {
                Ok(existing)
            } else {
                Err(StoreError::Invalid(format!(
                    "call {call_log_id} is recorded already as another call"
                )))
            };
        }
        let lead = self.get_lead(&lead_id)?;
        let mut draft =
            CallDraft::click_to_call(call_log_id, lead_id, lead.phone.as_str(), call_sid, started_at);
        draft.device_id = Some(self.device_id()?);
        self.begin_call(&draft)?;
        // As stored (times to the cache's precision).
        self.call_draft(&call_log_id)?
            .ok_or_else(|| StoreError::NotFound(format!("call draft {call_log_id}")))
    }

    /// The drafted call `id`.
    pub fn call_draft(&self, id: &Id) -> Result<Option<CallDraft>, StoreError> {
        self.conn
            .prepare_cached(&format!("SELECT {DRAFT_COLUMNS} FROM call_drafts WHERE id = ?1"))?
            .query_row([id.to_string()], |r| Ok(draft_from_row(r)))
            .optional()?
            .transpose()
    }

    /// The call was answered at `at`.
    pub fn call_answered(&mut self, id: &Id, at: Timestamp) -> Result<(), StoreError> {
        self.update_open_call(
            id,
            "answered_at = coalesce(answered_at, ?2), last_seen_at = max(last_seen_at, ?2)",
            at,
        )
    }

    /// The call is still going at `at` (a heartbeat: where a crash would end it).
    pub fn call_alive(&mut self, id: &Id, at: Timestamp) -> Result<(), StoreError> {
        self.update_open_call(id, "last_seen_at = max(last_seen_at, ?2)", at)
    }

    /// Sets the provider's id of the call (Exotel's CallSid), once it is known.
    pub fn call_provider_id(&mut self, id: &Id, provider_call_id: &str) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE call_drafts SET provider_call_id = ?2 WHERE id = ?1",
            params![id.to_string(), provider_call_id],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("call draft {id}")));
        }
        Ok(())
    }

    /// Sets (or replaces) the call's quality figures, as the softphone measured them: when the call ends,
    /// and as often as it likes while it runs (the last figures stand, and the call log takes them). Works
    /// on an ended call too, until it is logged. Implausible figures ([`CallQuality::check`]) are refused
    /// ([`StoreError::Invalid`]) and the draft keeps what it had; an unknown (or already logged) call is
    /// [`StoreError::NotFound`].
    pub fn call_quality(&mut self, id: &Id, quality: &CallQuality) -> Result<(), StoreError> {
        check_quality(Some(quality))?;
        let q = QualityCols::of(Some(quality));
        let sets = QUALITY_COLUMNS
            .split(", ")
            .enumerate()
            .map(|(i, col)| format!("{col} = ?{}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let n = self
            .conn
            .prepare_cached(&format!("UPDATE call_drafts SET {sets} WHERE id = ?1"))?
            .execute(with_quality(params![id.to_string(),], &q))?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("call draft {id}")));
        }
        Ok(())
    }

    /// The call ended at `at`, as `reason` says. Ending an ended call changes nothing.
    pub fn end_call(&mut self, id: &Id, at: Timestamp, reason: CallEnd) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE call_drafts SET ended_at = coalesce(ended_at, max(?2, started_at)),
                                    end_reason = coalesce(end_reason, ?3),
                                    last_seen_at = max(last_seen_at, ?2)
             WHERE id = ?1",
            params![id.to_string(), ts(&at), reason.as_str()],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("call draft {id}")));
        }
        Ok(())
    }

    fn update_open_call(&mut self, id: &Id, set: &str, at: Timestamp) -> Result<(), StoreError> {
        let n = self.conn.execute(
            &format!("UPDATE call_drafts SET {set} WHERE id = ?1 AND ended_at IS NULL"),
            params![id.to_string(), ts(&at)],
        )?;
        if n == 0 {
            return Err(match self.call_draft(id)? {
                None => StoreError::NotFound(format!("call draft {id}")),
                Some(_) => StoreError::Invalid(format!("call {id} has ended")),
            });
        }
        Ok(())
    }

    /// Every call not logged yet, oldest first: those still going and those waiting for their wrap-up.
    pub fn unlogged_calls(&self) -> Result<Vec<CallDraft>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {DRAFT_COLUMNS} FROM call_drafts ORDER BY started_at, id"
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(draft_from_row(r)?);
        }
        Ok(out)
    }

    /// How many calls are not logged yet (what [`Store::unlogged_calls`] would list), without reading them.
    pub fn count_unlogged_calls(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM call_drafts")?
            .query_row([], |r| r.get(0))?;
        Ok(n.unsigned_abs())
    }

    /// Ends every softphone call left open by a process that stopped mid-call, at its last sign of life,
    /// as [`CallEnd::Interrupted`]; answers them. Run it before the softphone starts. Click-to-calls are
    /// left as they are (the provider carries them, not this process; they wait for their wrap-up).
    pub fn recover_interrupted_calls(&mut self) -> Result<Vec<CallDraft>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let ids: Vec<String> = tx
            .prepare(
                "SELECT id FROM call_drafts WHERE ended_at IS NULL AND via = 'softphone' ORDER BY started_at, id",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        tx.execute(
            "UPDATE call_drafts SET ended_at = last_seen_at, end_reason = ?1
             WHERE ended_at IS NULL AND via = 'softphone'",
            [CallEnd::Interrupted.as_str()],
        )?;
        tx.commit()?;
        ids.iter()
            .map(|id| {
                let id = parse_id(id)?;
                self.call_draft(&id)?
                    .ok_or_else(|| StoreError::NotFound(format!("call draft {id}")))
            })
            .collect()
    }

    /// The wrap-up form's save: [`Store::log_drafted_call`] after checking the form against this cache's
    /// disposition catalogue: the disposition must be one of it (`unknown disposition …`), one that
    /// requires a follow-up must have one, and a follow-up must fall after the call began. A refused form
    /// is [`StoreError::Invalid`] with a sentence for people, and nothing is written.
    pub fn wrap_up_call(&mut self, id: &Id, wrap: &WrapUp) -> Result<CallLog, StoreError> {
        let draft = self
            .call_draft(id)?
            .ok_or_else(|| StoreError::NotFound(format!("call draft {id}")))?;
        self.checked_disposition(&wrap.disposition, wrap.follow_up.is_some())?;
        if wrap
            .follow_up
            .as_ref()
            .is_some_and(|f| f.due_at <= draft.started_at)
        {
            return Err(StoreError::Invalid(
                "the follow-up must be after the call".to_owned(),
            ));
        }
        self.log_drafted_call(id, wrap)
    }

    /// The catalogue's disposition `code`, checked against the follow-up it needs: an empty catalogue
    /// (never synced), an unknown code (`unknown disposition …; one of: …`) and a missing follow-up the
    /// disposition requires are [`StoreError::Invalid`] with a sentence for people.
    pub fn checked_disposition(&self, code: &str, has_follow_up: bool) -> Result<Disposition, StoreError> {
        let catalogue = self.dispositions()?;
        if catalogue.is_empty() {
            return Err(StoreError::Invalid(
                "no disposition catalogue yet: sync once while online".to_owned(),
            ));
        }
        let Some(d) = catalogue.iter().find(|d| d.code == code) else {
            let codes: Vec<&str> = catalogue.iter().map(|d| d.code.as_str()).collect();
            return Err(StoreError::Invalid(format!(
                "unknown disposition {code:?}; one of: {}",
                codes.join(", ")
            )));
        };
        if d.requires_follow_up && !has_follow_up {
            return Err(StoreError::Invalid(format!(
                "\"{}\" needs a follow-up time",
                d.label
            )));
        }
        Ok(d.clone())
    }

    /// Logs the ended call `id` with the telecaller's `wrap`: the call log (the draft's id, times,
    /// provider id and quality figures) is recorded and queued as [`Store::log_call`] does, and the draft removed, in one
    /// transaction. A softphone call still going, or one without a lead, is refused and stays.
    ///
    /// A click-to-call is logged whether or not this device marked it ended (the wrap-up says it is
    /// over), on its own lead only, with no answer or end time and no talk time: the provider's report,
    /// merged on the server, fills those in (the server only fills what a log lacks).
    pub fn log_drafted_call(&mut self, id: &Id, wrap: &WrapUp) -> Result<CallLog, StoreError> {
        let draft = self
            .call_draft(id)?
            .ok_or_else(|| StoreError::NotFound(format!("call draft {id}")))?;
        let (answered_at, ended_at, duration_s) = match draft.via {
            CallVia::Softphone => {
                let Some(ended_at) = draft.ended_at else {
                    return Err(StoreError::Invalid(format!("call {id} is still going")));
                };
                (draft.answered_at, Some(ended_at), draft.talk_seconds())
            }
            CallVia::ClickToCall => {
                if wrap.lead_id.is_some_and(|l| Some(l) != draft.lead_id) {
                    return Err(StoreError::Invalid(format!(
                        "call {id} was placed to another lead; it is logged on its own lead"
                    )));
                }
                (None, None, 0)
            }
        };
        let lead_id = wrap.lead_id.or(draft.lead_id).ok_or_else(|| {
            StoreError::Invalid(format!("call {id} is with no lead: choose the lead to log it on"))
        })?;
        let me = self.me()?;
        let call = CallLog {
            id: draft.id,
            lead_id,
            telecaller_id: me.id,
            direction: draft.direction,
            started_at: draft.started_at,
            answered_at,
            ended_at,
            duration_s,
            disposition: wrap.disposition.clone(),
            outcome_tags: wrap.outcome_tags.clone(),
            notes: wrap.notes.clone(),
            follow_up: wrap.follow_up.clone(),
            recording_url: None,
            provider_call_id: draft.provider_call_id.clone(),
            device_id: draft.device_id.clone(),
            quality: draft.quality.clone(),
        };
        self.log_call_and(&call, |tx| {
            tx.execute("DELETE FROM call_drafts WHERE id = ?1", [id.to_string()])?;
            // The lead's new status goes with the call, as an edit of the lead (none when it is the same).
            if let Some(status) = wrap.lead_status
                && crate::local::listed_lead(tx, &lead_id)?.status != status
            {
                crate::local::edit_lead(
                    tx,
                    &lead_id,
                    &leadline_model::sync::LeadPatch {
                        status: Some(status),
                        ..Default::default()
                    },
                )?;
            }
            Ok(())
        })?;
        Ok(call)
    }
}
