//! End-to-end: the softphone in the real desktop app. The app runs on a private D-Bus session with an
//! unlocked GNOME keyring (a desktop's Secret Service) under Xvfb; a real kamailio (WebSocket) sits in the
//! middle and a browser softphone (JsSIP in headless Chromium) registers as one of priya's leads, by the
//! lead's own number. Through the window only: the phone settings are filled in (the password lands in the
//! keyring and in no file), the phone registers, the lead is called from the lead list and the far end
//! hears the app's microphone (a 440 Hz tone, `LEADLINE_AUDIO=tone`) while the call bar shows the live
//! timer and quality; then the lead calls back and the incoming popup names them from the cache. Screenshots
//! of the call bar and the popup go to docs/screenshots/.

use std::path::Path;
use std::time::Duration;

use fantoccini::{Client, Locator};
use leadline_e2e::{DEMO_PASSWORD, DEMO_USER, DemoServer, http, workspace_root};
use serde_json::json;

use crate::app::{App, Launch, attr_of, eventually, shown, text_of, vanished};

#[path = "../../crates/phone/tests/support/mod.rs"]
#[allow(dead_code, clippy::all)]
mod support;

use support::farend::FarEnd;
use support::{DOMAIN, FAR_PASSWORD, Kamailio, KamailioOptions, PASSWORD, USER};

/// WebDriver key codes.
const CONTROL: char = '\u{E009}';
const BACKSPACE: char = '\u{E003}';

/// One of priya's open leads that may be called, with a number no other lead of hers has: (id, name, E.164
/// phone), read through the API (the server's database keeps phone numbers encrypted).
fn callable_lead(server: &DemoServer) -> (String, String, String) {
    let token = http::login(server.addr(), DEMO_USER, DEMO_PASSWORD);
    let page = http::request(
        server.addr(),
        "GET",
        "/api/v1/leads?limit=500",
        Some(&token),
        None,
    )
    .expect("list priya's leads");
    assert_eq!(page.status, 200, "{}", page.raw);
    let leads = page.body["leads"].as_array().cloned().unwrap_or_default();
    let phones: Vec<&str> = leads.iter().filter_map(|l| l["phone"].as_str()).collect();
    leads
        .iter()
        .filter(|l| {
            let status = l["status"].as_str().unwrap_or_default();
            !["do_not_call", "invalid", "converted", "not_interested"].contains(&status)
        })
        .filter_map(|l| {
            Some((
                l["id"].as_str()?.to_owned(),
                l["name"].as_str()?.to_owned(),
                l["phone"].as_str()?.to_owned(),
            ))
        })
        .filter(|(_, _, phone)| phones.iter().filter(|p| *p == phone).count() == 1)
        .max_by_key(|(_, name, _)| name.len())
        .expect("priya has a lead to call")
}

