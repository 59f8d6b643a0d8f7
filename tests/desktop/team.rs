//! End-to-end: the supervisor's Team tab, next to a telecaller's desk on the same server.
//!
//! While priya's app runs (it reports her presence), meera (a supervisor) starts her own app and opens the
//! Team tab: the live status shows priya available and a telecaller without a desktop offline; the team's
//! leads list every telecaller's leads; a CSV with one bad row (tests/fixtures/team-import.csv) is imported
//! and its report names that row; the imported lead is then in the team's list. Screenshots of the three go
//! to docs/screenshots/ (team-dashboard.png, team-leads.png, team-import.png).
//!
//! Then priya's app quits through its own exit path (SIGTERM, as when the desktop session ends; the same
//! path as the tray's Quit and closing the window): the server hears "offline" at once — long before its
//! 90-s presence timeout would say so — the run ends cleanly, and meera's dashboard shows priya offline.
//! (Ending a WebDriver session would not do: WebKitWebDriver kills the app outright.)

use std::path::Path;
use std::time::Duration;

use fantoccini::{Client, Locator};
use leadline_e2e::{DemoServer, workspace_root};

use crate::app::{App, Launch, app_pid, eventually, gone, shown, text_of, texts};
use crate::phone::{Step, click, err, reveal, screenshot};

/// The demo's supervisor, and the telecallers of her team by display name.
const SUPERVISOR: &str = "meera";
const TELECALLERS: [&str; 5] = [
    "Priya Sharma",
    "Arjun Nair",
    "Kavya Reddy",
    "Rohit Verma",
    "Divya Menon",
];

/// How soon after priya's app is asked to quit the server must count her offline (its own presence timeout
/// is 90 s; the app waits at most 0.8 s for the server on its way out).
const OFFLINE_WITHIN: Duration = Duration::from_secs(5);

/// `desk` is priya's running app, its data under `desk_home`; it is closed here, whatever happens.
pub async fn the_supervisor_watches_the_team(server: &DemoServer, desk: App, desk_home: &Path) -> Step {
    let home = tempfile::tempdir().map_err(err)?;
    let supervisor = App::launch(Launch {
        server_url: &server.url,
        home: home.path(),
        env: vec![("LEADLINE_USER", SUPERVISOR.to_owned())],
        bus: crate::app::Bus::None,
    })
    .await;
    let outcome = team_screens(&supervisor.client).await;
    let outcome = match outcome {
        Ok(()) => the_desk_quits(&supervisor.client, server, desk, desk_home).await,
        Err(e) => {
            let _ = desk.close().await;
            Err(e)
        }
    };
    let closed = supervisor.close().await;
    if outcome.is_err() {
        print_log_tail("the supervisor's app", home.path());
        print_log_tail("priya's app", desk_home);
    }
    outcome?;
    closed
}

/// The end of an app's log files under `home` (the app logs to its data folder, not to the test's output).
fn print_log_tail(whose: &str, home: &Path) {
    let Ok(entries) = std::fs::read_dir(home.join("app/logs")) else {
        eprintln!("--- {whose}: no logs");
        return;
    };
    let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    let text: String = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    let lines: Vec<&str> = text.lines().collect();
    eprintln!("--- the end of {whose}'s log:");
    for line in &lines[lines.len().saturating_sub(40)..] {
        eprintln!("{line}");
    }
}

