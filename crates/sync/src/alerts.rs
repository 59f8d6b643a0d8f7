//! What the desk tells its user outside the window: the desktop notifications.
//!
//! [`Alerts`] decides, from what happened, what to say and when:
//! - leads newly assigned or transferred to this user (the engine's [`SyncEvent::LeadsAssigned`], which
//!   follows the server's real-time event);
//! - a follow-up of this user falling due, found by scanning the cache every [`FOLLOW_UP_SCAN`] (so it works
//!   offline) or told by the server's event socket — each (follow-up, due time) once;
//! - a missed call (an incoming call the caller gave up on, or that rang out);
//! - announcements, edits that lost to someone else's, changes the server refused, a session that ended.
//!
//! Do not disturb: while a call is on, nothing pops up; what came meanwhile is shown when the call ends
//! (a summary when there is a lot). A burst (a supervisor assigning fifty leads) is one notification.
//!
//! [`Notices`] runs it: it listens to a running [`Engine`], scans the follow-ups, and hands each
//! [`Alert`] to the sink the desktop gives (which shows it with the OS and opens the lead on a click).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use leadline_model::{Id, Lead, Timestamp};
use leadline_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::{Engine, SharedStore, SyncEvent};

/// How often the cache is scanned for follow-ups that fell due.
pub const FOLLOW_UP_SCAN: Duration = Duration::from_secs(20);

/// More alerts than this at once become one summary.
pub const BURST: usize = 3;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    LeadsAssigned,
    FollowUpDue,
    MissedCall,
    Announcement,
    Conflicts,
    Rejected,
    SessionEnded,
    /// Several alerts held during a call or arriving together.
    Summary,
}

/// One desktop notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub title: String,
    pub body: String,
    /// The lead a click on the notification opens.
    pub lead_id: Option<Id>,
    /// Stays on screen until dismissed (follow-ups due, missed calls).
    pub urgent: bool,
}

/// The decisions, without any timer or I/O of its own (see [`Notices`] for the running part).
#[derive(Debug, Default)]
pub struct Alerts {
    /// The signed-in user: only their follow-ups are announced.
    me: Option<Id>,
    on_call: bool,
    /// Calls not over yet, by call id: do not disturb while any is.
    live_calls: HashSet<String>,
    /// Missed calls already told, by call id (a call's end may be reported more than once).
    missed_told: HashSet<String>,
    held: Vec<Alert>,
    follow_ups_told: HashSet<(Id, Timestamp)>,
}

impl Alerts {
    pub fn new(me: Option<Id>) -> Self {
        Self {
            me,
            ..Self::default()
        }
    }

    /// Another user signed in (or nobody): forgets what was told to the previous one.
    pub fn set_user(&mut self, me: Option<Id>) {
        if self.me != me {
            *self = Self {
                on_call: self.on_call,
                live_calls: std::mem::take(&mut self.live_calls),
                ..Self::new(me)
            };
        }
    }

    /// Whether a call is on; when it ends, answers what was held back meanwhile.
    pub fn set_on_call(&mut self, on_call: bool) -> Vec<Alert> {
        self.on_call = on_call;
        if on_call {
            return Vec::new();
        }
        let held = std::mem::take(&mut self.held);
        collapse(held, "while you were on a call")
    }

    /// A call changed: do not disturb while any call is live; answers what was held when the last ends.
    pub fn call_changed(&mut self, call_id: &str, live: bool) -> Vec<Alert> {
        if live {
            self.live_calls.insert(call_id.to_owned());
        } else {
            self.live_calls.remove(call_id);
        }
        let on_call = !self.live_calls.is_empty();
        if on_call == self.on_call {
            return Vec::new();
        }
        self.set_on_call(on_call)
    }

    /// Alerts that are due now, or none while a call is on (they are held until it ends).
    fn deliver(&mut self, alerts: Vec<Alert>) -> Vec<Alert> {
        if self.on_call {
            self.held.extend(alerts);
            Vec::new()
        } else {
            alerts
        }
    }

