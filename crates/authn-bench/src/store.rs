//! Scenarios 1 and 4: session validation through the store API against the
//! raw lookup, growth from 10^4 to 10^6 sessions, and validation while
//! `cleanup_expired` deletes 10^6 expired sessions; on PostgreSQL and
//! SQLite.
//!
//! Each backend gets a fresh database, seeded with bulk SQL (10^4 users,
//! sessions spread over them, token hashes of deterministic tokens so the
//! benchmark knows every live token). Both contenders (the store handle and
//! a raw `sqlx` loop) run on their own pool of the same size on the same
//! database, in many short alternating rounds; the ratio is the median of
//! the rounds' ratios.

mod pg;
mod sqlite;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use authn_core::TokenHash;
use authn_core::store::{MaintenanceStore, SessionStore};

use crate::Settings;
use crate::measure::{RunStats, closed_loop, fmt_rate, fmt_us, histogram, median};
use crate::report::{Check, Section};
use crate::server::Db;

/// Connections in each pool (the store's and the raw loop's alike): enough
/// that 16 tasks never wait for one.
pub const POOL_SIZE: u32 = 16;
/// The namespace every session is seeded in.
pub const NAMESPACE: &str = "bench";
/// Users the sessions are spread over.
pub const USERS: u64 = 10_000;
/// Concurrency levels of scenario 1.
const TASKS: [usize; 3] = [1, 4, 16];
/// The concurrency whose p99 the growth and cleanup figures compare.
const GROWTH_TASKS: usize = 4;

/// The plaintext of live session `i` (its hash is what is stored).
pub fn live_token(i: u64) -> String {
    format!("bench-live-{i}")
}

/// The plaintext of expired session `i`.
pub fn expired_token(i: u64) -> String {
    format!("bench-expired-{i}")
}

/// A future of one operation, boxed so both contenders pay the same.
pub type OpFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One validation of the live session with the given index; panics when
/// it is not found valid (the benchmark would measure the wrong thing).
pub type Lookup = Arc<dyn Fn(usize) -> OpFuture + Send + Sync>;

/// The hashes of every live token the run seeds, by index.
pub type Keys = Arc<Vec<TokenHash>>;

/// Validation through the store API, as a library user calls it.
pub fn store_lookup<S>(store: S, keys: Keys) -> Lookup
where
    S: SessionStore + 'static,
{
    let store = Arc::new(store);
    Arc::new(move |k| {
        let store = store.clone();
        let keys = keys.clone();
        Box::pin(async move {
            let found = store
                .validate_session(&keys[k])
                .await
                .expect("validate_session");
            assert!(found.is_some(), "seeded session {k} is not valid");
        })
    })
}

/// What a backend gives the scenario: the store, the raw limit, seeding.
pub trait Backend {
    /// The store type.
    type Store: SessionStore + MaintenanceStore + Clone + 'static;
    /// Name in the report.
    fn name(&self) -> &'static str;
    /// The store handle, on the benchmark namespace.
    fn store(&self) -> Self::Store;
    /// The raw lookup loop's operation.
    fn raw_lookup(&self, keys: Keys) -> Lookup;
    /// How the raw limit is issued (for the method text).
    fn raw_description(&self) -> &'static str;
    /// A second, lower limit where the store's statement does more than a
    /// bare lookup (PostgreSQL: the join without row-level security), shown
    /// beside the target's ratio; `None` where the store's statement is
    /// the bare lookup already.
    fn bare_lookup(&self, _keys: Keys) -> Option<Lookup> {
        None
    }
    /// How the bare lookup is issued and why it differs (method text).
    fn bare_description(&self) -> Option<&'static str> {
        None
    }
    /// Seeds live sessions `from..to` (their tokens are [`live_token`]).
    fn seed_live(&self, from: u64, to: u64) -> impl Future<Output = ()>;
    /// Seeds `n` expired sessions (tokens [`expired_token`]).
    fn seed_expired(&self, n: u64) -> impl Future<Output = ()>;
    /// Brings the database to a steady state after seeding (statistics,
    /// checkpoint), as a running system would be.
    fn settle(&self) -> impl Future<Output = ()>;
    /// Closes the raw pool (its connections are not needed any more).
    fn close_raw(&self) -> impl Future<Output = ()>;
    /// Closes everything and removes the database.
    fn teardown(self) -> impl Future<Output = ()>;
}

