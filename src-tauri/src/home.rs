//! The home screen's command: today's figures, goals, charts and the call queue, all from the cache
//! (`Store::today_figures`, `today_breakdown`, `goal_for`, `next_leads`); the desk's preferences, the
//! screen it opens on, and the start-up time of each screen.

use std::sync::{Mutex, OnceLock};

use leadline_model::DeskScreen;
use leadline_store::{Clock, FiguresQuery, QueueQuery, QueueReason, StoreError};

use crate::api::{
    CommandError, DailyGoal, Dashboard, DispositionCount, ErrorCode, QueueItem, QueueWhy, ReadyScreen,
    StartupMark,
};
use crate::shell::{Shell, storage};

/// How many leads the home screen lines up.
pub const QUEUE_LENGTH: u32 = 8;

/// A lead called this recently waits before it is offered again.
pub const RECALL_AFTER_MINUTES: u32 = 30;

impl Shell {
    pub async fn dashboard(&self) -> Result<Dashboard, CommandError> {
        let store = self.shared_store()?.lock();
        let clock = Clock::system();
        let me = store.me().map_err(|e| match e {
            StoreError::NotSignedIn => CommandError::new(ErrorCode::NotSignedIn, "Sign in to see your day."),
            e => storage(e),
        })?;
        let figures = store
            .today_figures(
                &FiguresQuery {
                    user_id: Some(me.id),
                    ..FiguresQuery::default()
                },
                &clock,
            )
            .map_err(storage)?;
        let day = store.today_breakdown(Some(me.id), &clock).map_err(storage)?;
        let catalogue = store.dispositions().map_err(storage)?;
        let goal = store.goal_for(&me.id).map_err(storage)?.map(|g| DailyGoal {
            calls: g.daily_calls.max(0).unsigned_abs(),
            conversions: g.daily_conversions.max(0).unsigned_abs(),
        });
        let queue = store
            .next_leads(
                &QueueQuery {
                    assigned_to: Some(me.id),
                    skip_called_within_minutes: RECALL_AFTER_MINUTES,
                    limit: Some(QUEUE_LENGTH),
                    cursor: None,
                },
                &clock,
            )
            .map_err(storage)?;
        Ok(Dashboard {
            calls_made: figures.calls_made,
            connected: figures.connected,
            talk_time_s: figures.talk_time_s,
            conversions: figures.conversions,
            follow_ups_done: figures.follow_ups_done,
            follow_ups_due_today: figures.follow_ups_due_today,
            follow_ups_overdue: figures.follow_ups_overdue,
            goal,
            hourly: day.hourly,
            dispositions: day
                .dispositions
                .into_iter()
                .map(|(code, count)| DispositionCount {
                    label: catalogue
                        .iter()
                        .find(|d| d.code == code)
                        .map_or_else(|| code.clone(), |d| d.label.clone()),
                    code,
                    count,
                })
                .collect(),
            queue: queue
                .entries
                .into_iter()
                .map(|e| QueueItem {
                    why: match e.reason {
                        QueueReason::OverdueFollowUp => QueueWhy::OverdueFollowUp,
                        QueueReason::FollowUpToday => QueueWhy::FollowUpToday,
                        QueueReason::Hot => QueueWhy::Hot,
                        QueueReason::HighPriority => QueueWhy::HighPriority,
                        QueueReason::New => QueueWhy::New,
                    },
                    lead: e.lead,
                    follow_up_due_at: e.follow_up_due_at,
                })
                .collect(),
        })
    }
}

impl Shell {
    /// This desk's preferences (theme, start minimised).
    /// The screen is the one `--screen` named for this run, if it named one.
    pub async fn preferences(&self) -> Result<leadline_model::DeskPreferences, CommandError> {
        let mut preferences = self.shared_store()?.lock().preferences().map_err(storage)?;
        if let Some(screen) = OPEN_ON.get() {
            preferences.screen = *screen;
        }
        Ok(preferences)
    }

    pub async fn save_preferences(
        &self,
        preferences: leadline_model::DeskPreferences,
    ) -> Result<leadline_model::DeskPreferences, CommandError> {
        let mut store = self.shared_store()?.lock();
        store.set_preferences(&preferences).map_err(storage)?;
        store.preferences().map_err(storage)
    }

