//! `leadline-bench phone`: Leadline's softphone against a browser softphone, through the same kamailio to
//! the same far end (JsSIP in headless Chromium, answering at once).
//!
//! * Call set-up: from the dial to the first RTP packet received, for Leadline (`UserAgentHandle::dial` →
//!   the media's first packet) and for a second browser softphone calling the same target (`ua.call` →
//!   its inbound-rtp statistics, polled every 2 ms). Calls alternate, so both see the same machine.
//! * Answered set-up: the same browser calls Leadline (answering at once, as in Exotel's agent flow),
//!   timed the same way at the browser, against its calls to the browser far end.
//! * One long call (60 s by default): Leadline's CPU time (user + system, this process) over the call's
//!   wall time as a percentage of one core, and its resident memory (the process's peak RSS, VmHWM).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use leadline_phone::audio::{self, AudioPath, Meter};
use leadline_phone::{PhoneEvent, UserAgent};
use serde_json::json;

use crate::stats::median;

#[path = "../../phone/tests/support/mod.rs"]
#[allow(dead_code, clippy::all)]
mod support;

use support::farend::FarEnd;
use support::{FAR_PASSWORD, FAR_USER, Kamailio, PASSWORD, THIRD_PASSWORD, THIRD_USER, USER};

fn emit(value: &serde_json::Value) {
    println!("{value}");
}

/// This process's CPU time (user + system).
fn cpu_time() -> Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("odd /proc/self/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the state field.
    let ticks: u64 =
        fields.get(11).context("utime")?.parse::<u64>()? + fields.get(12).context("stime")?.parse::<u64>()?;
    let per_second = 100; // USER_HZ on Linux
    Ok(Duration::from_millis(ticks * 1000 / per_second))
}

/// `VmRSS` and `VmHWM` of this process, in MiB.
fn memory_mib() -> Result<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| -> Result<f64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{name} in /proc/self/status"))?;
        let kib: f64 = line.split_whitespace().nth(1).context("value")?.parse()?;
        Ok(kib / 1024.0)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

