//! End-to-end, after the phone test's calls: the telecaller keeps working with the server down, and hears
//! of a new lead from a desktop notification.
//!
//! - A signed update is published while the wrap-up form of the call just taken is open: the banner asks
//!   (one change waiting: sync first / update anyway) instead of offering a restart. The server stops; the
//!   form is saved anyway: the header says offline with one change to send, and the banner still asks. The server comes back; the app sends the call by itself (no click) and both
//!   calls of the session are on the server.
//! - A supervisor (meera) assigns a lead to priya through the API; the app raises a desktop notification,
//!   seen on the private D-Bus session by `dbus-monitor` as the `Notify` call the notification daemon
//!   answered. Its click (the daemon's `ActionInvoked` signal) brings the lead's card up in the window.

use std::path::Path;
use std::time::Duration;

use fantoccini::{Client, Locator};
use leadline_e2e::{DEMO_PASSWORD, DEMO_USER, DemoServer, built_binary, http};

use crate::app::{App, BUS_ADDRESS, MONITOR_LOG, eventually, text_of};
use crate::phone::{Step, click, err, screenshot};

pub async fn offline_and_back_then_notified(
    client: &Client,
    server: &mut DemoServer,
    lead_id: &str,
    home: &Path,
    release: &crate::update::Release,
) -> Step {
    // A signed release is published while the telecaller works (tests/desktop/update.rs). The call just
    // taken is not logged yet (its wrap-up form is open): the app does not offer a restart, it asks.
    release.publish("99.0.0")?;
    crate::update::asks_about_the_waiting_change(client, "99.0.0").await?;
    // The server goes away while the form of the lead's call-back is open.
    server.stop();
    eventually("the wrap-up form of the incoming call", || async {
        text_of(client, "[data-testid=wrapup]").await
    })
    .await;
    let body = client.find(Locator::Css("body")).await.map_err(err)?;
    // 5: purchased / order placed (needs no follow-up).
    body.send_keys("5").await.map_err(err)?;
    click(client, "[data-testid=wrapup-save]").await?;
    eventually("the form to close, saved offline", || async {
        let error = text_of(client, "[data-testid=wrapup-error]").await?;
        let open = client.find_all(Locator::Css("[data-testid=wrapup]")).await?.len();
        Ok(match (error, open) {
            (Some(e), _) => Some(Err(format!("the offline wrap-up was refused: {e}"))),
            (None, 0) => Some(Ok(())),
            _ => None,
        })
    })
    .await?;
    eventually("the header to say offline, one change to send", || async {
        let state = text_of(client, "[data-testid=sync-status]").await?;
        let pending = text_of(client, "[data-testid=pending-count]").await?;
        Ok(match (state, pending) {
            (Some(s), Some(p)) if s.contains("Offline") && p.contains('1') => Some(()),
            _ => None,
        })
    })
    .await;
    // Still asking: the call is logged now, but offline, and has not reached the server.
    crate::update::asks_about_the_waiting_change(client, "99.0.0").await?;
    screenshot(client, "offline.png").await?;
    if server_calls(server, lead_id, "converted") != 0 {
        return Err("the server has the call while it was stopped".into());
    }

    // Back: the engine retries by itself and the call goes up; nothing is clicked.
    server.restart();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while server_calls(server, lead_id, "converted") != 1 {
        if tokio::time::Instant::now() > deadline {
            return Err("the call logged offline never reached the server".into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if server_calls(server, lead_id, "visit_booked") != 1 {
        return Err("the call logged online is not on the server exactly once".into());
    }
    eventually("the header to say online, nothing to send", || async {
        let state = text_of(client, "[data-testid=sync-status]").await?;
        let pending = client
            .find_all(Locator::Css("[data-testid=pending-count]"))
            .await?
            .len();
        Ok(state.filter(|s| s.contains("Online") && pending == 0).map(|_| ()))
    })
    .await;
    // Sent: now the update is offered as a plain restart, until the telecaller puts it off.
    crate::update::offered_as_a_restart(client, "99.0.0").await?;
    screenshot(client, "update.png").await?;
    crate::update::put_off(client).await?;

    // A supervisor gives priya a lead: a desktop notification names it.
    let (new_id, new_name) = someone_elses_lead(server);
    let priya: String = server
        .db()
        .query_row("SELECT id FROM users WHERE username = ?1", [DEMO_USER], |r| {
            r.get(0)
        })
        .map_err(err)?;
    let meera = http::login(server.addr(), "meera", DEMO_PASSWORD);
    let assigned = http::request(
        server.addr(),
        "POST",
        "/api/v1/leads/assign",
        Some(&meera),
        Some(&serde_json::json!({"lead_ids": [new_id], "to": priya, "reason": "walk-in enquiry"})),
    )
    .map_err(err)?;
    if assigned.status != 200 {
        return Err(format!("assign: {} {}", assigned.status, assigned.body));
    }
    let log = home.join(MONITOR_LOG);
    let id = eventually("the desktop notification of the new lead", || async {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        Ok(notification_id(&text, "New lead assigned to you", &new_name))
    })
    .await;

    // The user clicks it: the daemon's signal, sent on the app's bus.
    let bus = std::fs::read_to_string(home.join(BUS_ADDRESS)).map_err(err)?;
    let sent = std::process::Command::new("dbus-send")
        .env("DBUS_SESSION_BUS_ADDRESS", bus.trim())
        .args([
            "--session",
            "--type=signal",
            "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications.ActionInvoked",
            &format!("uint32:{id}"),
            "string:default",
        ])
        .status()
        .map_err(err)?;
    if !sent.success() {
        return Err(format!("dbus-send: {sent}"));
    }
    let shown = eventually("the clicked lead's card", || async {
        text_of(client, "[data-testid=focused-lead-name]").await
    })
    .await;
    if shown != new_name {
        return Err(format!("the card shows {shown:?}, not the assigned {new_name:?}"));
    }
    screenshot(client, "notification-lead.png").await?;
    Ok(())
}

/// Starting Leadline again on the same desktop (the same session bus) opens no second app: the new process
/// hands over to the running one and exits, and the running one goes on.
pub async fn a_second_start_hands_over(app: &App, home: &Path) -> Step {
    let bus = std::fs::read_to_string(home.join(BUS_ADDRESS)).map_err(err)?;
    let mut second = std::process::Command::new(built_binary("leadline-desktop", "leadline-desktop"))
        .env("DBUS_SESSION_BUS_ADDRESS", bus.trim())
        .env("DISPLAY", &app.display)
        .env("HOME", home)
        .env("XDG_RUNTIME_DIR", home)
        .env("LEADLINE_DATA_DIR", home.join("app-second"))
        .env("NO_AT_BRIDGE", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(err)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = second.try_wait().map_err(err)? {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = second.kill();
            let _ = second.wait();
            return Err("a second Leadline kept running next to the first".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if !status.success() {
        return Err(format!("the second start ended with {status}"));
    }
    if home.join("app-second/leadline.sqlite3").exists() {
        return Err("the second start opened a cache of its own".into());
    }
    let user = text_of(&app.client, "[data-testid=user-name]")
        .await
        .map_err(err)?;
    if !user.is_some_and(|u| u.contains("Priya")) {
        return Err("the first app no longer answers".into());
    }
    Ok(())
}

/// How many of the lead's calls with `disposition` the server holds.
fn server_calls(server: &DemoServer, lead_id: &str, disposition: &str) -> i64 {
    server
        .db()
        .query_row(
            "SELECT count(*) FROM call_logs WHERE lead_id = ?1 AND disposition = ?2",
            [lead_id, disposition],
            |r| r.get(0),
        )
        .unwrap_or(-1)
}

/// A lead not assigned to priya: (id, name). Names are readable in the server's database.
fn someone_elses_lead(server: &DemoServer) -> (String, String) {
    server
        .db()
        .query_row(
            "SELECT id, name FROM leads
             WHERE assigned_to IS NOT (SELECT id FROM users WHERE username = ?1)
             ORDER BY length(name) DESC, id LIMIT 1",
            [DEMO_USER],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("a lead of someone else")
}

/// In `dbus-monitor` output: the id the daemon gave the `Notify` call whose summary is `summary` and whose
/// body mentions `needle` (its method return, matched by sender and serial).
fn notification_id(log: &str, summary: &str, needle: &str) -> Option<u32> {
    let blocks = split_messages(log);
    let (sender, serial) = blocks.iter().find_map(|b| {
        let head = b.first()?;
        if !head.starts_with("method call") || !head.contains("member=Notify") {
            return None;
        }
        let strings: Vec<&str> = b[1..]
            .iter()
            .filter_map(|l| l.trim().strip_prefix("string \"")?.strip_suffix('"'))
            .collect();
        // app name, icon, summary, body, then the actions.
        let (Some(s), Some(body)) = (strings.get(2), strings.get(3)) else {
            return None;
        };
        if *s == summary && body.contains(needle) {
            Some((field(head, "sender")?, field(head, "serial")?))
        } else {
            None
        }
    })?;
    blocks.iter().find_map(|b| {
        let head = b.first()?;
        let answers = head.starts_with("method return")
            && field(head, "destination")? == sender
            && field(head, "reply_serial")? == serial;
        if answers {
            b.get(1)?.trim().strip_prefix("uint32 ")?.parse().ok()
        } else {
            None
        }
    })
}

/// dbus-monitor prints each message as a header line and indented argument lines.
fn split_messages(log: &str) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    for line in log.lines() {
        if line.starts_with(' ') {
            if let Some(last) = out.last_mut() {
                last.push(line);
            }
        } else {
            out.push(vec![line]);
        }
    }
    out
}

/// `name=value` in a dbus-monitor header line.
fn field<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split([' ', ';'])
        .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
}

#[test]
fn a_notification_id_is_read_from_the_monitor() {
    let log = r#"method call time=1.5 sender=:1.9 -> destination=org.freedesktop.Notifications serial=7 path=/org/freedesktop/Notifications; interface=org.freedesktop.Notifications; member=Notify
   string "Leadline"
   uint32 0
   string "call-start"
   string "New lead assigned to you"
   string "Asha Verma · Jaipur"
   array [
      string "default"
      string "Open lead"
   ]
method return time=1.6 sender=:1.3 -> destination=:1.4 serial=12 reply_serial=7
   uint32 5
method return time=1.6 sender=:1.3 -> destination=:1.9 serial=13 reply_serial=7
   uint32 6
"#;
    assert_eq!(
        notification_id(log, "New lead assigned to you", "Asha Verma"),
        Some(6)
    );
    assert_eq!(notification_id(log, "New lead assigned to you", "Someone"), None);
    assert_eq!(notification_id(log, "Missed call", "Asha"), None);
}
