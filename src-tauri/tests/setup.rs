//! The shell's first-run setup: when it shows, the provisioning file (found, locked, faulty), the result
//! kept in the cache with the phone defaults it brings, and the microphone test over the desk's own
//! source (the app's tone microphone is heard; a desk without one says so).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use leadline_desktop::Shell;
use leadline_desktop::setup::{FinishSetup, MicLevel, MicStart, SetupRuntime, SetupSources};
use leadline_model::setup::StepOutcome;
use leadline_phone::audio::{self, AudioPath, NullPlayback};
use leadline_phone::{DeskAudio, MemoryVault};

/// A desk whose microphone is the 440 Hz tone of `LEADLINE_AUDIO=tone`, or none.
fn shell(dir: &Path, microphone: bool) -> Shell {
    let provider = move || {
        Ok(AudioPath {
            capture: if microphone {
                audio::tone(440.0, 0.2)
            } else {
                audio::silence()
            },
            playback: Arc::new(NullPlayback),
        })
    };
    Shell::open_with(
        dir,
        DeskAudio::Provided {
            provider: Arc::new(provider),
            microphone,
        },
        Arc::new(MemoryVault::default()),
    )
}

/// Sources with no provisioning file anywhere (a private config folder; /etc/leadline is absent on the
/// machines the tests run on).
fn sources(home: &Path) -> SetupSources {
    SetupSources {
        provision_arg: None,
        xdg_config_home: Some(home.join("config")),
        home: Some(home.to_owned()),
        server_from_env: false,
    }
}

fn finish(url: &str) -> FinishSetup {
    FinishSetup {
        server_url: url.into(),
        allow_http: false,
        server_version: Some("0.1.0".into()),
        microphone: StepOutcome::Passed,
        input_device: Some("alsa:plughw:CARD=Headset,DEV=0".into()),
        output_device: None,
        notifications: StepOutcome::Failed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_desk_is_set_up_once_and_then_goes_to_the_sign_in() {
    assert!(
        !Path::new(leadline_model::setup::SYSTEM_PROVISIONING).exists(),
        "this machine has a desk provisioning file; the test expects none"
    );
    let dir = tempfile::tempdir().unwrap();
    let shell = shell(&dir.path().join("app"), true);
    let src = sources(dir.path());
    let state = shell.setup_state(&src).await.unwrap();
    assert!(
        state.needed && state.done.is_none() && state.server_url.is_none(),
        "{state:?}"
    );
    // The environment naming the server (demo runs, the end-to-end tests) skips the setup.
    let env = SetupSources {
        server_from_env: true,
        ..src.clone()
    };
    assert!(!shell.setup_state(&env).await.unwrap().needed);

    // Plain http to another computer is refused unless accepted.
    let refused = shell
        .finish_setup(&src, finish("http://192.168.1.10:8080"))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code,
        leadline_desktop::api::ErrorCode::InvalidInput,
        "{refused:?}"
    );
    assert!(
        shell.setup_state(&src).await.unwrap().needed,
        "a refused setup keeps nothing"
    );

    let state = shell
        .finish_setup(&src, finish("https://CRM.example.in/"))
        .await
        .unwrap();
    assert!(!state.needed);
    assert_eq!(state.server_url.as_deref(), Some("https://crm.example.in"));
    let done = state.done.unwrap();
    assert_eq!(
        (done.microphone, done.notifications),
        (StepOutcome::Passed, StepOutcome::Failed)
    );
    // The chosen microphone went to the phone settings.
    let settings = shell.phone_settings().await.unwrap().settings;
    assert_eq!(
        settings.input_device.as_deref(),
        Some("alsa:plughw:CARD=Headset,DEV=0")
    );

    // The next start (the same cache) goes straight to the sign-in.
    drop(shell);
    let again = self::shell(&dir.path().join("app"), true);
    let state = again.setup_state(&src).await.unwrap();
    assert!(!state.needed && state.server_url.as_deref() == Some("https://crm.example.in"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioning_file_locks_the_server_and_brings_its_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let shell = shell(&dir.path().join("app"), true);
    // The user's own file, in $XDG_CONFIG_HOME/leadline.
    let file = dir.path().join("config/leadline/provisioning.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        r#"{"version": 1, "server_url": "https://crm.bandra.example.in", "managed_by": "Bandra IT",
            "language": "hi", "team": "Bandra Showroom",
            "phone": {"sip_domain": "acme1.voip.exotel.com", "websocket_url": "wss://voip.exotel.in:443/wss"}}"#,
    )
    .unwrap();
    let src = sources(dir.path());
    let state = shell.setup_state(&src).await.unwrap();
    let provisioned = state.provisioned.clone().unwrap();
    assert_eq!(provisioned.file, file.display().to_string());
    assert_eq!(provisioned.settings.managed_by.as_deref(), Some("Bandra IT"));
    assert!(state.needed);
    assert_eq!(state.server_url.as_deref(), Some("https://crm.bandra.example.in"));

    // Whatever the window sends, the provisioned server is kept.
    let state = shell
        .finish_setup(&src, finish("https://elsewhere.example.in"))
        .await
        .unwrap();
    assert_eq!(state.done.unwrap().server_url, "https://crm.bandra.example.in");
    assert!(!state.needed);
    let settings = shell.phone_settings().await.unwrap().settings;
    assert_eq!(
        (settings.domain.as_str(), settings.ws_url.as_str()),
        ("acme1.voip.exotel.com", "wss://voip.exotel.in:443/wss")
    );

    // `--provision FILE` comes first; a faulty file says which field, and the setup still shows.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"version": 1, "server_url": "https://x.in", "sip": "y"}"#,
    )
    .unwrap();
    let fresh = self::shell(&dir.path().join("app2"), true);
    let with_bad = SetupSources {
        provision_arg: Some(bad.clone()),
        ..src.clone()
    };
    let state = fresh.setup_state(&with_bad).await.unwrap();
    let fault = state.provisioning_fault.unwrap();
    assert_eq!(fault.file, bad.display().to_string());
    assert!(fault.message.contains("unknown field `sip`"), "{fault:?}");
    assert!(state.provisioned.is_none() && state.needed);
    // A named file that is missing is a fault too (not silently the next one).
    let missing = SetupSources {
        provision_arg: Some(dir.path().join("nope.json")),
        ..src.clone()
    };
    let fault = fresh
        .setup_state(&missing)
        .await
        .unwrap()
        .provisioning_fault
        .unwrap();
    assert!(fault.message.contains("cannot be read"), "{fault:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_microphone_test_hears_the_tone_and_a_desk_without_a_microphone_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let shell = shell(&dir.path().join("app"), true);
    let runtime = SetupRuntime::new(sources(dir.path()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<MicLevel>();
    let started = runtime
        .start_mic_test(&shell, None, move |level| {
            let _ = tx.send(level);
        })
        .await;
    assert_eq!(started, MicStart::Started);
    let heard = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let level = rx.recv().await.unwrap();
            if level.heard {
                return level;
            }
        }
    })
    .await
    .expect("the tone is heard");
    assert!(heard.meter > 0.5 && heard.dbfs > -20.0, "{heard:?}");
    runtime.stop_mic_test().await;
    // Stopped: the readings end.
    tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while rx.recv().await.is_some() {}
    })
    .await
    .expect("no reading after the stop");

    let silent = self::shell(&dir.path().join("app2"), false);
    assert_eq!(
        runtime.start_mic_test(&silent, None, |_| {}).await,
        MicStart::NoMicrophone
    );
}
