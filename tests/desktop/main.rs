//! End-to-end: the real desktop app, signed in to a real demo server, driven through WebDriver.
//!
//! Starts `leadline-server` on a demo data dir, Xvfb on a free display, and `tauri-driver` (which starts
//! WebKitWebDriver, which starts `leadline-desktop` with auto sign-in from the environment). Checks that the
//! lead list shows exactly priya's leads from the server's database, that search narrows it, and saves a
//! screenshot to docs/screenshots/lead-list.png.
//!
//! Needs, built beforehand: `cargo build -p leadline-server -p leadline-desktop`; on PATH: Xvfb,
//! WebKitWebDriver (Debian: webkit2gtk-driver) and tauri-driver (`cargo install tauri-driver --locked`;
//! ~/.cargo/bin is searched too).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use leadline_e2e::{
    DEMO_PASSWORD, DEMO_USER, DemoServer, Guard, built_binary, find_tool, free_port, wait_for_port,
    workspace_root,
};

/// How long the app may take to sign in, sync and show the list (a cold WebKit start under load is slow).
const READY_WITHIN: Duration = Duration::from_secs(120);

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

/// Polls `check` until it returns `Some`, or fails with `what` after [`READY_WITHIN`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, fantoccini::error::CmdError>>,
{
    let deadline = tokio::time::Instant::now() + READY_WITHIN;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(value)) => return value,
            Ok(None) => {}
            Err(e) => last_error = Some(e.to_string()),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what} after {READY_WITHIN:?} (last WebDriver error: {last_error:?})"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn texts(client: &Client, css: &str) -> Result<Vec<String>, fantoccini::error::CmdError> {
    let mut out = Vec::new();
    for element in client.find_all(Locator::Css(css)).await? {
        out.push(element.text().await?);
    }
    Ok(out)
}

async fn text_of(client: &Client, css: &str) -> Result<Option<String>, fantoccini::error::CmdError> {
    Ok(match client.find_all(Locator::Css(css)).await?.first() {
        Some(element) => Some(element.text().await?),
        None => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_app_lists_and_searches_the_signed_in_users_leads() {
    let app_bin = built_binary("leadline-desktop", "leadline-desktop");
    let xvfb = find_tool("Xvfb", "apt-get install xvfb");
    let tauri_driver = find_tool("tauri-driver", "cargo install tauri-driver --locked");
    let webkit_driver = find_tool("WebKitWebDriver", "apt-get install webkit2gtk-driver");
    let tmp = tempfile::tempdir().expect("temp dir");

    // The server, seeded with the demo data set.
    let server = DemoServer::start();
    let (expected, needle_name) = priyas_leads(&server);
    assert!(expected > 0, "the demo data set gives priya no leads");

    // A private X server; -displayfd makes it pick a free display and tell us which.
    let mut display = Guard::spawn(
        "Xvfb",
        std::process::Command::new(&xvfb).args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ]),
    );
    let display_no = display
        .read_stdout_line_matching(Duration::from_secs(30), |line| {
            let n = line.trim();
            (!n.is_empty() && n.chars().all(|c| c.is_ascii_digit())).then(|| n.to_owned())
        })
        .expect("Xvfb printed its display number");

    // tauri-driver, which starts WebKitWebDriver, which starts the app with this environment.
    let port = free_port();
    let native_port = free_port();
    let driver_path = std::env::join_paths(
        std::iter::once(webkit_driver.parent().expect("a directory").to_owned()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ),
    )
    .expect("PATH");
    let _driver = Guard::spawn(
        "tauri-driver",
        std::process::Command::new(&tauri_driver)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .env("PATH", driver_path)
            .env("DISPLAY", format!(":{display_no}"))
            .env("LEADLINE_DATA_DIR", tmp.path().join("app"))
            .env("LEADLINE_SERVER_URL", &server.url)
            .env("LEADLINE_USER", DEMO_USER)
            .env("LEADLINE_PASSWORD", DEMO_PASSWORD)
            // No accessibility bus or GPU under Xvfb; keep WebKitGTK from looking for them.
            .env("NO_AT_BRIDGE", "1")
            .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env_remove("DBUS_SESSION_BUS_ADDRESS"),
    );
    wait_for_port(port, Duration::from_secs(30));
    // tauri-driver listens before the WebKitWebDriver it starts does; a session asked for in between is
    // refused ("Connection refused" from tauri-driver), so wait for both.
    wait_for_port(native_port, Duration::from_secs(30));

    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "wry".into());
    caps.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": app_bin.to_string_lossy() }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("start a WebDriver session with the app");

    let outcome = drive(&client, expected, &needle_name).await;
    let closed = client.close().await;
    outcome.unwrap_or_else(|e| panic!("{e}"));
    closed.expect("close the WebDriver session");
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
    let rows = eventually("the lead rows", || async {
        let rows = client
            .find_all(Locator::Css("[data-testid=lead-row]"))
            .await?
            .len();
        Ok((rows as u64 == expected).then_some(rows))
    })
    .await;
    eprintln!("user {user:?}, header count {shown_count}, rows {rows}");
    if user.trim().is_empty() || !user.contains("Priya") {
        return Err(format!("the header should name priya, it shows {user:?}"));
    }

    let names = texts(client, "[data-testid=lead-name]")
        .await
        .map_err(|e| e.to_string())?;
    if !names.iter().any(|n| n == needle_name) {
        return Err(format!(
            "{needle_name:?} is one of priya's leads but is not listed"
        ));
    }

    let png = client
        .screenshot()
        .await
        .map_err(|e| format!("screenshot: {e}"))?;
    let shot = workspace_root().join("docs/screenshots/lead-list.png");
    std::fs::create_dir_all(shot.parent().expect("a folder")).map_err(|e| e.to_string())?;
    std::fs::write(&shot, &png).map_err(|e| format!("write {}: {e}", shot.display()))?;
    eprintln!("saved {}", shot.display());

    // Search by the lead's full name: the list narrows to rows that all carry it, the lead among them.
    let search = client
        .find(Locator::Css("[data-testid=search]"))
        .await
        .map_err(|e| e.to_string())?;
    search.send_keys(needle_name).await.map_err(|e| e.to_string())?;
    let found = eventually("the search to narrow the list", || async {
        let names = texts(client, "[data-testid=lead-name]").await?;
        Ok((!names.is_empty() && (names.len() as u64) < expected).then_some(names))
    })
    .await;
    if !found.iter().any(|n| n == needle_name) {
        return Err(format!(
            "searching {needle_name:?} listed {found:?}, without that lead"
        ));
    }
    let subtitle = text_of(client, "[data-testid=shown-count]")
        .await
        .map_err(|e| e.to_string())?;
    let subtitle = subtitle.unwrap_or_default();
    if !subtitle.contains(&format!("{} of", found.len())) {
        return Err(format!(
            "the list says {subtitle:?} but shows {} rows",
            found.len()
        ));
    }

    // A search that matches nothing says so instead of showing stale rows.
    search.clear().await.map_err(|e| e.to_string())?;
    search.send_keys("zzqxjv").await.map_err(|e| e.to_string())?;
    eventually("the empty search result", || async {
        Ok(client
            .find_all(Locator::Css("[data-testid=lead-empty]"))
            .await?
            .first()
            .map(|_| ()))
    })
    .await;

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
