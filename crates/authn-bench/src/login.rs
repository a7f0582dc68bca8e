//! Scenario 3: password login against its limit, the argon2id hash.
//!
//! 1. Latency: sequential `POST /api/v1/auth/login` (right password, one
//!    client, one connection) against the bare argon2id verification of a
//!    hash with the server's parameters, one sample of each in turn so both
//!    see the same machine. Two more contenders split the overhead:
//!    `authn_core`'s `PasswordHasher::verify` (admission and the blocking
//!    pool, no HTTP, no store) and a login with a malformed email (HTTP and
//!    the server's hashing path, no store work).
//! 2. Overload: logins offered open-loop at 4x the hashing capacity (hash
//!    slots / hash time with every slot busy); what is accepted, what is
//!    refused with `503 server_busy`, and how fast each answer comes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordVerifier as _;
use argon2::password_hash::phc::PasswordHash;
use authn_core::password::{Argon2Params, PasswordHasher};
use hdrhistogram::Histogram;

use crate::Settings;
use crate::measure::{fmt_rate, fmt_us, histogram};
use crate::report::{Check, Section};
use crate::server::{Db, Deployment, PASSWORD, Server};

/// Users the overload logins are spread over: the lockout counts a user's
/// unfinished attempts, so one user with many logins in flight would be
/// locked (5 by default); 64 users keep each far below that.
const OVERLOAD_USERS: usize = 64;

/// The target of the issue: login overhead over the bare hash.
const MAX_OVERHEAD: f64 = 0.15;

/// Largest acceptable p99 of a `503 server_busy` answer, as a fraction of
/// one hash time: refusing must cost far less than the hash it spares.
const BUSY_P99_OF_HASH: f64 = 0.5;

/// Smallest acceptable login rate under overload, as a fraction of the
/// rate with the hasher just full (nothing refused): refusing the excess
/// must not starve the logins.
const MIN_GOODPUT: f64 = 0.8;

/// The latency figures of one contender.
struct Latency {
    name: String,
    h: Histogram<u64>,
}

impl Latency {
    fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            h: histogram(),
        }
    }

    fn record(&mut self, d: Duration) {
        self.h.saturating_record(d.as_micros().max(1) as u64);
    }

    /// A quantile in microseconds; infinite without samples, so that a
    /// bound on it fails rather than passes on nothing.
    fn quantile(&self, q: f64) -> f64 {
        if self.h.is_empty() {
            f64::INFINITY
        } else {
            self.h.value_at_quantile(q) as f64
        }
    }

    fn p50(&self) -> f64 {
        self.quantile(0.50)
    }

    fn p99(&self) -> f64 {
        self.quantile(0.99)
    }

    /// A quantile for a table (`–` without samples).
    fn fmt(&self, q: f64) -> String {
        if self.h.is_empty() {
            "–".to_owned()
        } else {
            fmt_us(self.quantile(q))
        }
    }
}

