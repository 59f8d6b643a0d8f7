//! The real desktop app under test: a private Xvfb display, `tauri-driver` (which starts WebKitWebDriver,
//! which starts `leadline-desktop` with auto sign-in from the environment), a WebDriver session on it, and
//! the polling helpers the tests read the window with.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use leadline_e2e::{Guard, built_binary, find_tool, free_port, wait_for_port};

/// How long the app may take to sign in, sync and show the list (a cold WebKit start under load is slow).
pub const READY_WITHIN: Duration = Duration::from_secs(120);

/// The notification daemon of GNOME (Debian's `notification-daemon`): it shows the notifications and sends
/// their clicks back.
const NOTIFICATION_DAEMON: &str = "/usr/lib/notification-daemon/notification-daemon";

/// The password that unlocks the test's own GNOME keyring.
const KEYRING_UNLOCK: &str = "leadline-e2e-unlock";

pub struct Launch<'a> {
    pub server_url: &'a str,
    /// Where the app keeps its cache, and the HOME of its keyring.
    pub home: &'a Path,
    /// More environment for the app.
    pub env: Vec<(&'static str, String)>,
    /// The D-Bus session the app runs on.
    pub bus: Bus,
}

/// The D-Bus session bus of a launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bus {
    /// None: the app finds no keyring and no notification service at all.
    None,
    /// A private session bus as on a desktop: an unlocked GNOME keyring (its Secret Service), the
    /// notification daemon, and `dbus-monitor` writing the notifications traffic to [`MONITOR_LOG`] under
    /// `home` (the bus address is in [`BUS_ADDRESS`]).
    Desktop,
    /// The same without a notification daemon, as on a bare window manager or a kiosk session.
    DesktopWithoutNotifications,
}

/// Under the launch's `home`: what `dbus-monitor` saw of the notifications.
pub const MONITOR_LOG: &str = "dbus-monitor.log";
/// Under the launch's `home`: the private session bus's address.
pub const BUS_ADDRESS: &str = "dbus-address";

/// The app and what it runs on; everything is stopped when this drops.
pub struct App {
    pub client: Client,
    /// The X display the app shows on (`:N`).
    pub display: String,
    _driver: Guard,
    _display: Guard,
}

impl App {
    pub async fn launch(opts: Launch<'_>) -> Self {
        let app_bin = built_binary("leadline-desktop", "leadline-desktop");
        let tauri_driver = find_tool("tauri-driver", "cargo install tauri-driver --locked");
        let webkit_driver = find_tool("WebKitWebDriver", "apt-get install webkit2gtk-driver");

        let (display, display_name) = leadline_e2e::xvfb();

        let port = free_port();
        let native_port = free_port();
        let driver_path = std::env::join_paths(
            std::iter::once(webkit_driver.parent().expect("a directory").to_owned()).chain(
                std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
            ),
        )
        .expect("PATH");
        let driver_args = format!(
            "'{}' --port {port} --native-port {native_port}",
            tauri_driver.display()
        );
        let mut command = if opts.bus != Bus::None {
            for (tool, package) in [
                ("/usr/bin/dbus-run-session", "dbus"),
                ("/usr/bin/dbus-monitor", "dbus"),
                ("/usr/bin/gnome-keyring-daemon", "gnome-keyring"),
                (NOTIFICATION_DAEMON, "notification-daemon"),
            ] {
                assert!(
                    Path::new(tool).exists(),
                    "{tool} is required: install the Debian package `{package}`"
                );
            }
            let home = opts.home.display();
            let daemon = if opts.bus == Bus::Desktop {
                format!("{NOTIFICATION_DAEMON} >/dev/null 2>&1 & ")
            } else {
                String::new()
            };
            let mut c = Command::new("dbus-run-session");
            c.args([
                "--",
                "sh",
                "-c",
                &format!(
                    "echo \"$DBUS_SESSION_BUS_ADDRESS\" > '{home}/{BUS_ADDRESS}'; \
                     echo {KEYRING_UNLOCK} | gnome-keyring-daemon --unlock >/dev/null 2>&1; \
                     dbus-monitor --session \"interface='org.freedesktop.Notifications'\" \"type='method_return'\" \
                       > '{home}/{MONITOR_LOG}' 2>&1 & \
                     {daemon}\
                     exec {driver_args}"
                ),
            ])
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("exec {driver_args}")])
                .env_remove("DBUS_SESSION_BUS_ADDRESS");
            c
        };
        command.env("PATH", driver_path);
        leadline_e2e::desktop_app_env(&mut command, &display_name, opts.home, opts.server_url);
        for (k, v) in &opts.env {
            command.env(k, v);
        }
        let driver = Guard::spawn("tauri-driver", &mut command);
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
        Self {
            client,
            display: display_name,
            _driver: driver,
            _display: display,
        }
    }

    /// Ends the WebDriver session (the app quits).
    pub async fn close(self) -> Result<(), String> {
        self.client.close().await.map_err(|e| e.to_string())
    }
}

/// The process id of the app whose data folder is under `home`, from its run marker.
pub fn app_pid(home: &Path) -> Result<i32, String> {
    let marker = std::fs::read_to_string(home.join("app/running")).map_err(|e| format!("run marker: {e}"))?;
    marker
        .lines()
        .find_map(|l| l.strip_prefix("pid="))
        .and_then(|pid| pid.trim().parse().ok())
        .ok_or_else(|| format!("no pid in the run marker {marker:?}"))
}

/// Waits until process `pid` is gone.
pub async fn gone(pid: i32, within: Duration) -> Result<(), String> {
    let proc = std::path::PathBuf::from(format!("/proc/{pid}"));
    let deadline = tokio::time::Instant::now() + within;
    while proc.exists() {
        if tokio::time::Instant::now() > deadline {
            return Err(format!("process {pid} still runs after {within:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

pub type Found<T> = Result<Option<T>, fantoccini::error::CmdError>;

/// Polls `check` until it returns `Some`, or fails with `what` after [`READY_WITHIN`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Found<T>>,
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

/// Waits until `css` finds an element (see [`eventually`]); `what` names it in the failure.
pub async fn shown(client: &Client, what: &str, css: &str) {
    eventually(what, || async {
        Ok(client.find_all(Locator::Css(css)).await?.first().map(|_| ()))
    })
    .await;
}

/// Waits until `css` finds no element (see [`eventually`]).
pub async fn vanished(client: &Client, what: &str, css: &str) {
    eventually(what, || async {
        Ok(client.find_all(Locator::Css(css)).await?.is_empty().then_some(()))
    })
    .await;
}

pub async fn texts(client: &Client, css: &str) -> Result<Vec<String>, fantoccini::error::CmdError> {
    let mut out = Vec::new();
    for element in client.find_all(Locator::Css(css)).await? {
        out.push(element.text().await?);
    }
    Ok(out)
}

pub async fn text_of(client: &Client, css: &str) -> Found<String> {
    Ok(match client.find_all(Locator::Css(css)).await?.first() {
        Some(element) => Some(element.text().await?),
        None => None,
    })
}

/// The value of `attr` on the first element `css` finds.
pub async fn attr_of(client: &Client, css: &str, attr: &str) -> Found<String> {
    Ok(match client.find_all(Locator::Css(css)).await?.first() {
        Some(element) => element.attr(attr).await?,
        None => None,
    })
}