    /// Keeps the screen the user went to, so the next start opens on it; the other preferences stay.
    pub async fn remember_screen(&self, screen: DeskScreen) -> Result<(), CommandError> {
        let mut store = self.shared_store()?.lock();
        let mut preferences = store.preferences().map_err(storage)?;
        if preferences.screen != screen {
            preferences.screen = screen;
            store.set_preferences(&preferences).map_err(storage)?;
        }
        Ok(())
    }
}

/// The screen `--screen` named: this run opens on it, whichever screen was left last.
static OPEN_ON: OnceLock<DeskScreen> = OnceLock::new();

/// Reads `--screen=<today|leads|follow-ups>` (or `--screen <name>`) from the command line: a launcher's
/// "Leads" action opens the app on the lead list. An unknown name is logged and ignored.
pub fn open_on_from_args(args: impl IntoIterator<Item = String>) {
    match screen_arg(args) {
        Ok(Some(screen)) => {
            let _ = OPEN_ON.set(screen);
        }
        Ok(None) => {}
        Err(name) => tracing::warn!(screen = %name, "--screen names no screen (today, leads, follow-ups)"),
    }
}

/// The screen `--screen` names (the last one given), or the name it could not read.
fn screen_arg(args: impl IntoIterator<Item = String>) -> Result<Option<DeskScreen>, String> {
    let mut args = args.into_iter();
    let mut found = None;
    while let Some(arg) = args.next() {
        let name = match arg.strip_prefix("--screen") {
            Some("") => args.next().unwrap_or_default(),
            Some(rest) => match rest.strip_prefix('=') {
                Some(name) => name.to_owned(),
                None => continue,
            },
            None => continue,
        };
        let screen = serde_json::from_value::<DeskScreen>(serde_json::Value::String(name.clone()))
            .map_err(|_| name)?;
        found = Some(screen);
    }
    Ok(found)
}

/// The UI says a screen first showed its content and takes input: the start-up time goes to the log (once
/// per screen and run), where support reads it and `leadline-bench app` measures it. The UI's own start-up
/// marks come with the first screen; they are logged as one line, `name=ms …` in the page's time.
pub fn screen_ready(screen: ReadyScreen, marks: &[StartupMark]) {
    static TOLD: Mutex<Vec<ReadyScreen>> = Mutex::new(Vec::new());
    let mut told = TOLD.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if told.contains(&screen) {
        return;
    }
    told.push(screen);
    let since_start_ms = crate::runlog::since_start().as_secs_f64() * 1e3;
    if marks.is_empty() {
        tracing::info!(?screen, since_start_ms, "{SCREEN_READY}");
    } else {
        let ui = ui_marks(marks);
        tracing::info!(?screen, since_start_ms, ui, "{SCREEN_READY}");
    }
}

/// The UI's marks as `name=ms` pairs: at most 32, names cut to 32 characters of letters, digits and dashes
/// (they come from the web side and go to a log).
fn ui_marks(marks: &[StartupMark]) -> String {
    marks
        .iter()
        .take(32)
        .map(|m| {
            let name: String = m
                .name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .take(32)
                .collect();
            format!("{name}={:.0}", m.at_ms)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The log message of [`screen_ready`].
pub const SCREEN_READY: &str = "screen ready";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_marks_are_short_clean_pairs() {
        let mark = |name: &str, at_ms| StartupMark {
            name: name.to_owned(),
            at_ms,
        };
        let line = ui_marks(&[
            mark("script", 101.4),
            mark("page-came", 350.6),
            mark("x\ny=1 z", 2.0),
        ]);
        assert_eq!(line, "script=101 page-came=351 xy1z=2");
        let many: Vec<_> = (0..40).map(|i| mark(&"a".repeat(100), f64::from(i))).collect();
        let line = ui_marks(&many);
        assert_eq!(line.split(' ').count(), 32);
        assert!(line.split(' ').all(|pair| pair.len() <= 32 + 3), "{line}");
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn the_screen_argument_names_a_tab_in_either_form() {
        assert_eq!(screen_arg(args(&["--screen=leads"])), Ok(Some(DeskScreen::Leads)));
        assert_eq!(
            screen_arg(args(&["--minimised", "--screen", "follow-ups"])),
            Ok(Some(DeskScreen::FollowUps))
        );
        assert_eq!(screen_arg(args(&["--minimised"])), Ok(None));
        assert_eq!(screen_arg(args(&["--screens=leads"])), Ok(None));
        assert_eq!(screen_arg(args(&["--screen=inbox"])), Err("inbox".to_owned()));
        assert_eq!(screen_arg(args(&["--screen"])), Err(String::new()));
    }
}