    /// What the engine's event means to the user. `store` gives lead names.
    pub fn on_sync_event(&mut self, event: &SyncEvent, store: &Store) -> Vec<Alert> {
        let alerts = match event {
            SyncEvent::LeadsAssigned { leads } => assigned(leads),
            SyncEvent::FollowUpDue {
                follow_up_id,
                lead_id,
                due_at,
            } => {
                if self.follow_ups_told.insert((*follow_up_id, *due_at)) {
                    let lead = store.get_lead(lead_id).ok();
                    vec![follow_up_alert(*lead_id, lead.as_ref(), *due_at, None)]
                } else {
                    Vec::new()
                }
            }
            SyncEvent::Announcement { message, from_name } => vec![Alert {
                kind: AlertKind::Announcement,
                title: format!("Message from {from_name}"),
                body: message.clone(),
                lead_id: None,
                urgent: false,
            }],
            SyncEvent::Conflicts { conflict_ids } => vec![Alert {
                kind: AlertKind::Conflicts,
                title: plural(conflict_ids.len(), "edit needs", "edits need") + " your decision",
                body: "Someone else changed the same lead at the same time. Open Leadline to choose which \
                       version to keep."
                    .to_owned(),
                lead_id: None,
                urgent: false,
            }],
            SyncEvent::Rejected { changes } => vec![Alert {
                kind: AlertKind::Rejected,
                title: plural(changes.len(), "change was", "changes were") + " refused by the server",
                body: changes
                    .first()
                    .map(|(_, reason)| reason.clone())
                    .unwrap_or_default(),
                lead_id: None,
                urgent: false,
            }],
            SyncEvent::SessionEnded => vec![Alert {
                kind: AlertKind::SessionEnded,
                title: "Sign in again to sync".to_owned(),
                body: "Your session has ended. Calls you log are kept on this computer until you sign in."
                    .to_owned(),
                lead_id: None,
                urgent: true,
            }],
            SyncEvent::LeadsDropped { .. } | SyncEvent::TokensChanged => Vec::new(),
        };
        self.deliver(alerts)
    }

    /// An incoming call nobody answered: the caller's number and, when known, lead. Told once per call id.
    pub fn missed_call(
        &mut self,
        call_id: &str,
        number: &str,
        caller_name: Option<&str>,
        lead: Option<&Lead>,
    ) -> Vec<Alert> {
        if self.missed_told.len() > 1_000 {
            self.missed_told.clear();
        }
        if !self.missed_told.insert(call_id.to_owned()) {
            return Vec::new();
        }
        let who = match (lead, caller_name.filter(|n| !n.trim().is_empty())) {
            (Some(lead), _) => format!("{} ({})", lead.name, lead.phone),
            (None, Some(name)) => format!("{name} ({number})"),
            (None, None) => number.to_owned(),
        };
        let alert = Alert {
            kind: AlertKind::MissedCall,
            title: "Missed call".to_owned(),
            body: if lead.is_some() {
                format!("{who} called. Call back from Leadline.")
            } else {
                format!("{who} called; not one of your leads.")
            },
            lead_id: lead.map(|l| l.id),
            urgent: true,
        };
        self.deliver(vec![alert])
    }

    /// This user's open follow-ups due by `now` that were not announced yet. A backlog (the first scan of the
    /// morning) is one summary.
    pub fn follow_ups_due(&mut self, store: &Store, now: Timestamp) -> Result<Vec<Alert>, StoreError> {
        let Some(me) = self.me else {
            return Ok(Vec::new());
        };
        let due: Vec<_> = store
            .open_follow_ups()?
            .into_iter()
            .take_while(|f| f.due_at <= now)
            .filter(|f| f.assigned_to == me && !self.follow_ups_told.contains(&(f.id, f.due_at)))
            .collect();
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let mut alerts = Vec::with_capacity(due.len());
        for f in &due {
            self.follow_ups_told.insert((f.id, f.due_at));
            let lead = store.get_lead(&f.lead_id).ok();
            alerts.push(follow_up_alert(
                f.lead_id,
                lead.as_ref(),
                f.due_at,
                f.note.as_deref(),
            ));
        }
        let alerts = if alerts.len() > BURST {
            let first = alerts.first().and_then(|a| a.lead_id);
            vec![Alert {
                kind: AlertKind::FollowUpDue,
                title: format!("{} follow-ups are due", alerts.len()),
                body: alerts
                    .iter()
                    .take(5)
                    .map(|a| a.title.trim_start_matches("Call back ").to_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
                    + if alerts.len() > 5 { ", …" } else { "" },
                lead_id: first,
                urgent: true,
            }]
        } else {
            alerts
        };
        Ok(self.deliver(alerts))
    }
}

fn assigned(leads: &[Lead]) -> Vec<Alert> {
    match leads {
        [] => Vec::new(),
        [lead] => vec![Alert {
            kind: AlertKind::LeadsAssigned,
            title: "New lead assigned to you".to_owned(),
            body: lead_line(lead),
            lead_id: Some(lead.id),
            urgent: false,
        }],
        many => vec![Alert {
            kind: AlertKind::LeadsAssigned,
            title: format!("{} new leads assigned to you", many.len()),
            body: many
                .iter()
                .take(5)
                .map(|l| l.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
                + if many.len() > 5 { ", …" } else { "" },
            lead_id: many.first().map(|l| l.id),
            urgent: false,
        }],
    }
}

/// "Asha Verma · Jaipur · bridal necklace"
fn lead_line(lead: &Lead) -> String {
    let mut parts = vec![lead.name.clone()];
    parts.extend(lead.city.clone());
    parts.extend(lead.interest.clone());
    parts.join(" · ")
}

fn follow_up_alert(lead_id: Id, lead: Option<&Lead>, due_at: Timestamp, note: Option<&str>) -> Alert {
    let name = lead.map_or_else(|| "a lead".to_owned(), |l| l.name.clone());
    let when = due_at
        .with_timezone(&chrono::Local)
        .format("%-I:%M %p")
        .to_string();
    let body = match (note.map(str::trim).filter(|n| !n.is_empty()), lead) {
        (Some(note), _) => format!("Due {when}: {note}"),
        (None, Some(lead)) => format!("Due {when} · {}", lead.phone),
        (None, None) => format!("Due {when}"),
    };
    Alert {
        kind: AlertKind::FollowUpDue,
        title: format!("Call back {name}"),
        body,
        lead_id: Some(lead_id),
        urgent: true,
    }
}

/// `alerts` as they are, or one summary when there are more than [`BURST`].
fn collapse(alerts: Vec<Alert>, context: &str) -> Vec<Alert> {
    if alerts.len() <= BURST {
        return alerts;
    }
    let lead_id = alerts.iter().find_map(|a| a.lead_id);
    let urgent = alerts.iter().any(|a| a.urgent);
    let body = alerts
        .iter()
        .take(5)
        .map(|a| a.title.clone())
        .collect::<Vec<_>>()
        .join("; ");
    vec![Alert {
        kind: AlertKind::Summary,
        title: format!("{} notifications {context}", alerts.len()),
        body,
        lead_id,
        urgent,
    }]
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

type Sink = Arc<dyn Fn(Alert) + Send + Sync>;

/// [`Alerts`] at work: fed by a running engine, a follow-up scan and the desk's calls; every alert goes to
/// the sink. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Notices {
    alerts: Arc<Mutex<Alerts>>,
    store: SharedStore,
    sink: Sink,
}

impl std::fmt::Debug for Notices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notices").finish_non_exhaustive()
    }
}

