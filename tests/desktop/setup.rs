//! The first run of the app on a new desk: an empty profile and no server in the environment, so the app
//! opens on its setup. The server's address is typed and checked against the real demo server; the
//! microphone test hears the app's tone microphone (`LEADLINE_AUDIO=tone`); a real test notification
//! reaches the notification daemon on the test's D-Bus session (seen by `dbus-monitor`), which the setup
//! names; then the sign-in shows the checked server, and priya signs in. Screenshot: setup.png.

use std::time::Duration;

use fantoccini::{Client, Locator};
use leadline_e2e::{DEMO_PASSWORD, DEMO_USER, DemoServer};

use crate::app::{self, App, Launch, attr_of, eventually, shown, text_of};
use crate::phone::{click, screenshot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_desk_is_set_up_then_signs_in() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let server = DemoServer::start();
    let app = App::launch(Launch {
        server_url: &server.url,
        home: tmp.path(),
        env: first_start_env(tmp.path()),
        bus: crate::app::Bus::Desktop,
    })
    .await;
    let outcome = set_up(&app.client, &server.url, tmp.path()).await;
    let _ = app.close().await;
    outcome.unwrap_or_else(|e| panic!("{e}"));
}

/// A first start: no server, user or password from the environment (empty is unset for the app), the
/// tone as the microphone, and a config folder of its own under `home` (no provisioning file).
fn first_start_env(home: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("LEADLINE_SERVER_URL", String::new()),
        ("LEADLINE_USER", String::new()),
        ("LEADLINE_PASSWORD", String::new()),
        ("LEADLINE_AUDIO", "tone".into()),
        ("XDG_CONFIG_HOME", home.join("config").display().to_string()),
    ]
}

async fn type_in(client: &Client, css: &str, text: &str) -> Result<(), String> {
    let field = client
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("find {css}: {e}"))?;
    field.click().await.map_err(|e| format!("click {css}: {e}"))?;
    field
        .send_keys(text)
        .await
        .map_err(|e| format!("type into {css}: {e}"))
}