/// Durations of one configuration.
#[derive(Clone, Copy)]
struct Timing {
    warmup: Duration,
    /// Rounds per contender: many short ones, so both see the same
    /// conditions of a noisy machine.
    rounds: usize,
    round: Duration,
}

impl Timing {
    /// Twice the rounds: a p99 ratio is noisier than a throughput ratio.
    fn for_growth(self) -> Self {
        Self {
            rounds: self.rounds * 2,
            ..self
        }
    }

    fn of(settings: &Settings) -> Self {
        if settings.quick {
            Self {
                warmup: Duration::from_millis(300),
                rounds: 4,
                round: Duration::from_millis(300),
            }
        } else {
            Self {
                warmup: Duration::from_secs(1),
                rounds: 8,
                round: Duration::from_millis(750),
            }
        }
    }
}

/// A 64-bit mix (splitmix64): cheap, stateless random picks, so each
/// (round, task, iteration) reads its own key and both contenders of a round
/// read the same keys.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Closed loop of `tasks` tasks doing `lookup` on random live sessions
/// among the first `live`.
async fn run_lookups(
    lookup: &Lookup,
    tasks: usize,
    live: u64,
    seed: u64,
    warmup: Duration,
    duration: Duration,
) -> RunStats {
    let lookup = lookup.clone();
    closed_loop(tasks, warmup, duration, move |task, i| {
        let k = mix(seed ^ ((task as u64) << 48) ^ i) % live;
        lookup(k as usize)
    })
    .await
}

/// Runs `lookup` in `tasks` closed loops, measuring from when `job` starts
/// until it ends; returns the figures, the job's time and its output.
async fn run_during<T: Send + 'static>(
    lookup: &Lookup,
    tasks: usize,
    live: u64,
    seed: u64,
    warmup: Duration,
    job: impl Future<Output = T> + Send + 'static,
) -> (RunStats, Duration, T) {
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::with_capacity(tasks);
    for task in 0..tasks {
        let (lookup, measuring, stop) = (lookup.clone(), measuring.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            let mut h = histogram();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let record = measuring.load(Ordering::Relaxed);
                let t0 = Instant::now();
                lookup((mix(seed ^ ((task as u64) << 48) ^ i) % live) as usize).await;
                i += 1;
                if record && !stop.load(Ordering::Relaxed) {
                    h.saturating_record(t0.elapsed().as_micros().max(1) as u64);
                }
            }
            h
        }));
    }
    tokio::time::sleep(warmup).await;
    measuring.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    let out = tokio::spawn(job).await.expect("job");
    let elapsed = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut all = histogram();
    for handle in handles {
        all.add(handle.await.expect("benchmark task"))
            .expect("same histogram bounds");
    }
    (RunStats::from_histogram(&all, elapsed), elapsed, out)
}

/// Medians of a contender's rounds.
#[derive(Clone, Copy, Debug)]
struct Medians {
    per_sec: f64,
    p50_us: f64,
    p99_us: f64,
}

impl Medians {
    fn of(runs: &[RunStats]) -> Self {
        Self {
            per_sec: median(runs.iter().map(|r| r.per_sec).collect()),
            p50_us: median(runs.iter().map(|r| r.p50_us).collect()),
            p99_us: median(runs.iter().map(|r| r.p99_us).collect()),
        }
    }
}

