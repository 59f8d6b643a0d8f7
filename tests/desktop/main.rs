//! End-to-end: the real desktop app, signed in to a real demo server, driven through WebDriver.
//!
//! Starts `leadline-server` on a demo data dir, Xvfb on a free display, and `tauri-driver` (which starts
//! WebKitWebDriver, which starts `leadline-desktop` with auto sign-in from the environment). Checks that the
//! lead list shows exactly priya's leads from the server's database, that search narrows it, and saves a
//! screenshot to docs/screenshots/lead-list.png. Then the supervisor's Team tab next to priya's desk
//! (tests/desktop/team.rs).
//!
//! Needs, built beforehand: `cargo build -p leadline-server -p leadline-desktop`; on PATH: Xvfb,
//! WebKitWebDriver (Debian: webkit2gtk-driver) and tauri-driver (`cargo install tauri-driver --locked`;
//! ~/.cargo/bin is searched too).
#![allow(clippy::unwrap_used)]

mod app;
mod phone;
mod setup;
mod team;
mod update;
mod workday;

use app::{App, Launch, eventually, shown, text_of, texts};
use fantoccini::{Client, Locator};
use leadline_e2e::{DEMO_USER, DemoServer};

/// Priya's leads in the server's database, and the name of one of them.
fn priyas_leads(server: &DemoServer) -> (u64, String) {
    let conn = server.db();
    let owner = "(SELECT id FROM users WHERE username = ?1)";
    let count: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM leads WHERE assigned_to = {owner}"),
            [DEMO_USER],
            |r| r.get(0),
        )
        .expect("count priya's leads");
    // The longest name is the most distinctive one to search for.
    let name: String = conn
        .query_row(
            &format!(
                "SELECT name FROM leads WHERE assigned_to = {owner} ORDER BY length(name) DESC, id LIMIT 1"
            ),
            [DEMO_USER],
            |r| r.get(0),
        )
        .expect("one of priya's leads");
    (u64::try_from(count).expect("a count is never negative"), name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_app_lists_and_searches_the_signed_in_users_leads() {
    let tmp = tempfile::tempdir().expect("temp dir");
    // The server, seeded with the demo data set.
    let server = DemoServer::start();
    let (expected, needle_name) = priyas_leads(&server);
    assert!(expected > 0, "the demo data set gives priya no leads");

    let app = App::launch(Launch {
        server_url: &server.url,
        home: tmp.path(),
        env: Vec::new(),
        bus: crate::app::Bus::None,
    })
    .await;
    let outcome = drive(&app.client, expected, &needle_name).await;
    // Then the app dies as in a power cut (SIGKILL): the next start says so and saves a report.
    let killed = kill_app(tmp.path());
    let _ = app.close().await;
    outcome.unwrap_or_else(|e| panic!("{e}"));
    killed.unwrap_or_else(|e| panic!("{e}"));

    let again = App::launch(Launch {
        server_url: &server.url,
        home: tmp.path(),
        env: Vec::new(),
        bus: crate::app::Bus::None,
    })
    .await;
    let outcome = after_the_crash(&again.client, tmp.path()).await;
    // Priya's desk runs again: her supervisor watches the team from another desktop, then priya quits
    // (tests/desktop/team.rs closes her app).
    let outcome = match outcome {
        Ok(()) => team::the_supervisor_watches_the_team(&server, again, tmp.path()).await,
        Err(e) => {
            let _ = again.close().await;
            Err(e)
        }
    };
    outcome.unwrap_or_else(|e| panic!("{e}"));
}

/// Kills the app whose run marker is under `home` with SIGKILL.
fn kill_app(home: &std::path::Path) -> Result<(), String> {
    let pid = app::app_pid(home)?;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL)
        .map_err(|e| format!("kill -KILL {pid}: {e}"))?;
    // Gone before the next start looks at the marker.
    let proc = std::path::PathBuf::from(format!("/proc/{pid}"));
    for _ in 0..100 {
        if !proc.exists() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(format!("process {pid} still runs after SIGKILL"))
}

/// The prompt after the crash: the report it saves holds the end of the killed run's log.
async fn after_the_crash(client: &Client, home: &std::path::Path) -> Result<(), String> {
    let text = eventually("the crash prompt", || async {
        text_of(client, "[data-testid=crash-prompt]").await
    })
    .await;
    if !text.contains("closed unexpectedly") || !text.contains("Your work is safe") {
        return Err(format!("the crash prompt says {text:?}"));
    }
    phone::screenshot(client, "crash-prompt.png").await?;
    phone::click(client, "[data-testid=crash-save]").await?;
    let path = eventually("the saved report's path", || async {
        text_of(client, "[data-testid=crash-report-path] code").await
    })
    .await;
    if !path.starts_with(&home.join("app/crash-reports").display().to_string()) {
        return Err(format!("the report went to {path:?}"));
    }
    let report = std::fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
    // The first run's log lines: its sign-in and sync.
    if !report.contains("did not end cleanly") || !report.contains("signed in") {
        return Err(format!("the report lacks the killed run's log:\n{report}"));
    }
    Ok(())
}

/// The checks, apart from setup, so the session is closed whatever they find.
async fn drive(client: &Client, expected: u64, needle_name: &str) -> Result<(), String> {
    // Signed in and synced: the header shows priya and the lead count of the server's database.
    let user = eventually("the signed-in user's name in the header", || async {
        text_of(client, "[data-testid=user-name]")
            .await
            .map(|t| t.filter(|t| !t.is_empty()))
    })
    .await;
    let shown_count = eventually("the lead count to reach the server's count", || async {
        let count = text_of(client, "[data-testid=lead-count]").await?;
        Ok(count.filter(|c| c.trim() == expected.to_string()))
    })
    .await;

    // The app opens on the day: today's figures and the queue, the demo's overdue follow-ups first.
    let first = eventually("the home screen's call queue", || async {
        let items = texts(client, "[data-testid=queue-item]").await?;
        Ok(items.into_iter().next())
    })
    .await;
    if !first.contains("Follow-up due") {
        return Err(format!(
            "the queue does not start with an overdue follow-up: {first:?}"
        ));
    }
    let calls = text_of(client, "[data-testid=tile-calls]")
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    if !calls.contains("Calls today") {
        return Err(format!("no calls tile: {calls:?}"));
    }
    phone::screenshot(client, "home.png").await?;

    // The follow-ups screen: the demo's overdue ones, grouped.
    phone::click(client, "[data-testid=tab-follow-ups]").await?;
    let overdue = eventually("the overdue follow-ups", || async {
        text_of(client, "[data-testid=follow-ups-overdue] h2").await
    })
    .await;
    if !overdue.starts_with("Overdue") {
        return Err(format!("the follow-ups screen shows {overdue:?}"));
    }
    phone::screenshot(client, "follow-ups.png").await?;
    client
        .find(Locator::Css("[data-testid=tab-leads]"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;

    // The list counts every lead of hers and draws the rows in view (it is virtual: not all 448).
    let listed = eventually("the list to count the server's leads", || async {
        let shown = text_of(client, "[data-testid=shown-count]").await?;
        Ok(shown.filter(|s| s.trim() == format!("{expected} leads")))
    })
    .await;
    let rows = client
        .find_all(Locator::Css("[data-testid=lead-row]"))
        .await
        .map_err(|e| e.to_string())?
        .len();
    eprintln!("user {user:?}, header count {shown_count}, list {listed:?}, rows drawn {rows}");
    if user.trim().is_empty() || !user.contains("Priya") {
        return Err(format!("the header should name priya, it shows {user:?}"));
    }
    if rows == 0 || rows as u64 >= expected {
        return Err(format!("the virtual list drew {rows} rows of {expected}"));
    }

    phone::screenshot(client, "lead-list.png").await?;

    // Search by the lead's full name: the list narrows to rows that all carry it, the lead among them.
    let search = client
        .find(Locator::Css("[data-testid=search]"))
        .await
        .map_err(|e| e.to_string())?;
    search.send_keys(needle_name).await.map_err(|e| e.to_string())?;
    let matched = eventually("the search to narrow the list", || async {
        let shown = text_of(client, "[data-testid=shown-count]").await?;
        Ok(shown.filter(|s| s.ends_with("leads match")))
    })
    .await;
    let found = texts(client, "[data-testid=lead-name]")
        .await
        .map_err(|e| e.to_string())?;
    if !found.iter().any(|n| n == needle_name) {
        return Err(format!(
            "searching {needle_name:?} listed {found:?}, without that lead"
        ));
    }
    if matched != format!("{} leads match", found.len()) || found.len() as u64 >= expected {
        return Err(format!(
            "the list says {matched:?} but shows {} rows",
            found.len()
        ));
    }

    // The lead in full: its pipeline, fields and call history (the demo logged calls on it, or it says
    // there are none), then closed again.
    for name in client
        .find_all(Locator::Css("[data-testid=lead-name]"))
        .await
        .map_err(|e| e.to_string())?
    {
        if name.text().await.map_err(|e| e.to_string())? == needle_name {
            name.click().await.map_err(|e| e.to_string())?;
            break;
        }
    }
    let opened = eventually("the lead's detail", || async {
        text_of(client, "[data-testid=lead-detail-name]").await
    })
    .await;
    if opened != needle_name {
        return Err(format!("clicking {needle_name:?} opened {opened:?}"));
    }
    eventually("the lead's call history", || async {
        let listed = client
            .find_all(Locator::Css("[data-testid=history-call]"))
            .await?;
        let empty = client
            .find_all(Locator::Css("[data-testid=history-empty]"))
            .await?;
        Ok((!listed.is_empty() || !empty.is_empty()).then_some(()))
    })
    .await;
    phone::screenshot(client, "lead-detail.png").await?;
    phone::click(client, "[data-testid=lead-detail-close]").await?;

    // A search that matches nothing says so instead of showing stale rows.
    search.clear().await.map_err(|e| e.to_string())?;
    search.send_keys("zzqxjv").await.map_err(|e| e.to_string())?;
    shown(client, "the empty search result", "[data-testid=lead-empty]").await;

    // Sync now: pulls again (nothing changed on the server), ends without an error, keeps the count.
    search.clear().await.map_err(|e| e.to_string())?;
    let button = client
        .find(Locator::Css("[data-testid=sync-now]"))
        .await
        .map_err(|e| e.to_string())?;
    button.click().await.map_err(|e| e.to_string())?;
    eventually("the sync to finish", || async {
        let idle = client
            .find(Locator::Css("[data-testid=sync-now]"))
            .await?
            .is_enabled()
            .await?;
        let count = text_of(client, "[data-testid=lead-count]").await?;
        Ok((idle && count.as_deref() == Some(expected.to_string().as_str())).then_some(()))
    })
    .await;
    let alerts = texts(client, "[role=alert]").await.map_err(|e| e.to_string())?;
    if !alerts.is_empty() {
        return Err(format!("Sync now showed an error: {alerts:?}"));
    }
    Ok(())
}