/// Runs the scenario.
pub async fn run(settings: &Settings) -> Vec<Section> {
    let samples = if settings.quick { 40 } else { 300 };
    let overload_secs = if settings.quick { 3 } else { 10 };
    // Hashes per thread when measuring the hash time with every slot busy.
    let par_each = if settings.quick { 10 } else { 40 };
    // The server's rule when AUTHN_HASH_CONCURRENCY / AUTHN_HASH_QUEUE are
    // unset (ServerConfig::effective_hash_concurrency / _queue).
    let concurrency = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let queue = concurrency * 8;

    let mut latency_rows = Vec::new();
    let mut overload_rows = Vec::new();
    let mut checks = Vec::new();
    for db in settings.backends() {
        let deployment = Deployment::new(settings, db, "login").await;
        let server = deployment.start().await;
        let users = create_users(&server, 1 + OVERLOAD_USERS, concurrency).await;
        eprintln!(
            "authn-bench: login: {} latency, {samples} samples each",
            db.label()
        );
        let [bare, floor, core, malformed, login] =
            latencies(&server, &users[0], samples, db).await;
        for l in [&bare, &floor, &core, &malformed, &login] {
            latency_rows.push(vec![
                l.name.clone(),
                l.h.len().to_string(),
                fmt_us(l.p50()),
                fmt_us(l.p99()),
                format!("{:+.1} %", (l.p50() / bare.p50() - 1.0) * 100.0),
                format!("{:+.1} %", (l.p99() / bare.p99() - 1.0) * 100.0),
                format!("{:+.1} %", (l.p50() / floor.p50() - 1.0) * 100.0),
                format!("{:+.1} %", (l.p99() / floor.p99() - 1.0) * 100.0),
            ]);
        }
        checks.push(Check::at_most(
            format!("{}: login p50 / bare argon2id p50 - 1", db.label()),
            login.p50() / bare.p50() - 1.0,
            MAX_OVERHEAD,
        ));
        checks.push(Check::at_most(
            format!("{}: login p99 / bare argon2id p99 - 1", db.label()),
            login.p99() / bare.p99() - 1.0,
            MAX_OVERHEAD,
        ));

        // Capacity is what the machine hashes with every slot busy: hashes
        // side by side share memory bandwidth and caches (19 MiB each), so
        // each takes longer than one alone.
        let par = parallel_bare(concurrency, par_each).await;
        let capacity = concurrency as f64 / (par.p50() / 1e6);
        let rate = 4.0 * capacity;
        // The reference for the accepted rate: as many clients as the
        // hasher admits, each waiting for its answer, so nothing is refused.
        let sat = saturated(
            &server,
            &users[1..],
            concurrency + queue,
            Duration::from_secs(overload_secs),
        )
        .await;
        eprintln!(
            "authn-bench: login: {} saturated: {:.1}/s with {} in flight",
            db.label(),
            sat.rate,
            concurrency + queue
        );
        eprintln!(
            "authn-bench: login: {} overload, {:.0}/s for {overload_secs} s",
            db.label(),
            rate
        );
        let o = overload(
            &server,
            &users[1..],
            rate,
            Duration::from_secs(overload_secs),
        )
        .await;
        // The hash time again, after: the unit of the latency bounds is
        // the p50 of both measurements, so that one taken in a passing
        // lull or burst of the machine does not set it alone (the same
        // machine measured 11 to 15 ms from one run to the next).
        let mut par = par;
        par.h
            .add(&parallel_bare(concurrency, par_each).await.h)
            .expect("histograms of the same bounds");
        let accepted_rate = o.accepted.h.len() as f64 / o.span.as_secs_f64();
        // The time a slot spent per accepted login during the run (shown
        // beside the hash time measured before it).
        let service_us = if o.accepted.h.is_empty() {
            f64::INFINITY
        } else {
            concurrency as f64 / accepted_rate * 1e6
        };
        let bound = 2.0 * (queue as f64 / concurrency as f64 + 1.0);
        let mut others = o.other.clone();
        for (k, n) in &sat.other {
            *others.entry(format!("{k} (saturated run)")).or_default() += n;
        }
        let other: u64 = others.values().sum();
        overload_rows.push(vec![
            db.label().to_owned(),
            format!("{} / {}", fmt_us(par.p50()), fmt_us(par.p99())),
            fmt_rate(capacity),
            format!("{} ({} sent)", fmt_rate(rate), o.sent),
            format!("{} ({})", fmt_rate(accepted_rate), o.accepted.h.len()),
            fmt_rate(sat.rate),
            format!("{:.2}", accepted_rate / sat.rate),
            fmt_us(service_us),
            o.accepted.fmt(0.50),
            o.accepted.fmt(0.99),
            o.busy.h.len().to_string(),
            o.busy.fmt(0.50),
            o.busy.fmt(0.99),
            if others.is_empty() {
                "none".to_owned()
            } else {
                others
                    .iter()
                    .map(|(k, n)| format!("**{n} × {k}**"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ]);
        let what = |s: &str| format!("{}: at 4x capacity, {s}", db.label());
        checks.push(Check::at_most(
            what("503 p99 / hash p50"),
            o.busy.p99() / par.p50(),
            BUSY_P99_OF_HASH,
        ));
        checks.push(Check::at_most(
            what("accepted p99 / hash p50"),
            o.accepted.p99() / par.p50(),
            bound,
        ));
        checks.push(Check::at_least(
            what("accepted rate / saturated rate"),
            accepted_rate / sat.rate,
            MIN_GOODPUT,
        ));
        checks.push(Check::at_least(
            what("503 answers (some refused)"),
            o.busy.h.len() as f64,
            1.0,
        ));
        checks.push(Check::at_most(
            what("answers neither 200 nor 503"),
            other as f64,
            0.0,
        ));
        drop(server);
        deployment.finish().await;
    }

    let method_latency = format!(
        "Sequential logins with the right password (`POST /api/v1/auth/login`, one keep-alive \
         connection, so no queueing) to a release `authn serve` in its default configuration \
         (logging included; per-IP rate limits raised), against the bare argon2id verification \
         the login does: `argon2`'s `verify_password` of a PHC hash made with the server's \
         parameters (`Argon2Params::default()`: m = 19 MiB, t = 2, p = 1), called directly on \
         one thread (it allocates its 19 MiB of working memory on every call, as any caller of \
         `verify_password` pays). The floor: the same computation on working memory kept from \
         the previous call (no allocation, no page faults), which is how `PasswordHasher` runs \
         it. Between them: `PasswordHasher::verify`, the same verification through \
         `authn_core`'s bounded hasher (admission, its own hashing threads), and a login with a \
         malformed email, which does the same hashing work through HTTP and the server but no \
         store work: the gap from it to the real login is the store's share. {samples} samples \
         each, taken one of each in turn (rotating order) so all see the same machine state, \
         after what earlier scenarios left for the disk was written out (`CHECKPOINT`, \
         `sync`). Overhead = contender / bare - 1 (and / floor - 1: what the login adds beyond the \
         computation itself, informative). Target: login overhead <= 15 % at p50, and at p99 \
         too (the extra work — attempt reservation and completion, credential and user reads, \
         session creation, HTTP — must not add a long tail either)."
    );
    let method_overload = format!(
        "Logins offered open-loop at 4x the hashing capacity for {overload_secs} s. Capacity = \
         hash slots / hash time: {concurrency} slots (the server's default, one per available \
         core), and the hash time is the p50 of bare argon2id verifications on {concurrency} \
         threads at once ({par_each} each), measured just before (with every slot busy, hashes share memory \
         bandwidth and caches, 19 MiB each, and each takes longer than one alone). The \
         latency bounds below count in the hash p50 of that measurement and of a second one \
         just after the run, together (the column shows both). Requests \
         start on a fixed schedule whatever the answers (a Tokio + reqwest generator on the \
         same machine; latency counts from the scheduled start, so a late generator cannot \
         hide queueing), spread over {OVERLOAD_USERS} users with the right password (the \
         lockout counts a user's unfinished attempts). The hasher admits {concurrency} \
         running + {queue} waiting logins (the default queue, 8x the slots) and refuses the \
         rest with `503 server_busy` before any store work. Service time = slots / accepted \
         rate: what each accepted login cost a slot during the run. Saturated: the login rate \
         just before, with {admitted} clients in closed loops (each waits for its answer, each \
         its own user) for {overload_secs} s: the hasher full, nothing refused, the store and \
         HTTP work of each login on the same cores; the ceiling for what overload can get \
         through. Targets: a 503 comes back \
         within {BUSY_P99_OF_HASH} hash p50 at p99 (refusing must cost far less than the hash \
         it spares); an accepted login waits for at most the {queue} queued ones on \
         {concurrency} slots, then its own hash: queue / slots + 1 = {ideal} hash times were \
         every hash a p50 one and nothing else running; its p99 must stay within twice that, \
         {bound} hash p50s (the store and HTTP work around each hash, the refusals and the load \
         generator share the same cores and stretch each hash; an unbounded queue would \
         instead grow with the run, to seconds); \
         the accepted rate (first request to last 200) stays >= {MIN_GOODPUT} of the saturated \
         rate (refusing the excess must not starve the logins); some requests are refused; no \
         other answer (401, 429, 5xx, transport error) at all, in either run.",
        admitted = concurrency + queue,
        ideal = queue as f64 / concurrency as f64 + 1.0,
        bound = 2.0 * (queue as f64 / concurrency as f64 + 1.0)
    );
    vec![
        Section {
            title: "3a. Login latency against the bare argon2id hash".into(),
            method: method_latency,
            columns: [
                "contender",
                "samples",
                "p50",
                "p99",
                "p50 vs bare",
                "p99 vs bare",
                "p50 vs floor",
                "p99 vs floor",
            ]
            .map(String::from)
            .to_vec(),
            rows: latency_rows,
            checks: checks
                .iter()
                .filter(|c| c.what.contains("login p"))
                .cloned()
                .collect(),
        },
        Section {
            title: "3b. Login at 4x the hashing capacity".into(),
            method: method_overload,
            columns: [
                "store",
                "hash p50 / p99, slots busy",
                "capacity",
                "offered",
                "accepted (200)",
                "saturated",
                "accepted / saturated",
                "service time",
                "accepted p50",
                "accepted p99",
                "refused (503)",
                "503 p50",
                "503 p99",
                "other answers",
            ]
            .map(String::from)
            .to_vec(),
            rows: overload_rows,
            checks: checks
                .into_iter()
                .filter(|c| c.what.contains("4x capacity"))
                .collect(),
        },
    ]
}

/// Email of the bench user `i`.
fn email(i: usize) -> String {
    format!("login-{i}@example.com")
}

/// Signs `n` users up, `parallel` at a time (more would be refused by the
/// hasher's queue only at far larger numbers, but there is no need).
async fn create_users(server: &Server, n: usize, parallel: usize) -> Vec<String> {
    let emails: Vec<String> = (0..n).map(email).collect();
    for chunk in emails.chunks(parallel.max(1)) {
        let mut set = tokio::task::JoinSet::new();
        for e in chunk {
            let auth = authn_client::AuthClient::new(server.url()).expect("SDK client");
            let e = e.clone();
            set.spawn(async move { auth.signup(&e, PASSWORD, None).await.map(|_| ()) });
        }
        while let Some(r) = set.join_next().await {
            r.expect("signup task").expect("signup");
        }
    }
    emails
}

fn login_body(email: &str) -> String {
    serde_json::json!({ "email": email, "password": PASSWORD }).to_string()
}

/// Bare verification, hasher verification and HTTP login, interleaved.
async fn latencies(server: &Server, user: &str, samples: usize, db: Db) -> [Latency; 5] {
    let params = Argon2Params::default();
    let hasher = PasswordHasher::new(params, 1, 1).expect("hasher");
    let phc = hasher.hash(PASSWORD).await.expect("hash");
    let phc = Arc::new(phc);
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/auth/login", server.url());
    let body = login_body(user);

    let mut bare = Latency::new(format!("{}: argon2id verify (bare)", db.label()));
    let mut floor = Latency::new(format!(
        "{}: argon2id on reused memory (the floor)",
        db.label()
    ));
    let memory = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut core = Latency::new(format!("{}: `PasswordHasher::verify`", db.label()));
    let mut login = Latency::new(format!("{}: `POST /auth/login`", db.label()));
    let mut malformed = Latency::new(format!(
        "{}: `POST /auth/login`, malformed email (no store work)",
        db.label()
    ));
    // Rounds of one sample each, in a rotating order, so all five see the
    // same machine (a noisy neighbour hits them alike); the first rounds,
    // unrecorded, warm caches, pools and the connection. Slot 2 is the
    // login, 3 the malformed one.
    const WARMUP: usize = 5;
    for round in 0..WARMUP + samples {
        let record = round >= WARMUP;
        for turn in 0..5 {
            let t = match (round + turn) % 5 {
                0 => {
                    let phc = phc.clone();
                    tokio::task::spawn_blocking(move || bare_verify(&phc, 1)[0])
                        .await
                        .expect("bare hash thread")
                }
                4 => {
                    let (phc, memory) = (phc.clone(), memory.clone());
                    tokio::task::spawn_blocking(move || {
                        floor_verify(&phc, &mut memory.lock().expect("memory"))
                    })
                    .await
                    .expect("floor hash thread")
                }
                1 => {
                    let t0 = Instant::now();
                    let v = hasher.verify(PASSWORD, &phc).await.expect("verify");
                    assert!(v.matches);
                    t0.elapsed()
                }
                3 => {
                    let t0 = Instant::now();
                    let r = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(r#"{"email":"not-an-email","password":"x"}"#)
                        .send()
                        .await
                        .expect("login request");
                    let status = r.status();
                    let text = r.text().await.expect("login answer");
                    let t = t0.elapsed();
                    assert_eq!(status, 401, "malformed login: {text}");
                    t
                }
                _ => {
                    let t0 = Instant::now();
                    let r = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("login request");
                    let status = r.status();
                    let text = r.text().await.expect("login answer");
                    let t = t0.elapsed();
                    assert_eq!(status, 200, "login: {text}");
                    t
                }
            };
            if record {
                [&mut bare, &mut core, &mut login, &mut malformed, &mut floor][(round + turn) % 5]
                    .record(t);
            }
        }
    }
    [bare, floor, core, malformed, login]
}

/// One verification of `phc` as argon2 computes it at the least: on
/// working memory kept from the previous call (no allocation, no page
/// faults), as `PasswordHasher` does.
fn floor_verify(phc: &str, memory: &mut Vec<argon2::Block>) -> Duration {
    let parsed = PasswordHash::new(phc).expect("PHC hash");
    let params = argon2::Params::try_from(&parsed).expect("params");
    let blocks = params.block_count();
    memory.resize(blocks.max(memory.len()), argon2::Block::default());
    let salt = parsed.salt.expect("salt");
    let expected = parsed.hash.expect("hash");
    let mut out = vec![0u8; expected.len()];
    let t0 = Instant::now();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into_with_memory(PASSWORD.as_bytes(), &salt, &mut out, &mut memory[..blocks])
        .expect("hash");
    let t = t0.elapsed();
    assert_eq!(out.as_slice(), expected.as_ref(), "the right password");
    t
}

/// `n` verifications of `phc` on this thread, each timed: what the
/// server's hasher runs, without anything around it.
fn bare_verify(phc: &str, n: usize) -> Vec<Duration> {
    let parsed = PasswordHash::new(phc).expect("PHC hash");
    (0..n)
        .map(|_| {
            let t0 = Instant::now();
            // Parameters come from the hash, as in the server.
            argon2::Argon2::default()
                .verify_password(PASSWORD.as_bytes(), &parsed)
                .expect("the right password");
            t0.elapsed()
        })
        .collect()
}

/// Bare verifications on `threads` threads at once, `each` per thread:
/// the hash time when every hashing slot is busy.
async fn parallel_bare(threads: usize, each: usize) -> Latency {
    let hasher = PasswordHasher::new(Argon2Params::default(), 1, 1).expect("hasher");
    let phc = hasher.hash(PASSWORD).await.expect("hash");
    let times = tokio::task::spawn_blocking(move || {
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| s.spawn(|| bare_verify(&phc, each)))
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("hash thread"))
                .collect::<Vec<_>>()
        })
    })
    .await
    .expect("hash threads");
    let mut l = Latency::new("parallel");
    for t in times {
        l.record(t);
    }
    l
}

