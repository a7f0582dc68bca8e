//! Scenario 5: TOTP per call, ours (`authn_core::totp`) beside the
//! reference crate `totp-rs`, same secret, same settings (SHA-1, 6 digits,
//! 30 s, a window of one step either side), in one run.
//!
//! Both are pure CPU work, so each contender runs a tight loop of
//! `ITERS` calls; rounds alternate between them and the medians are kept.

use std::hint::black_box;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use authn_core::totp::{self, TotpConfig};

use crate::Settings;
use crate::measure::median;
use crate::report::Section;

/// Alternating rounds per contender.
const ROUNDS: usize = 7;

/// Nanoseconds per call of `f`, over `iters` calls.
fn per_call_ns(iters: u32, mut f: impl FnMut()) -> f64 {
    let t0 = Instant::now();
    for _ in 0..iters {
        f();
    }
    t0.elapsed().as_nanos() as f64 / f64::from(iters)
}

/// Median ns per call of two contenders measured in alternating rounds.
fn side_by_side(iters: u32, mut ours: impl FnMut(), mut theirs: impl FnMut()) -> (f64, f64) {
    // warm both (caches, branch predictors, CPU frequency)
    per_call_ns(iters / 10 + 1, &mut ours);
    per_call_ns(iters / 10 + 1, &mut theirs);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        a.push(per_call_ns(iters, &mut ours));
        b.push(per_call_ns(iters, &mut theirs));
    }
    (median(a), median(b))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs the scenario.
pub async fn run(settings: &Settings) -> Vec<Section> {
    let iters: u32 = if settings.quick { 20_000 } else { 200_000 };
    let secret = totp::generate_secret(); // 20 random bytes, as enrolment makes
    let b32 = totp::encode_secret(&secret);
    let cfg = TotpConfig::default();
    let reference = totp_rs::Builder::new()
        .with_secret(secret.clone())
        .build()
        .expect("a valid totp-rs configuration");
    let t = now();
    let current = totp::code_at(&secret, t, &cfg).expect("code");
    let previous = totp::code_at(&secret, t - 30, &cfg).expect("code");
    // A code of no step in the window: every candidate step is computed.
    let wrong = (0..1_000_000u32)
        .map(|n| format!("{n:06}"))
        .find(|c| reference.check(c, t).is_none())
        .expect("some 6-digit code is wrong");
    assert_eq!(
        reference.generate(t).to_string(),
        current,
        "both implementations agree"
    );
    assert_eq!(reference.check(&previous, t), Some(t / 30 - 1));
    assert_eq!(
        totp::verify(&secret, &previous, t, &cfg).ok().flatten(),
        Some(t / 30 - 1)
    );

    let mut rows = Vec::new();
    let mut row = |what: &str, (ours, theirs): (f64, f64)| {
        rows.push(vec![
            what.to_owned(),
            format!("{ours:.0} ns"),
            format!("{theirs:.0} ns"),
            format!("{:.2}", ours / theirs),
        ]);
    };
    row(
        "code for a time (`code_at` / `generate`)",
        side_by_side(
            iters,
            || {
                black_box(totp::code_at(black_box(&secret), black_box(t), &cfg).ok());
            },
            || {
                black_box(reference.generate(black_box(t)));
            },
        ),
    );
    row(
        "`compute_totp(base32)` (decode + clock + code) / `from_base32` + `generate_current`",
        side_by_side(
            iters,
            || {
                black_box(totp::compute_totp(black_box(&b32)).ok());
            },
            || {
                let secret = totp_rs::Secret::try_from_base32(black_box(&b32)).expect("base32");
                let t = totp_rs::Builder::new()
                    .with_secret(secret)
                    .build()
                    .expect("totp");
                black_box(t.generate_current());
            },
        ),
    );
    row(
        "verify the current code (window +-1)",
        side_by_side(
            iters,
            || {
                black_box(totp::verify(&secret, black_box(&current), t, &cfg).ok());
            },
            || {
                black_box(reference.check(black_box(&current), t));
            },
        ),
    );
    row(
        "verify the previous step's code",
        side_by_side(
            iters,
            || {
                black_box(totp::verify(&secret, black_box(&previous), t, &cfg).ok());
            },
            || {
                black_box(reference.check(black_box(&previous), t));
            },
        ),
    );
    row(
        "verify a wrong code (every step of the window computed)",
        side_by_side(
            iters,
            || {
                black_box(totp::verify(&secret, black_box(&wrong), t, &cfg).ok());
            },
            || {
                black_box(reference.check(black_box(&wrong), t));
            },
        ),
    );

    vec![Section {
        title: "5. TOTP: authn_core::totp vs totp-rs".into(),
        method: format!(
            "Per call, single thread, median of {ROUNDS} alternating rounds of {iters} calls \
             each, same 20-byte secret and settings (SHA-1, 6 digits, 30 s, +-1 step). Our \
             `verify` compares every step of the window in constant time (it never stops at \
             the first match, so timing does not tell which step matched, and the latest \
             matching step wins); totp-rs stops at the first match. The `compute_totp` row \
             includes base32 decoding and reading the clock on both sides (totp-rs needs a \
             `Totp` built from the decoded secret)."
        ),
        columns: vec![
            "operation".into(),
            "authn".into(),
            "totp-rs".into(),
            "authn / totp-rs".into(),
        ],
        rows,
        checks: Vec::new(),
    }]
}