/// Store, raw and (where there is one) bare at one concurrency, side by
/// side: a warm-up of each, then rounds rotating which goes first. Returns
/// the medians of each and the medians of the per-round throughput ratios
/// store / raw and store / bare (the runs of a round are adjacent in time,
/// so they share the machine's state).
async fn side_by_side(
    store: &Lookup,
    raw: &Lookup,
    bare: Option<&Lookup>,
    tasks: usize,
    live: u64,
    timing: Timing,
) -> SideBySide {
    let mut contenders = vec![store, raw];
    contenders.extend(bare);
    for (i, c) in contenders.iter().enumerate() {
        run_lookups(c, tasks, live, 1 + i as u64, Duration::ZERO, timing.warmup).await;
    }
    let mut runs: Vec<Vec<_>> = vec![Vec::new(); contenders.len()];
    for round in 0..timing.rounds {
        // All contenders of a round read the same keys.
        let seed = mix(0xbe_u64 << 32 | round as u64 | (tasks as u64) << 8);
        for k in 0..contenders.len() {
            let i = (k + round) % contenders.len();
            let r = run_lookups(
                contenders[i],
                tasks,
                live,
                seed,
                Duration::ZERO,
                timing.round,
            )
            .await;
            runs[i].push(r);
        }
    }
    let ratio = |i: usize| {
        median(
            runs[0]
                .iter()
                .zip(&runs[i])
                .map(|(s, r)| s.per_sec / r.per_sec)
                .collect(),
        )
    };
    SideBySide {
        store: Medians::of(&runs[0]),
        raw: Medians::of(&runs[1]),
        store_raw: ratio(1),
        bare: runs.get(2).map(|b| (Medians::of(b), ratio(2))),
    }
}

/// What [`side_by_side`] measured.
struct SideBySide {
    store: Medians,
    raw: Medians,
    /// Median of the rounds' store / raw throughput ratios.
    store_raw: f64,
    /// The bare lookup's medians and store / bare, where there is one.
    bare: Option<(Medians, f64)>,
}

/// The same lookup on two databases (`live_a` and `live_b` sessions) at
/// [`GROWTH_TASKS`] tasks, in alternating rounds; returns the medians of
/// each and the median of the rounds' p99 ratios b / a.
async fn side_by_side_sizes(
    a: &Lookup,
    live_a: u64,
    b: &Lookup,
    live_b: u64,
    timing: Timing,
) -> (Medians, Medians, f64) {
    let tasks = GROWTH_TASKS;
    run_lookups(a, tasks, live_a, 4, Duration::ZERO, timing.warmup).await;
    run_lookups(b, tasks, live_b, 5, Duration::ZERO, timing.warmup).await;
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    for round in 0..timing.rounds {
        let seed = mix(0x9e_u64 << 32 | round as u64);
        let (x, y) = if round % 2 == 0 {
            let x = run_lookups(a, tasks, live_a, seed, Duration::ZERO, timing.round).await;
            (
                x,
                run_lookups(b, tasks, live_b, seed, Duration::ZERO, timing.round).await,
            )
        } else {
            let y = run_lookups(b, tasks, live_b, seed, Duration::ZERO, timing.round).await;
            (
                run_lookups(a, tasks, live_a, seed, Duration::ZERO, timing.round).await,
                y,
            )
        };
        ra.push(x);
        rb.push(y);
    }
    let ratios = ra
        .iter()
        .zip(&rb)
        .map(|(a, b)| b.p99_us / a.p99_us)
        .collect();
    (Medians::of(&ra), Medians::of(&rb), median(ratios))
}

/// `10^4`-style label of a power of ten.
fn pow10(n: u64) -> String {
    format!("10^{}", n.ilog10())
}

/// What one backend's run produced.
struct Outcome {
    validation: Section,
    growth_rows: Vec<Vec<String>>,
    growth_checks: Vec<Check>,
    cleanup_rows: Vec<Vec<String>>,
    cleanup_checks: Vec<Check>,
}