/// What the overload run saw.
struct Overload {
    sent: usize,
    accepted: Latency,
    busy: Latency,
    /// Other answers by status (or `transport error`), with counts.
    other: BTreeMap<String, u64>,
    /// From the first scheduled start to the last accepted answer.
    span: Duration,
}

/// The HTTP client of the throughput runs: keep-alive connections without
/// a cap, a timeout far above any bounded latency.
fn load_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client")
}

/// One login; its outcome as a status (`"200"`, `"503"`), or what else came
/// back.
async fn attempt(http: &reqwest::Client, url: &str, body: String) -> String {
    let r = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match r {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            if status == 503 && !text.contains("server_busy") {
                format!("503 without server_busy: {text}")
            } else {
                status.to_string()
            }
        }
        Err(e) => format!("transport error ({e})"),
    }
}

/// What the saturated run saw.
struct Saturated {
    /// Logins answered 200 per second.
    rate: f64,
    /// Other answers by status, with counts (there should be none).
    other: BTreeMap<String, u64>,
}

/// Logins in `clients` closed loops (each client its own user) for
/// `duration`: the server's login throughput with the hasher full but
/// nothing refused, when `clients` is what it admits.
async fn saturated(
    server: &Server,
    users: &[String],
    clients: usize,
    duration: Duration,
) -> Saturated {
    let http = load_client();
    let url = Arc::new(format!("{}/api/v1/auth/login", server.url()));
    let end = Instant::now() + duration;
    let mut set = tokio::task::JoinSet::new();
    for c in 0..clients {
        let (http, url) = (http.clone(), url.clone());
        let body = login_body(&users[c % users.len()]);
        set.spawn(async move {
            let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
            while Instant::now() < end {
                *outcomes
                    .entry(attempt(&http, &url, body.clone()).await)
                    .or_default() += 1;
            }
            outcomes
        });
    }
    let mut ok = 0u64;
    let mut other = BTreeMap::new();
    while let Some(outcomes) = set.join_next().await {
        for (k, n) in outcomes.expect("login client") {
            if k == "200" {
                ok += n;
            } else {
                *other.entry(k).or_default() += n;
            }
        }
    }
    Saturated {
        rate: ok as f64 / duration.as_secs_f64(),
        other,
    }
}