fn contains(dir: &Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() && !path.is_symlink() {
            contains(&path, needle)
        } else {
            std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_telecaller_sets_up_the_phone_calls_a_lead_and_takes_the_leads_call_in_the_window() {
    let tmp = tempfile::tempdir().expect("temp dir");
    // The server also hosts the desktop's signed updates (tests/desktop/update.rs).
    let release_work = tempfile::tempdir().expect("temp dir");
    let release = crate::update::Release::new(release_work.path());
    let mut server = DemoServer::start_with_updates(&release.dir);
    let (lead_id, lead_name, lead_phone) = callable_lead(&server);

    // The lead's phone is a browser softphone registered under the lead's number.
    let kam = Kamailio::start_with(KamailioOptions {
        far_user: lead_phone.clone(),
        ..KamailioOptions::default()
    })
    .await;
    let mut far = FarEnd::launch().await;
    far.register(&kam.ws_url(), &lead_phone, FAR_PASSWORD, true).await;

    let app = App::launch(Launch {
        server_url: &server.url,
        home: tmp.path(),
        env: [("LEADLINE_AUDIO", "tone".to_owned())]
            .into_iter()
            .chain(crate::update::app_env(&release))
            .collect(),
        bus: crate::app::Bus::Desktop,
    })
    .await;
    let outcome = drive(&app.client, &kam, &mut far, &lead_name).await;
    let outcome = match outcome {
        // The call logged in the wrap-up form reached the server, with its follow-up.
        Ok(()) => logged_on_server(&server, &lead_id).await,
        Err(e) => Err(e),
    };
    // Then the server goes down and comes back, and a supervisor assigns a lead (tests/desktop/workday.rs).
    let outcome = match outcome {
        Ok(()) => crate::workday::offline_and_back_then_notified(
            &app.client,
            &mut server,
            &lead_id,
            tmp.path(),
            &release,
        )
        .await
        .and(crate::workday::a_second_start_hands_over(&app, tmp.path()).await),
        Err(e) => Err(e),
    };
    let closed = app.close().await;
    far.quit().await;
    if let Err(e) = outcome {
        panic!("{e}\n--- kamailio ---\n{}", kam.log());
    }
    closed.expect("close the WebDriver session");
    assert!(
        !contains(tmp.path(), PASSWORD.as_bytes()),
        "the SIP password is in a plain file under the app's HOME"
    );
}

pub(crate) type Step = Result<(), String>;

pub(crate) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub(crate) async fn click(client: &Client, css: &str) -> Step {
    let element = client
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("find {css}: {e}"))?;
    reveal(client, &element).await?;
    element.click().await.map_err(|e| format!("click {css}: {e}"))
}

/// Scrolls `element` to the middle of its scroller: WebKitWebDriver does not reach an element below the
/// fold of a scrolling dialog by itself.
pub(crate) async fn reveal(client: &Client, element: &fantoccini::elements::Element) -> Step {
    let arg = serde_json::to_value(element).map_err(err)?;
    client
        .execute("arguments[0].scrollIntoView({block: 'center'});", vec![arg])
        .await
        .map(drop)
        .map_err(|e| format!("scroll into view: {e}"))
}

/// Replaces the text of a field the way a person does: select all, type over it.
async fn type_into(client: &Client, css: &str, text: &str) -> Step {
    let field = client
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("find {css}: {e}"))?;
    reveal(client, &field).await?;
    field.click().await.map_err(|e| format!("click {css}: {e}"))?;
    field
        .send_keys(&format!("{CONTROL}a{CONTROL}{BACKSPACE}{text}"))
        .await
        .map_err(|e| format!("type into {css}: {e}"))
}

pub(crate) async fn screenshot(client: &Client, name: &str) -> Step {
    // WebKitGTK (without compositing, as under Xvfb here) takes the shot at the page's next paint: of a page
    // that does not change, the shot waits for the next status event, up to a minute. A pixel all but
    // transparent, repainted every frame while the shot is taken, keeps the paints coming without
    // changing what shows.
    client
        .execute(
            "const d = document.createElement('div'); \
             d.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;pointer-events:none'; \
             document.body.appendChild(d); \
             let odd = false; \
             const paint = () => { \
               odd = !odd; \
               d.style.background = odd ? 'rgba(128,128,128,0.02)' : 'rgba(128,128,128,0.03)'; \
               if (d.isConnected) requestAnimationFrame(paint); \
             }; \
             paint(); \
             window.__leadlineE2ePaint = d;",
            vec![],
        )
        .await
        .map_err(|e| format!("before the screenshot: {e}"))?;
    let png = client.screenshot().await;
    client
        .execute("window.__leadlineE2ePaint?.remove();", vec![])
        .await
        .map_err(|e| format!("after the screenshot: {e}"))?;
    let png = png.map_err(|e| format!("screenshot: {e}"))?;
    let shot = workspace_root().join("docs/screenshots").join(name);
    std::fs::create_dir_all(shot.parent().expect("a folder")).map_err(|e| e.to_string())?;
    std::fs::write(&shot, &png).map_err(|e| format!("write {}: {e}", shot.display()))?;
    eprintln!("saved {}", shot.display());
    Ok(())
}