/// Scenario 1 at one size on one database: store and raw side by side at
/// each concurrency; returns the table rows and checks.
async fn validation<B: Backend>(
    backend: &B,
    size: u64,
    keys: &Keys,
    timing: Timing,
) -> (Vec<Vec<String>>, Vec<Check>) {
    let name = backend.name();
    let t0 = Instant::now();
    backend.seed_live(0, size).await;
    backend.settle().await;
    eprintln!(
        "authn-bench: store: {name}: {} live sessions seeded in {:.1} s",
        pow10(size),
        t0.elapsed().as_secs_f64()
    );
    let store_op = store_lookup(backend.store(), keys.clone());
    let raw_op = backend.raw_lookup(keys.clone());
    let bare_op = backend.bare_lookup(keys.clone());
    let (mut rows, mut checks) = (Vec::new(), Vec::new());
    for tasks in TASKS {
        let m = side_by_side(&store_op, &raw_op, bare_op.as_ref(), tasks, size, timing).await;
        let (s, r, ratio) = (&m.store, &m.raw, m.store_raw);
        eprintln!(
            "authn-bench: store: {name}: {} sessions, {tasks} tasks: store {} p99 {}, \
             raw {} p99 {}, ratio {ratio:.2}{}",
            pow10(size),
            fmt_rate(s.per_sec),
            fmt_us(s.p99_us),
            fmt_rate(r.per_sec),
            fmt_us(r.p99_us),
            m.bare.as_ref().map_or(String::new(), |(b, q)| format!(
                ", bare {} p99 {}, store / bare {q:.2}",
                fmt_rate(b.per_sec),
                fmt_us(b.p99_us)
            )),
        );
        let dash = || "—".to_owned();
        rows.push(vec![
            pow10(size),
            tasks.to_string(),
            fmt_rate(s.per_sec),
            fmt_us(s.p50_us),
            fmt_us(s.p99_us),
            fmt_rate(r.per_sec),
            fmt_us(r.p50_us),
            fmt_us(r.p99_us),
            format!("{ratio:.2}"),
            m.bare
                .as_ref()
                .map_or_else(dash, |(b, _)| fmt_rate(b.per_sec)),
            m.bare.as_ref().map_or_else(dash, |(b, _)| fmt_us(b.p99_us)),
            m.bare
                .as_ref()
                .map_or_else(dash, |(_, q)| format!("{q:.2}")),
        ]);
        checks.push(Check::at_least(
            format!(
                "{name}, {} sessions, {tasks} tasks: validation store / raw (ops/s)",
                pow10(size)
            ),
            ratio,
            0.8,
        ));
    }
    (rows, checks)
}