impl Notices {
    pub fn new(store: SharedStore, sink: impl Fn(Alert) + Send + Sync + 'static) -> Self {
        Self {
            alerts: Arc::default(),
            store,
            sink: Arc::new(sink),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Alerts) -> R) -> R {
        f(&mut self.alerts.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn show(&self, alerts: Vec<Alert>) {
        for alert in alerts {
            tracing::info!(kind = ?alert.kind, title = %alert.title, "notification");
            (self.sink)(alert);
        }
    }

    /// Whose follow-ups to announce.
    pub fn set_user(&self, me: Option<Id>) {
        self.with(|a| a.set_user(me));
    }

    /// A call started or the last one ended (do not disturb in between).
    pub fn set_on_call(&self, on_call: bool) {
        let released = self.with(|a| a.set_on_call(on_call));
        self.show(released);
    }

    /// A call changed (see [`Alerts::call_changed`]).
    pub fn call_changed(&self, call_id: &str, live: bool) {
        let released = self.with(|a| a.call_changed(call_id, live));
        self.show(released);
    }

    pub fn missed_call(&self, call_id: &str, number: &str, caller_name: Option<&str>, lead: Option<&Lead>) {
        let alerts = self.with(|a| a.missed_call(call_id, number, caller_name, lead));
        self.show(alerts);
    }

    /// Scans the cache for follow-ups due now.
    pub async fn scan_follow_ups(&self) {
        let alerts = self.alerts.clone();
        let now = chrono::Utc::now();
        let found = self
            .store
            .run(move |store| {
                alerts
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .follow_ups_due(store, now)
            })
            .await;
        match found {
            Ok(alerts) => self.show(alerts),
            Err(e) => tracing::warn!(error = %e, "cannot scan the follow-ups"),
        }
    }

    /// Listens to `engine` and scans the follow-ups every [`FOLLOW_UP_SCAN`] until the engine stops or the
    /// task is aborted.
    pub fn watch(&self, engine: &Engine) -> JoinHandle<()> {
        let events = engine.subscribe();
        let notices = self.clone();
        tokio::spawn(async move { notices.run(events, FOLLOW_UP_SCAN).await })
    }

    async fn run(self, mut events: broadcast::Receiver<SyncEvent>, scan_every: Duration) {
        let mut scan = tokio::time::interval(scan_every);
        scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(event) => {
                        let alerts = self.alerts.clone();
                        let decided = self
                            .store
                            .run(move |store| {
                                Ok(alerts
                                    .lock()
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .on_sync_event(&event, store))
                            })
                            .await;
                        match decided {
                            Ok(alerts) => self.show(alerts),
                            Err(e) => tracing::warn!(error = %e, "cannot read the cache for a notification"),
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "notifications fell behind; some events were skipped");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = scan.tick() => self.scan_follow_ups().await,
            }
        }
    }
}