async fn drive(client: &Client, kam: &Kamailio, far: &mut FarEnd, lead_name: &str) -> Step {
    eventually("the home screen", || async {
        Ok(client
            .find_all(Locator::Css("[data-testid=tab-leads]"))
            .await?
            .first()
            .cloned())
    })
    .await
    .click()
    .await
    .map_err(err)?;
    shown(client, "the lead list", "[data-testid=lead-row]").await;
    let state = eventually("the phone's state", || async {
        attr_of(client, "[data-testid=phone-state]", "data-state")
            .await
            .map(|s| s.filter(|s| s != "unknown"))
    })
    .await;
    if state != "off" {
        return Err(format!("a new desk's phone should be off, it is {state:?}"));
    }

    // The phone settings, through the form.
    click(client, "[data-testid=phone-state]").await?;
    eventually("the phone settings form", || async {
        attr_of(client, "[data-testid=phone-username]", "value").await
    })
    .await;
    click(client, "[data-testid=phone-enabled]").await?;
    type_into(client, "[data-testid=phone-ws-url]", &kam.ws_url()).await?;
    type_into(client, "[data-testid=phone-domain]", DOMAIN).await?;
    type_into(client, "[data-testid=phone-username]", USER).await?;
    type_into(client, "[data-testid=phone-password]", PASSWORD).await?;
    // No STUN on a machine without the internet: the loopback candidates are enough.
    click(client, "[data-testid=phone-settings] details summary").await?;
    type_into(client, "[data-testid=phone-stun]", "").await?;
    click(client, "[data-testid=phone-save]").await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let state = attr_of(client, "[data-testid=phone-state]", "data-state")
            .await
            .map_err(err)?;
        let error = text_of(client, "[data-testid=phone-settings-error]")
            .await
            .map_err(err)?;
        if let Some(e) = error {
            return Err(format!("the settings were refused: {e}"));
        }
        if state.as_deref() == Some("ready") {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let title = attr_of(client, "[data-testid=phone-state]", "title")
                .await
                .map_err(err)?;
            let alerts = crate::app::texts(client, "[role=alert], [role=status]")
                .await
                .map_err(err)?;
            let dialog = text_of(client, "[data-testid=phone-settings]")
                .await
                .map_err(err)?;
            screenshot(client, "failed-phone-setup.png").await?;
            return Err(format!(
                "the phone did not register: state {state:?}, {title:?}, alerts {alerts:?}, dialog {dialog:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    if kam.contacts_of(USER).await.is_empty() {
        return Err("the app says ready but kamailio has no contact for it".into());
    }

    // Call the lead from the list.
    let search = client
        .find(Locator::Css("[data-testid=search]"))
        .await
        .map_err(err)?;
    search.send_keys(lead_name).await.map_err(err)?;
    let call_button = format!("button[aria-label=\"Call {lead_name}\"]");
    shown(client, "the lead's Call button", &call_button).await;
    click(client, &call_button).await?;
    far.expect("confirmed", Duration::from_secs(30)).await;
    eventually("the call bar to show the connected call", || async {
        let stage = attr_of(client, "[data-testid=active-call]", "data-stage").await?;
        let name = text_of(client, "[data-testid=call-name]").await?;
        Ok((stage.as_deref() == Some("connected") && name.as_deref() == Some(lead_name)).then_some(()))
    })
    .await;
    let quality = eventually("live call quality", || async {
        attr_of(client, "[data-testid=call-quality]", "title").await
    })
    .await;
    if !quality.contains("MOS") || !quality.contains("opus") {
        return Err(format!("the quality figures read {quality:?}"));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let timer = text_of(client, "[data-testid=call-timer]").await.map_err(err)?;
    if timer.as_deref().is_none_or(|t| t == "0:00") {
        return Err(format!("the call timer does not run: {timer:?}"));
    }
    let stats = far.stats().await;
    let heard = stats["dominantHz"].as_f64().unwrap_or(0.0);
    if (heard - 440.0).abs() > 40.0 || stats["packetsReceived"].as_u64().unwrap_or(0) < 50 {
        return Err(format!(
            "the lead did not hear the app's 440 Hz microphone: {stats}"
        ));
    }
    screenshot(client, "call.png").await?;
    click(client, "[data-testid=hang-up]").await?;
    let ended = far.expect("ended", Duration::from_secs(15)).await;
    if ended["originator"] != "remote" {
        return Err(format!("the far end saw {ended}"));
    }
    vanished(client, "the call bar to go", "[data-testid=active-call]").await;

    // The wrap-up form opens by itself on the call: key 2 (store visit booked), a note, tomorrow 11 am.
    let facts = eventually("the wrap-up form", || async {
        text_of(client, "[data-testid=wrapup]").await
    })
    .await;
    if !facts.contains(lead_name) {
        return Err(format!("the wrap-up form is not about the lead: {facts:?}"));
    }
    let body = client.find(Locator::Css("body")).await.map_err(err)?;
    body.send_keys("2").await.map_err(err)?;
    eventually("the disposition picked by its hotkey", || async {
        let checked = attr_of(client, "[data-testid=disposition-visit_booked]", "aria-checked").await?;
        Ok((checked.as_deref() == Some("true")).then_some(()))
    })
    .await;
    type_into(
        client,
        "[data-testid=wrapup-notes]",
        "Coming **Saturday** for the bridal set",
    )
    .await?;
    let pick = client
        .find(Locator::XPath("//button[normalize-space()='Tomorrow 11 am']"))
        .await
        .map_err(err)?;
    reveal(client, &pick).await?;
    pick.click()
        .await
        .map_err(|e| format!("click 'Tomorrow 11 am': {e}"))?;
    screenshot(client, "wrap-up.png").await?;
    click(client, "[data-testid=wrapup-save]").await?;
    eventually("the wrap-up form to close", || async {
        let error = text_of(client, "[data-testid=wrapup-error]").await?;
        let open = client.find_all(Locator::Css("[data-testid=wrapup]")).await?.len();
        Ok(match (error, open) {
            (Some(e), _) => Some(Err(format!("the wrap-up was refused: {e}"))),
            (None, 0) => Some(Ok(())),
            _ => None,
        })
    })
    .await?;

    // The lead calls back: the popup names them from the cache, and the call is answered from it.
    far.send(json!({"cmd": "call", "target": format!("sip:{USER}@{DOMAIN}")}))
        .await;
    let caller = eventually("the incoming-call popup", || async {
        text_of(client, "[data-testid=incoming-call]").await
    })
    .await;
    if !caller.contains(lead_name) {
        return Err(format!("the popup does not name the lead: {caller:?}"));
    }
    screenshot(client, "incoming-call.png").await?;
    click(client, "[data-testid=incoming-call] .btn-ok").await?;
    far.expect("confirmed", Duration::from_secs(30)).await;
    eventually("the answered call in the call bar", || async {
        let stage = attr_of(client, "[data-testid=active-call]", "data-stage").await?;
        Ok((stage.as_deref() == Some("connected")).then_some(()))
    })
    .await;
    far.send(json!({"cmd": "hangup"})).await;
    vanished(client, "the call to end", "[data-testid=active-call]").await;
    Ok(())
}

/// The call logged in the form is on the server (the app syncs right after the wrap-up), with the
/// disposition, the notes and a follow-up due tomorrow at 11.
async fn logged_on_server(server: &DemoServer, lead_id: &str) -> Step {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let found: Option<(String, Option<String>)> = server
            .db()
            .query_row(
                "SELECT disposition, follow_up_due_at FROM call_logs
                 WHERE lead_id = ?1 AND disposition = 'visit_booked' ORDER BY started_at DESC LIMIT 1",
                [lead_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok();
        if let Some((_, due)) = found {
            return match due {
                Some(due) if due.contains("T") => Ok(()),
                other => Err(format!("the logged call has no follow-up: {other:?}")),
            };
        }
        if tokio::time::Instant::now() > deadline {
            return Err("the call logged in the wrap-up form never reached the server".into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