pub async fn run(calls: u32, long_call_s: u64) -> Result<()> {
    let kam = Kamailio::start().await;
    let ws = kam.ws_url();
    let mut callee = FarEnd::launch().await;
    callee.register(&ws, FAR_USER, FAR_PASSWORD, true).await;
    let mut browser = FarEnd::launch().await;
    browser.register(&ws, USER, PASSWORD, false).await;

    let (rss_before, _) = memory_mib()?;
    // Leadline is the third account: the browser caller is the first, the browser far end the second.
    let mut cfg = support::config(&ws, THIRD_PASSWORD);
    cfg.username = THIRD_USER.into();
    cfg.auto_answer = true;
    cfg.media.bind_addrs = vec!["127.0.0.1:0".into()];
    let meter = Meter::new(Some(callee.tone_hz()));
    let speaker = meter.clone();
    let provider = move || {
        Ok(AudioPath {
            capture: audio::tone(440.0, 0.3),
            playback: Arc::new(speaker.clone()),
        })
    };
    let (phone, mut events) = UserAgent::start_with_audio(cfg, Arc::new(provider))?;
    loop {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await {
            Ok(Ok(PhoneEvent::Registered { .. })) => break,
            Ok(Ok(PhoneEvent::RegistrationFailed(e))) => bail!("Leadline could not register: {e}"),
            Ok(_) => {}
            Err(_) => bail!("Leadline did not register in 20 s"),
        }
    }
    let target = format!("sip:{FAR_USER}@{}", support::DOMAIN);
    let leadline_target = format!("sip:{THIRD_USER}@{}", support::DOMAIN);

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut answered = Vec::new();
    // Round 0 warms both up (page JIT, codec init) and is not counted.
    for round in 0..=calls {
        let started = Instant::now();
        let call = phone.dial(FAR_USER).await?;
        let first = tokio::time::timeout(Duration::from_secs(20), call.first_rtp())
            .await
            .context("Leadline: no RTP within 20 s")?;
        let leadline_ms = first.map(|at| at.duration_since(started).as_secs_f64() * 1000.0);
        callee.expect("confirmed", Duration::from_secs(10)).await;
        call.hang_up().await;
        call.ended().await;
        callee.expect("ended", Duration::from_secs(10)).await;

        browser.send(json!({"cmd": "call", "target": target})).await;
        let got = browser.expect("first_rtp", Duration::from_secs(20)).await;
        let browser_ms = got["ms"].as_f64().context("first_rtp without ms")?;
        callee.expect("confirmed", Duration::from_secs(10)).await;
        browser.send(json!({"cmd": "hangup"})).await;
        callee.expect("ended", Duration::from_secs(10)).await;
        browser.expect("ended", Duration::from_secs(10)).await;

        // The browser calls Leadline, which answers at once.
        browser
            .send(json!({"cmd": "call", "target": leadline_target}))
            .await;
        let got = browser.expect("first_rtp", Duration::from_secs(20)).await;
        let answer_ms = got["ms"].as_f64().context("first_rtp without ms")?;
        browser.send(json!({"cmd": "hangup"})).await;
        browser.expect("ended", Duration::from_secs(10)).await;

        let Some(leadline_ms) = leadline_ms else {
            bail!("Leadline's call had no media");
        };
        emit(&json!({
            "bench": "phone", "kind": "setup", "round": round, "warmup": round == 0,
            "leadline_ms": leadline_ms, "browser_ms": browser_ms, "browser_to_leadline_ms": answer_ms,
        }));
        if round > 0 {
            ours.push(leadline_ms);
            theirs.push(browser_ms);
            answered.push(answer_ms);
        }
    }

    // The long call: CPU and memory while talking.
    let call = phone.dial(FAR_USER).await?;
    if !call.connected().await {
        bail!("the long call did not connect: {:?}", call.info());
    }
    callee.expect("confirmed", Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (cpu0, wall0) = (cpu_time()?, Instant::now());
    let mut peak_rss: f64 = 0.0;
    let deadline = wall0 + Duration::from_secs(long_call_s);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        peak_rss = peak_rss.max(memory_mib()?.0);
    }
    let (cpu1, wall) = (cpu_time()?, wall0.elapsed());
    let cpu_percent = (cpu1 - cpu0).as_secs_f64() / wall.as_secs_f64() * 100.0;
    let media = call.info().media.context("no media figures on the long call")?;
    let heard = meter.reading();
    call.hang_up().await;
    call.ended().await;
    let (_, hwm) = memory_mib()?;
    emit(&json!({
        "bench": "phone", "kind": "long_call", "seconds": wall.as_secs_f64(),
        "cpu_percent_of_core": cpu_percent, "rss_mib_peak_during_call": peak_rss, "vm_hwm_mib": hwm,
        "rss_mib_before_phone": rss_before,
        "packets_sent": media.packets_sent, "packets_received": media.packets_received,
        "codec": format!("{:?}", media.send_codec), "mos": media.mos, "far_tone_share": heard.tone_share,
    }));
    phone.shutdown().await?;
    callee.quit().await;
    browser.quit().await;

    let leadline_setup = median(&mut ours);
    let browser_setup = median(&mut theirs);
    let answered_setup = median(&mut answered);
    emit(&json!({
        "bench": "phone",
        "calls": calls,
        "leadline_setup_ms": leadline_setup,
        "browser_setup_ms": browser_setup,
        "setup_ratio": leadline_setup / browser_setup,
        "leadline_answer_setup_ms": answered_setup,
        "answer_setup_ratio": answered_setup / browser_setup,
        "cpu_percent_of_core": cpu_percent,
        "rss_mib": peak_rss,
        "call_seconds": long_call_s,
    }));
    Ok(())
}
