//! The desktop around the window: notifications (notify-rust), the tray icon, bringing the window forward.

use leadline_sync::Alert;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Emitter, Manager};

use crate::api::{AppStatus, Connection, OPEN_LEAD_EVENT, OpenLead};

/// Shows the window even when it was minimised, hidden or behind others.
pub fn bring_to_front(app: &AppHandle) {
    let Some(window) = app.webview_windows().into_values().next() else {
        return;
    };
    let shown = window
        .unminimize()
        .and_then(|()| window.show())
        .and_then(|()| window.set_focus());
    if let Err(e) = shown {
        tracing::warn!(error = %e, "cannot bring the window forward");
    }
    if let Err(e) = window.request_user_attention(Some(tauri::UserAttentionType::Critical)) {
        tracing::debug!(error = %e, "cannot ask for attention");
    }
}

/// Shows `alert` as a desktop notification. One about a lead has an "Open lead" action (the default one,
/// a click on the notification): it brings the window forward on that lead.
pub fn notify(app: &AppHandle, alert: Alert) {
    let app = app.clone();
    // Waiting for the click blocks; each notification waits on its own thread until clicked or closed.
    let spawned = std::thread::Builder::new()
        .name("notification".into())
        .spawn(move || show(&app, &alert));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot show a notification");
    }
}

fn show(app: &AppHandle, alert: &Alert) {
    let mut n = notify_rust::Notification::new();
    n.appname("Leadline")
        .summary(&alert.title)
        .body(&alert.body)
        .icon("call-start");
    if alert.lead_id.is_some() {
        n.action("default", "Open lead");
    }
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        use notify_rust::{Hint, Timeout, Urgency};
        n.hint(Hint::Category(category(alert.kind).into()))
            .hint(Hint::DesktopEntry("leadline".into()))
            .urgency(if alert.urgent {
                Urgency::Critical
            } else {
                Urgency::Normal
            });
        if alert.urgent {
            n.timeout(Timeout::Never);
        }
    }
    let handle = match n.show() {
        Ok(handle) => handle,
        Err(e) => {
            tracing::warn!(error = %e, title = %alert.title, "the notification could not be shown");
            return;
        }
    };
    let Some(lead_id) = alert.lead_id else {
        return;
    };
    #[cfg(all(unix, not(target_os = "macos")))]
    handle.wait_for_action(|action| {
        if action == "default" {
            tracing::info!(lead = %lead_id, "notification clicked");
            bring_to_front(app);
            if let Err(e) = app.emit(OPEN_LEAD_EVENT, OpenLead { lead_id }) {
                tracing::warn!(error = %e, "cannot open the lead of a notification");
            }
        }
    });
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        let _ = (handle, lead_id, app);
    }
}

/// The freedesktop category of a notification kind.
#[cfg(all(unix, not(target_os = "macos")))]
fn category(kind: leadline_sync::AlertKind) -> &'static str {
    use leadline_sync::AlertKind;
    match kind {
        AlertKind::MissedCall => "call.unanswered",
        AlertKind::LeadsAssigned | AlertKind::FollowUpDue | AlertKind::Summary => "x-leadline.lead",
        AlertKind::Announcement => "im.received",
        AlertKind::Conflicts | AlertKind::Rejected | AlertKind::SessionEnded => "x-leadline.sync",
    }
}

const TRAY_ID: &str = "leadline";

/// The tray icon: the status in its tooltip; a click shows the window; its menu opens the window, syncs
/// now, or quits. `None` where the desktop has no tray.
pub fn tray(app: &AppHandle) -> Option<TrayIcon> {
    let built = (|| -> tauri::Result<TrayIcon> {
        let open = MenuItem::with_id(app, "open", "Open Leadline", true, None::<&str>)?;
        let sync = MenuItem::with_id(app, "sync", "Sync now", true, None::<&str>)?;
        let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
        let menu = Menu::with_items(app, &[&open, &sync, &quit])?;
        let mut builder = TrayIconBuilder::with_id(TRAY_ID)
            .tooltip("Leadline")
            .menu(&menu)
            .show_menu_on_left_click(false)
            .on_menu_event(|app, event| match event.id().as_ref() {
                "open" => bring_to_front(app),
                "sync" => {
                    let app = app.clone();
                    tauri::async_runtime::spawn(async move {
                        let shell = app.state::<crate::Shell>();
                        if let Err(e) = shell.sync_now().await {
                            tracing::info!(error = %e.message, "sync from the tray");
                        }
                    });
                }
                "quit" => app.exit(0),
                _ => {}
            })
            .on_tray_icon_event(|tray, event| {
                if let TrayIconEvent::Click {
                    button: MouseButton::Left,
                    button_state: MouseButtonState::Up,
                    ..
                } = event
                {
                    bring_to_front(tray.app_handle());
                }
            });
        if let Some(icon) = app.default_window_icon() {
            builder = builder.icon(icon.clone());
        }
        builder.build(app)
    })();
    match built {
        Ok(tray) => Some(tray),
        Err(e) => {
            tracing::warn!(error = %e, "no tray icon");
            None
        }
    }
}

/// The status line of the tray: "Leadline — online · 3 to send · 1 call to log".
pub fn status_line(status: &AppStatus) -> String {
    let mut parts = vec![if !status.signed_in {
        "signed out".to_owned()
    } else if status.syncing {
        "syncing".to_owned()
    } else {
        match status.connection {
            Connection::Online => "online".to_owned(),
            Connection::Offline => "offline".to_owned(),
            Connection::Unknown => "connecting".to_owned(),
        }
    }];
    if status.pending > 0 {
        parts.push(format!("{} to send", status.pending));
    }
    if status.unlogged > 0 {
        parts.push(if status.unlogged == 1 {
            "1 call to log".to_owned()
        } else {
            format!("{} calls to log", status.unlogged)
        });
    }
    if status.conflicts > 0 {
        parts.push(format!("{} to resolve", status.conflicts));
    }
    format!("Leadline — {}", parts.join(" · "))
}

pub fn show_status(tray: &TrayIcon, status: &AppStatus) {
    if let Err(e) = tray.set_tooltip(Some(status_line(status))) {
        tracing::debug!(error = %e, "cannot update the tray");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> AppStatus {
        AppStatus {
            signed_in: true,
            user: None,
            server_url: None,
            lead_count: 10,
            last_sync_at: None,
            syncing: false,
            connection: Connection::Online,
            next_retry_at: None,
            last_error: None,
            pending: 0,
            rejected: 0,
            conflicts: 0,
            unlogged: 0,
        }
    }

    #[test]
    fn the_tray_line_says_the_connection_and_what_waits() {
        assert_eq!(status_line(&status()), "Leadline — online");
        let offline = AppStatus {
            connection: Connection::Offline,
            pending: 3,
            unlogged: 1,
            conflicts: 2,
            ..status()
        };
        assert_eq!(
            status_line(&offline),
            "Leadline — offline · 3 to send · 1 call to log · 2 to resolve"
        );
        let busy = AppStatus {
            syncing: true,
            unlogged: 4,
            ..status()
        };
        assert_eq!(status_line(&busy), "Leadline — syncing · 4 calls to log");
        let out = AppStatus {
            signed_in: false,
            ..status()
        };
        assert_eq!(status_line(&out), "Leadline — signed out");
    }
}