async fn team_screens(client: &Client) -> Step {
    let user = eventually("the supervisor's name in the header", || async {
        text_of(client, "[data-testid=user-name]")
            .await
            .map(|t| t.filter(|t| !t.is_empty()))
    })
    .await;
    if !user.contains("Meera") {
        return Err(format!("the header should name meera, it shows {user:?}"));
    }

    // The dashboard: priya's desk reported her available; arjun has no desktop running.
    shown(client, "the Team tab", "[data-testid=tab-team]").await;
    click(client, "[data-testid=tab-team]").await?;
    let priya = eventually("priya available in the live status", || async {
        let text = text_of(client, "[data-testid=presence-priya]").await?;
        Ok(text.filter(|t| t.contains("Available")))
    })
    .await;
    if !priya.contains("Priya Sharma") {
        return Err(format!("priya's live status reads {priya:?}"));
    }
    let arjun = text_of(client, "[data-testid=presence-arjun]")
        .await
        .map_err(err)?
        .unwrap_or_default();
    if !arjun.contains("Offline") {
        return Err(format!("arjun runs no desktop, yet his status reads {arjun:?}"));
    }
    // The supervisor's own first pull (the whole team's leads) done, so the header is settled for the
    // screenshots.
    eventually("the supervisor's first sync", || async {
        let state = text_of(client, "[data-testid=sync-status]").await?;
        let count = text_of(client, "[data-testid=lead-count]").await?;
        Ok(match (state, count) {
            (Some(s), Some(c)) if s.contains("Online") && c.trim() != "0" => Some(()),
            _ => None,
        })
    })
    .await;
    let figures = texts(client, "[data-testid^=\"figures-\"]").await.map_err(err)?;
    if figures.len() != TELECALLERS.len() {
        return Err(format!("the team's figures list {figures:?}"));
    }
    screenshot(client, "team-dashboard.png").await?;

    // The team's leads: every telecaller's, not one person's.
    click(client, "[data-testid=team-tab-leads]").await?;
    shown(client, "the team's leads", "[data-testid=team-lead-row]").await;
    let assignees = eventually("the assignees' names", || async {
        let names = texts(client, "[data-testid=assignee-cell]").await?;
        // The names come with the team's members, which may answer after the leads.
        Ok((names.iter().any(|n| TELECALLERS.contains(&n.as_str()))).then_some(names))
    })
    .await;
    let mut distinct: Vec<&str> = assignees.iter().map(String::as_str).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if assignees.len() < 10 || distinct.len() < 2 {
        return Err(format!(
            "the team's list shows {} leads of {distinct:?}",
            assignees.len()
        ));
    }
    if let Some(stranger) = distinct
        .iter()
        .find(|n| !TELECALLERS.contains(n) && **n != "Nobody")
    {
        return Err(format!("a lead of {stranger:?}, not of the team, is listed"));
    }
    screenshot(client, "team-leads.png").await?;

    // A CSV import with one bad row: the report says which and why.
    click(client, "[data-testid=team-tab-import]").await?;
    let fixture = workspace_root().join("tests/fixtures/team-import.csv");
    let input = eventually("the import form", || async {
        Ok(client
            .find_all(Locator::Css("[data-testid=import-file]"))
            .await?
            .first()
            .cloned())
    })
    .await;
    input
        .send_keys(&fixture.display().to_string())
        .await
        .map_err(|e| format!("choose {}: {e}", fixture.display()))?;
    eventually("the import button to accept the file", || async {
        let button = client.find(Locator::Css("[data-testid=import-submit]")).await?;
        Ok(button.is_enabled().await?.then_some(()))
    })
    .await;
    // Pressed from the keyboard: WebKitWebDriver refuses a click on this button (ElementNotInteractable)
    // while the form's card scrolls sideways and its scrollbar runs across the button's foot.
    let submit = client
        .find(Locator::Css("[data-testid=import-submit]"))
        .await
        .map_err(err)?;
    reveal(client, &submit).await?;
    submit
        .send_keys("\u{E007}")
        .await
        .map_err(|e| format!("press Import: {e}"))?;
    eventually("the import's report", || async {
        let error = text_of(client, "[data-testid=import-error]").await?;
        let report = text_of(client, "[data-testid=import-summary]").await?;
        Ok(match (error, report) {
            (Some(e), _) => Some(Err(format!("the import failed: {e}"))),
            (None, Some(_)) => Some(Ok(())),
            _ => None,
        })
    })
    .await?;
    let summary = text_of(client, "[data-testid=import-summary]")
        .await
        .map_err(err)?
        .unwrap_or_default();
    if !summary.starts_with("Rows read: 3. New leads: 2;") || !summary.contains("rows with errors: 1.") {
        return Err(format!("the import's summary reads {summary:?}"));
    }
    let issues = texts(client, "[data-testid=import-issue]").await.map_err(err)?;
    if issues.len() != 1 {
        return Err(format!("the report lists {issues:?}, not the one bad row"));
    }
    // The fourth line of the file (the header is row 1): Harsha's phone 12345, not imported.
    let cells = texts(client, "[data-testid=import-issue] > *")
        .await
        .map_err(err)?;
    if cells.len() != 5
        || cells[..4] != ["4", "Not imported", "Phone", "12345"]
        || !cells[4].contains("not a valid phone number")
    {
        return Err(format!("the report's row reads {cells:?}"));
    }
    let table = client
        .find(Locator::Css("[data-testid=import-report]"))
        .await
        .map_err(err)?;
    reveal(client, &table).await?;
    screenshot(client, "team-import.png").await?;

    // The imported lead is one of the team's now.
    click(client, "[data-testid=team-tab-leads]").await?;
    let search = eventually("the team's search", || async {
        Ok(client
            .find_all(Locator::Css("[data-testid=team-search]"))
            .await?
            .first()
            .cloned())
    })
    .await;
    search.send_keys("Farida Contractor\u{E007}").await.map_err(err)?;
    eventually("the imported lead in the team's list", || async {
        let rows = texts(client, "[data-testid=team-lead-row] th").await?;
        Ok((rows == ["Farida Contractor"]).then_some(()))
    })
    .await;
    Ok(())
}

