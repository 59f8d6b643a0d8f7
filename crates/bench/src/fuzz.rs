//! `leadline-bench fuzz`: property-based fuzzing (proptest, stable toolchain) of every parser that takes
//! outside input. Each target generates valid samples (checked for round trips and read-back values),
//! mutates them structure-aware ([`mutate`]) and feeds raw bytes; a case must get an answer — a value or a
//! typed error — and never a panic. Panics are counted with the panic hook silenced (also those a parser
//! catches inside itself), property violations apart; the first failing input of a target is minimised by
//! proptest and printed. One JSON line per target, then the summary line; exit status 1 when anything
//! failed.
//!
//! The same target modules are included by the crates' property tests (`#[path]`), so CI runs every
//! property on a few thousand cases.

pub mod csv;
pub mod events;
pub mod exotel;
pub mod jwt;
pub mod mutate;
pub mod provisioning;
pub mod push;
pub mod sheets;
pub mod sip;

use std::cell::{Cell, RefCell};
use std::fmt::Debug;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use anyhow::{Result, bail};
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::json;

use crate::emit;

/// The targets, in the order they run.
pub const TARGETS: &[&str] = &[
    "sip",
    "csv",
    "sheets",
    "exotel",
    "jwt",
    "sync_push",
    "events",
    "provisioning",
];

pub struct Options {
    pub cases: u64,
    pub seed: u64,
    pub target: Option<String>,
}

thread_local! {
    static PANICS: Cell<u64> = const { Cell::new(0) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Silences panic messages and counts them instead (on this thread), with the first message kept.
fn install_counting_hook() {
    std::panic::set_hook(Box::new(|info| {
        PANICS.with(|p| p.set(p.get() + 1));
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info.location().map(|l| l.to_string()).unwrap_or_default();
        LAST_PANIC.with(|m| *m.borrow_mut() = Some(format!("{payload} at {at}")));
    }));
}

#[derive(Debug, Clone)]
enum Failure {
    Panic(String),
    Violation(String),
}

/// Runs one case: `None` when it passed.
fn run_case<T>(check: &mut dyn FnMut(&T) -> Result<(), String>, value: &T) -> Option<Failure> {
    let before = PANICS.with(Cell::get);
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| check(value)));
    let panicked = PANICS.with(Cell::get) != before;
    if panicked || outcome.is_err() {
        let message = LAST_PANIC.with(|m| m.borrow_mut().take()).unwrap_or_default();
        return Some(Failure::Panic(message));
    }
    match outcome {
        Ok(Err(why)) => Some(Failure::Violation(why)),
        _ => None,
    }
}

/// A 32-byte ChaCha seed from the run's seed and the target's name.
fn seed_bytes(seed: u64, name: &str) -> [u8; 32] {
    let mut x = seed
        ^ name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        // splitmix64
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}

struct Outcome {
    cases: u64,
    panics: u64,
    violations: u64,
}

/// Runs `cases` cases of one target and prints its line.
fn run_target<T: Debug>(
    name: &str,
    opts: &Options,
    strategy: BoxedStrategy<T>,
    mut check: impl FnMut(&T) -> Result<(), String>,
) -> Result<Outcome> {
    let config = Config {
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(opts.seed, name)),
    );
    let (mut panics, mut violations) = (0u64, 0u64);
    let mut first: Option<(Failure, String)> = None;
    let started = Instant::now();
    for _ in 0..opts.cases {
        let mut tree = strategy
            .new_tree(&mut runner)
            .map_err(|e| anyhow::anyhow!("{name}: cannot generate a case: {e}"))?;
        let value = tree.current();
        let Some(failure) = run_case(&mut check, &value) else {
            continue;
        };
        match failure {
            Failure::Panic(_) => panics += 1,
            Failure::Violation(_) => violations += 1,
        }
        if first.is_none() {
            first = Some(shrink(&mut tree, &mut check, failure));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let mut line = json!({
        "target": name,
        "cases": opts.cases,
        "panics": panics,
        "violations": violations,
        "secs": (secs * 100.0).round() / 100.0,
        "cases_per_sec": (opts.cases as f64 / secs.max(1e-9)).round(),
        "seed": opts.seed,
    });
    if let Some((failure, input)) = first {
        let (kind, why) = match failure {
            Failure::Panic(m) => ("panic", m),
            Failure::Violation(m) => ("violation", m),
        };
        line["first_failure"] = json!({"kind": kind, "message": why, "minimised_input": input});
    }
    emit(&line);
    Ok(Outcome {
        cases: opts.cases,
        panics,
        violations,
    })
}

/// Shrinks a failing case with proptest's value tree: simplify while it still fails, complicate back
/// when a simplification passes.
fn shrink<T: Debug, V: ValueTree<Value = T>>(
    tree: &mut V,
    check: &mut dyn FnMut(&T) -> Result<(), String>,
    failure: Failure,
) -> (Failure, String) {
    let mut last = (failure, format!("{:?}", tree.current()));
    let mut steps = 0;
    if !tree.simplify() {
        return last;
    }
    while steps < 4096 {
        steps += 1;
        let value = tree.current();
        match run_case(check, &value) {
            Some(f) => {
                last = (f, format!("{value:?}"));
                if !tree.simplify() {
                    break;
                }
            }
            None => {
                if !tree.complicate() {
                    break;
                }
            }
        }
    }
    last
}

pub fn run(opts: Options) -> Result<()> {
    if let Some(t) = &opts.target
        && !TARGETS.contains(&t.as_str())
    {
        bail!("unknown target {t:?}; targets: {}", TARGETS.join(", "));
    }
    install_counting_hook();
    let mut outcomes = Vec::new();
    for &name in TARGETS {
        if opts.target.as_deref().is_some_and(|t| t != name) {
            continue;
        }
        let outcome = match name {
            "sip" => run_target(name, &opts, sip::strategy(), sip::check)?,
            "csv" => run_target(name, &opts, csv::strategy(), csv::check)?,
            "sheets" => run_target(name, &opts, sheets::strategy(), sheets::check)?,
            "exotel" => run_target(name, &opts, exotel::strategy(), exotel::check)?,
            "jwt" => {
                let target = jwt::Target::new().map_err(anyhow::Error::msg)?;
                run_target(name, &opts, target.strategy(), |c| target.check(c))?
            }
            "events" => run_target(name, &opts, events::strategy(), events::check)?,
            "provisioning" => run_target(name, &opts, provisioning::strategy(), provisioning::check)?,
            "sync_push" => {
                let mut target = push::Target::new().map_err(anyhow::Error::msg)?;
                let strategy = target.strategy();
                run_target(name, &opts, strategy, |c| target.check(c))?
            }
            _ => continue,
        };
        outcomes.push(outcome);
    }
    let _ = std::panic::take_hook();
    let panics: u64 = outcomes.iter().map(|o| o.panics).sum();
    let violations: u64 = outcomes.iter().map(|o| o.violations).sum();
    emit(&json!({
        "bench": "fuzz",
        "targets": outcomes.len(),
        "cases_per_target_min": outcomes.iter().map(|o| o.cases).min().unwrap_or(0),
        "panics": panics,
        "violations": violations,
        "seed": opts.seed,
    }));
    if panics + violations > 0 {
        std::process::exit(1);
    }
    Ok(())
}
