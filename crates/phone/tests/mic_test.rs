//! The first-run setup's sound checks on the desk's phone: the microphone test over the desk's own source
//! (the app's tone microphone passes, a desk without a microphone says so) and the test tone played to the
//! desk's speaker (measured there as 440 Hz).
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadline_phone::audio::{self, AudioError, AudioPath, Direction, Meter};
use leadline_phone::{DeskAudio, DeskError, DeskPhone, MemoryVault};
use leadline_store::{Store, StoreKey};

/// A desk whose microphone is the 440 Hz tone (or nothing) and whose speaker is `meter`.
fn desk(dir: &std::path::Path, microphone: bool, meter: &Meter) -> DeskPhone {
    let key = StoreKey::from_hex(&"6b".repeat(32)).unwrap();
    let store = Arc::new(Mutex::new(Store::open(&dir.join("cache.sqlite3"), &key).unwrap()));
    let speaker = meter.clone();
    let provider = move || {
        Ok(AudioPath {
            capture: if microphone {
                audio::tone(440.0, 0.2)
            } else {
                audio::silence()
            },
            playback: Arc::new(speaker.clone()),
        })
    };
    DeskPhone::new(
        store,
        DeskAudio::Provided {
            provider: Arc::new(provider),
            microphone,
        },
        Arc::new(MemoryVault::default()),
    )
}

#[tokio::test]
async fn the_tone_microphone_passes_the_test_and_no_microphone_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let meter = Meter::new(Some(440.0));
    let phone = desk(dir.path(), true, &meter);
    let test = phone.mic_test(None).await.unwrap();
    let mut levels = test.levels();
    let heard = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            levels.changed().await.unwrap();
            let level = *levels.borrow_and_update();
            if level.heard {
                return level;
            }
        }
    })
    .await
    .expect("the tone is heard within 5 s");
    assert!(heard.dbfs > audio::SPEECH_DBFS && heard.meter > 0.5, "{heard:?}");

    let silent = desk(dir.path(), false, &meter);
    match silent.mic_test(None).await {
        Err(DeskError::Audio(AudioError::NoDevice {
            direction: Direction::Input,
        })) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_test_tone_reaches_the_speaker_as_440_hz() {
    let dir = tempfile::tempdir().unwrap();
    let meter = Meter::new(Some(440.0));
    let phone = desk(dir.path(), false, &meter);
    phone
        .play_test_tone(None, Duration::from_millis(600))
        .await
        .unwrap();
    let heard = meter.reading();
    assert!((28..=31).contains(&heard.frames), "{heard:?}");
    assert!(heard.tone_share.unwrap() > 0.9 && heard.peak > 0.2, "{heard:?}");
}