async fn set_up(client: &Client, url: &str, home: &std::path::Path) -> Result<(), String> {
    // The setup, not the sign-in, opens a new desk.
    shown(client, "the setup's server step", "[data-testid=setup-url]").await;
    if !client
        .find_all(Locator::Css("[data-testid=login-form]"))
        .await
        .map_err(|e| e.to_string())?
        .is_empty()
    {
        return Err("the sign-in showed on a desk never set up".into());
    }

    // A port nobody listens on first: refused, and the app says so.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        l.local_addr().map_err(|e| e.to_string())?.port()
    };
    type_in(
        client,
        "[data-testid=setup-url]",
        &format!("http://127.0.0.1:{closed}"),
    )
    .await?;
    click(client, "[data-testid=setup-check]").await?;
    let refused = eventually("the refused port's message", || async {
        text_of(client, "[data-testid=setup-server-problem]").await
    })
    .await;
    if !refused.contains(&format!("nothing listens on port {closed}")) {
        return Err(format!("a closed port reads {refused:?}"));
    }

    server_and_microphone(client, url, true).await?;

    // Notifications: a real one, through the desktop bus's notification daemon.
    click(client, "[data-testid=setup-notify]").await?;
    let service = eventually("the notification service's name", || async {
        text_of(client, "[data-testid=setup-notify-service]").await
    })
    .await;
    if !service.starts_with("Notifications on this computer are shown by ") || service.ends_with("by .") {
        return Err(format!("the notification check says {service:?}"));
    }
    let monitor = home.join(app::MONITOR_LOG);
    let mut seen = false;
    for _ in 0..40 {
        let log = std::fs::read_to_string(&monitor).unwrap_or_default();
        if log.contains("Leadline test notification") {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    if !seen {
        return Err("dbus-monitor saw no test notification".into());
    }
    click(client, "[data-testid=setup-notify-seen]").await?;
    click(client, "[data-testid=setup-finish]").await?;

    // The sign-in, on the server the setup checked.
    shown(client, "the sign-in after the setup", "[data-testid=login-form]").await;
    let filled = attr_of(client, "[data-testid=login-server]", "value")
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let filled = client
        .execute(
            "return document.querySelector('[data-testid=login-server]').value;",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?
        .as_str()
        .map(str::to_owned)
        .unwrap_or(filled);
    if filled != url {
        return Err(format!("the sign-in's server is {filled:?}, not {url:?}"));
    }
    type_in(client, "[data-testid=login-username]", DEMO_USER).await?;
    type_in(client, "[data-testid=login-password]", DEMO_PASSWORD).await?;
    client
        .find(Locator::Css("[data-testid=login-form] button[type=submit]"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    let user = eventually("the signed-in user's name", || async {
        text_of(client, "[data-testid=user-name]")
            .await
            .map(|t| t.filter(|t| !t.is_empty()))
    })
    .await;
    if !user.contains("Priya") {
        return Err(format!("signed in as {user:?}"));
    }
    Ok(())
}

/// The setup's first two steps: the server `url` (checked live as typed), then the microphone test hearing
/// the tone; `shot` saves setup.png on the way. Leaves the notifications step open.
async fn server_and_microphone(client: &Client, url: &str, shot: bool) -> Result<(), String> {
    // The demo server: checked live as typed.
    let field = client
        .find(Locator::Css("[data-testid=setup-url]"))
        .await
        .map_err(|e| e.to_string())?;
    field.clear().await.map_err(|e| e.to_string())?;
    type_in(client, "[data-testid=setup-url]", url).await?;
    let ok = eventually("the server check to pass", || async {
        text_of(client, "[data-testid=setup-server-ok]").await
    })
    .await;
    if !ok.contains("Leadline") || !ok.contains(url) {
        return Err(format!("the server check says {ok:?}"));
    }
    click(client, "[data-testid=setup-next]").await?;

    // The microphone: the tone is heard on the live meter.
    let heard = eventually("the microphone test to hear the tone", || async {
        let text = text_of(client, "[data-testid=setup-mic-result]").await?;
        Ok(text.filter(|t| t.contains("hears you")))
    })
    .await;
    let level = attr_of(client, "[data-testid=setup-meter]", "aria-valuenow")
        .await
        .map_err(|e| e.to_string())?
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    if level < 50 {
        return Err(format!("the meter shows {level} after {heard:?}"));
    }
    if shot {
        screenshot(client, "setup.png").await?;
    }
    click(client, "[data-testid=setup-next]").await?;

    Ok(())
}

/// A desk whose session has no notification service (a bare window manager, a kiosk): the setup's test
/// notification cannot be sent, the app says so and what to install (not the do-not-disturb advice for a
/// service that hides them), and the setup still finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_without_a_notification_service_is_told_how_to_get_one() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let server = DemoServer::start();
    let app = App::launch(Launch {
        server_url: &server.url,
        home: tmp.path(),
        env: first_start_env(tmp.path()),
        bus: crate::app::Bus::DesktopWithoutNotifications,
    })
    .await;
    let outcome = without_notifications(&app.client, &server.url).await;
    let _ = app.close().await;
    outcome.unwrap_or_else(|e| panic!("{e}"));
}

async fn without_notifications(client: &Client, url: &str) -> Result<(), String> {
    shown(client, "the setup's server step", "[data-testid=setup-url]").await;
    server_and_microphone(client, url, false).await?;
    click(client, "[data-testid=setup-notify]").await?;
    let said = eventually("the setup to say there is no notification service", || async {
        text_of(client, "[data-testid=setup-no-notifications]").await
    })
    .await;
    if !said.contains("No notification service answers") {
        return Err(format!("without a notification service the setup says {said:?}"));
    }
    let help = eventually("the help to get notifications", || async {
        text_of(client, "[data-testid=setup-notify-help]").await
    })
    .await;
    if !help.contains("notification-daemon") || help.contains("Do Not Disturb") {
        return Err(format!("the help reads {help:?}"));
    }
    if !client
        .find_all(Locator::Css("[data-testid=setup-notify-service]"))
        .await
        .map_err(|e| e.to_string())?
        .is_empty()
    {
        return Err("a notification service is named although none runs".into());
    }
    screenshot(client, "setup-no-notifications.png").await?;
    click(client, "[data-testid=setup-finish]").await?;
    shown(client, "the sign-in after the setup", "[data-testid=login-form]").await;
    Ok(())
}