/// Offers logins at `rate` per second for `duration`, open-loop.
async fn overload(server: &Server, users: &[String], rate: f64, duration: Duration) -> Overload {
    let http = load_client();
    let url = Arc::new(format!("{}/api/v1/auth/login", server.url()));
    let bodies: Arc<Vec<String>> = Arc::new(users.iter().map(|u| login_body(u)).collect());
    let n = (rate * duration.as_secs_f64()).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let at = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(at).await;
        let (http, url, bodies) = (http.clone(), url.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let outcome = attempt(&http, &url, bodies[i % bodies.len()].clone()).await;
            // From the scheduled start: time the client fell behind counts.
            let done = tokio::time::Instant::now();
            (outcome, done - at, done)
        }));
    }
    let mut o = Overload {
        sent: n,
        accepted: Latency::new("accepted"),
        busy: Latency::new("busy"),
        other: BTreeMap::new(),
        span: Duration::ZERO,
    };
    for t in tasks {
        let (outcome, latency, done) = t.await.expect("login task");
        match outcome.as_str() {
            "200" => {
                o.accepted.record(latency);
                o.span = o.span.max(done - start);
            }
            "503" => o.busy.record(latency),
            _ => *o.other.entry(outcome).or_default() += 1,
        }
    }
    if o.span.is_zero() {
        o.span = duration;
    }
    o
}