/// Everything on one backend, given a database for the small size and one
/// for the large size: scenario 1 on each, growth (the store on both,
/// side by side), cleanup on the large one.
async fn run_backend<B: Backend>(small: &B, big: &B, settings: &Settings, keys: &Keys) -> Outcome {
    let timing = Timing::of(settings);
    let name = big.name();
    let sizes: [u64; 2] = [10_000, if settings.quick { 100_000 } else { 1_000_000 }];
    let (mut rows, mut checks) = validation(small, sizes[0], keys, timing).await;
    small.close_raw().await;
    let (more_rows, more_checks) = validation(big, sizes[1], keys, timing).await;
    rows.extend(more_rows);
    checks.extend(more_checks);

    // Growth: the store on the small and on the large database in
    // alternating rounds, so both see the same state of the machine.
    let (lo, hi, growth) = side_by_side_sizes(
        &store_lookup(small.store(), keys.clone()),
        sizes[0],
        &store_lookup(big.store(), keys.clone()),
        sizes[1],
        timing.for_growth(),
    )
    .await;
    eprintln!(
        "authn-bench: store: {name}: growth: p99 {} with {}, {} with {} ({growth:.2})",
        fmt_us(lo.p99_us),
        pow10(sizes[0]),
        fmt_us(hi.p99_us),
        pow10(sizes[1])
    );
    let growth_rows = vec![vec![
        name.to_owned(),
        format!("{}, {}", fmt_rate(lo.per_sec), fmt_us(lo.p99_us)),
        format!("{}, {}", fmt_rate(hi.per_sec), fmt_us(hi.p99_us)),
        format!("{growth:.2}"),
    ]];
    let growth_checks = vec![Check::at_most(
        format!(
            "{name}: validation p99 with {} sessions / with 10^4 ({GROWTH_TASKS} tasks)",
            pow10(sizes[1])
        ),
        growth,
        1.2,
    )];
    let backend = big;
    let store_op = store_lookup(backend.store(), keys.clone());

    // Cleanup: as many expired sessions as live ones, then validation
    // without cleanup (the baseline) and while cleanup_expired runs.
    let expired = sizes[1];
    let t0 = Instant::now();
    backend.seed_expired(expired).await;
    backend.settle().await;
    eprintln!(
        "authn-bench: store: {name}: {} expired sessions seeded in {:.1} s",
        pow10(expired),
        t0.elapsed().as_secs_f64()
    );
    let live = sizes[1];
    run_lookups(
        &store_op,
        GROWTH_TASKS,
        live,
        3,
        Duration::ZERO,
        timing.warmup,
    )
    .await;
    let mut base = Vec::new();
    for round in 0..timing.rounds {
        let seed = mix(0xc1ea_u64 << 16 | round as u64);
        base.push(
            run_lookups(
                &store_op,
                GROWTH_TASKS,
                live,
                seed,
                Duration::ZERO,
                timing.round,
            )
            .await,
        );
    }
    let base = Medians::of(&base);
    let store = backend.store();
    let (during, took, report) = run_during(
        &store_op,
        GROWTH_TASKS,
        live,
        mix(0xc1ea_0001),
        timing.warmup,
        async move { store.cleanup_expired().await.expect("cleanup_expired") },
    )
    .await;
    let ratio = during.p99_us / base.p99_us;
    eprintln!(
        "authn-bench: store: {name}: cleanup deleted {} sessions in {:.1} s; p99 {} during, \
         {} without ({ratio:.2})",
        report.sessions_deleted,
        took.as_secs_f64(),
        fmt_us(during.p99_us),
        fmt_us(base.p99_us)
    );
    assert_eq!(
        report.sessions_deleted, expired,
        "cleanup deletes exactly the expired sessions"
    );
    let cleanup_rows = vec![vec![
        name.to_owned(),
        report.sessions_deleted.to_string(),
        format!("{:.1} s", took.as_secs_f64()),
        format!("{}, {}", fmt_rate(base.per_sec), fmt_us(base.p99_us)),
        format!("{}, {}", fmt_rate(during.per_sec), fmt_us(during.p99_us)),
        format!("{ratio:.2}"),
    ]];
    let cleanup_checks = vec![Check::at_most(
        format!(
            "{name}: validation p99 during cleanup of {} expired sessions / without",
            pow10(expired)
        ),
        ratio,
        2.0,
    )];

    let validation = Section {
        title: format!("1. Session validation: store API vs raw query ({name})"),
        method: format!(
            "`SessionStore::validate_session` on a store handle (as a library user calls it) \
             against the limit: {raw} Both run on pools of {POOL_SIZE} connections to the same \
             database, {USERS} users, each lookup a random live session (every one found valid). \
             {bare}For each size and concurrency: a warm-up of each ({warm:.2} s), then {rounds} \
             rounds of {round:.2} s each, rotating which contender goes first (closed loops); the \
             table shows the medians of the rounds, and each ratio is the median of the rounds' \
             throughput ratios. Target: store / raw >= 0.8.",
            rounds = timing.rounds,
            raw = backend.raw_description(),
            bare = backend
                .bare_description()
                .map_or(String::new(), |b| format!("{b} ")),
            warm = timing.warmup.as_secs_f64(),
            round = timing.round.as_secs_f64(),
        ),
        columns: [
            "sessions",
            "tasks",
            "store ops/s",
            "store p50",
            "store p99",
            "raw ops/s",
            "raw p50",
            "raw p99",
            "store / raw",
            "bare ops/s",
            "bare p99",
            "store / bare",
        ]
        .map(String::from)
        .to_vec(),
        rows,
        checks,
    };
    Outcome {
        validation,
        growth_rows,
        growth_checks,
        cleanup_rows,
        cleanup_checks,
    }
}