/// Priya's app quits through its exit path (SIGTERM, as when the desktop session ends, quits it like the
/// tray's Quit): the server counts her offline at once, and the supervisor's dashboard says so.
async fn the_desk_quits(client: &Client, server: &DemoServer, desk: App, desk_home: &Path) -> Step {
    let before = presence_of(server, "priya");
    if before.as_deref() != Some("available") {
        let _ = desk.close().await;
        return Err(format!("before quitting, the server has priya {before:?}"));
    }
    let quit = quit_app(server, desk_home).await;
    // The WebDriver session of an app that is gone: ending it may fail, and that is fine.
    let _ = desk.close().await;
    quit?;

    // The dashboard asks again when it is shown again.
    click(client, "[data-testid=team-tab-leads]").await?;
    click(client, "[data-testid=team-tab-dashboard]").await?;
    let priya = eventually("priya offline in the live status", || async {
        let text = text_of(client, "[data-testid=presence-priya]").await?;
        Ok(text.filter(|t| t.contains("Offline")))
    })
    .await;
    eprintln!("the supervisor sees {priya:?}");
    Ok(())
}

async fn quit_app(server: &DemoServer, desk_home: &Path) -> Step {
    let pid = app_pid(desk_home)?;
    let quit_at = tokio::time::Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM)
        .map_err(|e| format!("kill -TERM {pid}: {e}"))?;
    loop {
        let state = presence_of(server, "priya");
        if state.as_deref() == Some("offline") {
            break;
        }
        if quit_at.elapsed() > OFFLINE_WITHIN {
            return Err(format!(
                "{OFFLINE_WITHIN:?} after priya's app was asked to quit, the server still has her {state:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let offline_after = quit_at.elapsed();
    gone(pid, Duration::from_secs(10)).await?;
    eprintln!(
        "priya's app quit: the server had her offline after {offline_after:?}, the process was gone after {:?}",
        quit_at.elapsed()
    );
    // A clean end: the run marker is gone, so the next start shows no crash prompt.
    if desk_home.join("app/running").exists() {
        return Err("priya's app quit, but its run marker says it did not end cleanly".into());
    }
    Ok(())
}

/// The state the server keeps for `username`'s desktop (`None` before its first report).
fn presence_of(server: &DemoServer, username: &str) -> Option<String> {
    server
        .db()
        .query_row(
            "SELECT state FROM presence WHERE user_id = (SELECT id FROM users WHERE username = ?1)",
            [username],
            |r| r.get(0),
        )
        .ok()
}