/// Runs the scenario on PostgreSQL, then SQLite.
pub async fn run(settings: &Settings) -> Vec<Section> {
    let max = if settings.quick { 100_000 } else { 1_000_000 };
    // Hashed once here, not in the measured loops.
    let keys: Keys = Arc::new(
        (0..max)
            .map(|i| TokenHash::of_token(&live_token(i)))
            .collect(),
    );
    let mut outcomes = Vec::new();
    let backends = settings.backends();
    if backends.contains(&Db::Postgres) {
        let small = pg::Pg::setup(settings, "authn_bench_small").await;
        let big = pg::Pg::setup(settings, "authn_bench").await;
        outcomes.push(run_backend(&small, &big, settings, &keys).await);
        small.teardown().await;
        big.teardown().await;
    }
    if backends.contains(&Db::Sqlite) {
        let small = sqlite::Sqlite::setup().await;
        let big = sqlite::Sqlite::setup().await;
        outcomes.push(run_backend(&small, &big, settings, &keys).await);
        small.teardown().await;
        big.teardown().await;
    }
    let timing = Timing::of(settings);
    let big = pow10(max);
    let mut sections: Vec<Section> = outcomes.iter().map(|o| o.validation.clone()).collect();
    sections.push(Section {
        title: "4. Growth: validation p99 with more sessions".into(),
        method: format!(
            "The store's validation p99 at {GROWTH_TASKS} concurrent tasks with {big} sessions \
             present, over the same with 10^4: the two databases of scenario 1 (same schema, \
             same users, statistics refreshed after seeding), the store on each in {rounds} \
             alternating rounds of {round:.2} s after a warm-up; the ratio is the median of the \
             rounds' p99 ratios, the other figures the medians of the rounds.",
            rounds = timing.for_growth().rounds,
            round = timing.round.as_secs_f64(),
        ),
        columns: [
            "backend",
            "10^4 sessions (ops/s, p99)",
            &format!("{big} sessions (ops/s, p99)"),
            "p99 ratio",
        ]
        .map(String::from)
        .to_vec(),
        rows: outcomes
            .iter()
            .flat_map(|o| o.growth_rows.clone())
            .collect(),
        checks: outcomes
            .iter()
            .flat_map(|o| o.growth_checks.clone())
            .collect(),
    });
    sections.push(Section {
        title: "4. Growth: validation while cleanup_expired runs".into(),
        method: format!(
            "With {big} live sessions, {big} expired ones are added; then validation of live \
             sessions through the store at {GROWTH_TASKS} tasks is measured without cleanup \
             ({rounds} rounds of {round:.2} s, medians), and again from the moment \
             `MaintenanceStore::cleanup_expired` (default policy: batches of 5000 rows, one \
             short transaction each, each followed by a pause four times as long as it took) \
             starts until \
             it returns, on the same data. Validation runs on all the machine's cores, so the \
             cleanup's own work competes with it for CPU.",
            rounds = timing.rounds,
            round = timing.round.as_secs_f64()
        ),
        columns: [
            "backend",
            "sessions deleted",
            "cleanup took",
            "without cleanup (ops/s, p99)",
            "during cleanup (ops/s, p99)",
            "p99 during / without",
        ]
        .map(String::from)
        .to_vec(),
        rows: outcomes
            .iter()
            .flat_map(|o| o.cleanup_rows.clone())
            .collect(),
        checks: outcomes
            .iter()
            .flat_map(|o| o.cleanup_checks.clone())
            .collect(),
    });
    sections
}
