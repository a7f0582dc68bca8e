//! Scenario 2: `GET /api/v1/auth/me` (bearer session) and introspection
//! (`POST /api/v1/auth/introspect` with the admin key) over loopback HTTP,
//! driven by `wrk` at 1, 16 and 64 connections, on PostgreSQL and on the
//! embedded SQLite default. Each row is a fresh `authn serve` process, so
//! its peak memory (VmHWM) is that load's.

use std::fmt::Write as _;
use std::path::Path;

use authn_client::AuthClient;

use crate::Settings;
use crate::measure::{fmt_rate, fmt_us};
use crate::report::{Check, Section};
use crate::server::{ADMIN_KEY, Deployment, PASSWORD, Server};

/// Connection counts of the issue.
const CONNECTIONS: [u32; 3] = [1, 16, 64];

/// The two endpoints measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    Me,
    Introspect,
}

impl Endpoint {
    fn label(self) -> &'static str {
        match self {
            Endpoint::Me => "`GET /auth/me`",
            Endpoint::Introspect => "`POST /auth/introspect`",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Endpoint::Me => "/api/v1/auth/me",
            Endpoint::Introspect => "/api/v1/auth/introspect",
        }
    }
}

/// What one `wrk` run printed, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct WrkRun {
    /// `Requests/sec`.
    pub per_sec: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
    /// Requests completed.
    pub requests: u64,
    /// Answers outside 2xx/3xx.
    pub non_2xx: u64,
    /// Connect, read, write errors and timeouts.
    pub socket_errors: u64,
}

/// Runs the scenario.
pub async fn run(settings: &Settings) -> Vec<Section> {
    let (warmup, duration) = if settings.quick { (1, 2) } else { (2, 5) };
    let mut rows = Vec::new();
    let mut errors = 0u64;
    let mut runs = 0u64;
    for db in settings.backends() {
        let deployment = Deployment::new(settings, db, "http").await;
        let token = {
            let server = deployment.start().await;
            let token = session_token(&server).await;
            sanity_check(&server, &token).await;
            token
        };
        for endpoint in [Endpoint::Me, Endpoint::Introspect] {
            let script = write_script(deployment.dir(), endpoint, &token);
            for conns in CONNECTIONS {
                eprintln!(
                    "authn-bench: http: {} {} at {conns} connections",
                    db.label(),
                    endpoint.label()
                );
                // A fresh process per row: its peak memory is this load's.
                let mut server = deployment.start().await;
                let url = format!("{}{}", server.url(), endpoint.path());
                let _ = wrk(&url, &script, conns, warmup).await;
                let run = wrk(&url, &script, conns, duration).await;
                let rss = server.peak_rss_mib();
                server.stop();
                let bad = run.non_2xx + run.socket_errors;
                errors += bad;
                runs += 1;
                rows.push(vec![
                    db.label().to_owned(),
                    endpoint.label().to_owned(),
                    conns.to_string(),
                    fmt_rate(run.per_sec),
                    fmt_us(run.p50_us),
                    fmt_us(run.p99_us),
                    rss.map_or_else(|| "?".into(), |m| format!("{m:.1} MiB")),
                    if bad == 0 {
                        "0".to_owned()
                    } else {
                        format!(
                            "**{} non-2xx, {} socket errors** of {}",
                            run.non_2xx, run.socket_errors, run.requests
                        )
                    },
                ]);
            }
        }
        deployment.finish().await;
    }
    let method = format!(
        "`wrk -t1 -c<N> -d{duration}s --latency` against a release `authn serve` on a free \
         loopback port, after a {warmup} s warm-up run at the same concurrency (not counted). \
         One wrk thread: wrk and the server share the machine's cores, and one thread is \
         enough to keep 64 connections busy, leaving the rest to the server. Each row is a \
         fresh server process; peak memory is its VmHWM (from `/proc`) after the run. The \
         server runs its default configuration, logging included (the default `info` filter, \
         one line per request, written to a file), with only the per-IP rate limits raised \
         (every request comes from 127.0.0.1). PostgreSQL: a fresh database, the server \
         connected as an ordinary role (row-level security applies); SQLite: the embedded \
         default file in the data directory. `/me` carries a bearer session token (one \
         session lookup and the user's profile); introspection posts \
         `{{\"token\": <the session token>}}` with the admin key (one session lookup). \
         Requests/s, p50 and p99 are wrk's; every run must get only 2xx answers. There is no \
         target for these figures."
    );
    vec![Section {
        title: "2. HTTP: `/auth/me` and introspection under wrk".into(),
        method,
        columns: [
            "store",
            "endpoint",
            "connections",
            "requests/s",
            "p50",
            "p99",
            "peak server memory",
            "errors",
        ]
        .map(String::from)
        .to_vec(),
        rows,
        checks: vec![Check::at_most(
            format!("HTTP: non-2xx answers and socket errors over {runs} wrk runs"),
            errors as f64,
            0.0,
        )],
    }]
}

/// Signs a user up through the SDK and returns the session token.
async fn session_token(server: &Server) -> String {
    let auth = AuthClient::new(server.url()).expect("SDK client");
    let email = format!("http-{}@example.com", uuid::Uuid::now_v7().simple());
    auth.signup(&email, PASSWORD, None).await.expect("signup");
    auth.session()
        .token()
        .expect("a session after signup")
        .expose_secret()
        .to_owned()
}

/// The requests wrk will send must succeed with the expected answer: a
/// 200 from introspection saying `active: false` would count as a success.
async fn sanity_check(server: &Server, token: &str) {
    let http = reqwest::Client::new();
    let me = http
        .get(format!("{}{}", server.url(), Endpoint::Me.path()))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /me");
    assert_eq!(
        me.status(),
        200,
        "GET /me: {}",
        me.text().await.unwrap_or_default()
    );
    let body: serde_json::Value = http
        .post(format!("{}{}", server.url(), Endpoint::Introspect.path()))
        .bearer_auth(ADMIN_KEY)
        .header("content-type", "application/json")
        .body(introspect_body(token))
        .send()
        .await
        .expect("POST /introspect")
        .error_for_status()
        .expect("introspection answers 200")
        .json()
        .await
        .expect("introspection JSON");
    assert_eq!(body["active"], true, "introspection: {body}");
}

fn introspect_body(token: &str) -> String {
    serde_json::json!({ "token": token }).to_string()
}

/// Writes the wrk Lua script of an endpoint (method, headers, body).
fn write_script(dir: &Path, endpoint: Endpoint, token: &str) -> std::path::PathBuf {
    let mut lua = String::new();
    match endpoint {
        Endpoint::Me => {
            let _ = writeln!(lua, "wrk.method = \"GET\"");
            let _ = writeln!(
                lua,
                "wrk.headers[\"Authorization\"] = [==[Bearer {token}]==]"
            );
        }
        Endpoint::Introspect => {
            let _ = writeln!(lua, "wrk.method = \"POST\"");
            let _ = writeln!(
                lua,
                "wrk.headers[\"Authorization\"] = [==[Bearer {ADMIN_KEY}]==]"
            );
            let _ = writeln!(lua, "wrk.headers[\"Content-Type\"] = \"application/json\"");
            let _ = writeln!(lua, "wrk.body = [==[{}]==]", introspect_body(token));
        }
    }
    let path = dir.join(format!("wrk-{endpoint:?}.lua").to_lowercase());
    std::fs::write(&path, lua).expect("write the wrk script");
    path
}

/// Runs wrk (one thread) and parses its report.
async fn wrk(url: &str, script: &Path, connections: u32, secs: u64) -> WrkRun {
    let out = tokio::process::Command::new("wrk")
        .arg("-t1")
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .arg("--timeout")
        .arg("10s")
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .await
        .expect("run wrk (install it: apt-get install wrk, or run `cargo xtask bench`)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wrk failed ({}): {text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    parse_wrk(&text).unwrap_or_else(|e| panic!("unexpected wrk output ({e}):\n{text}"))
}

/// Parses wrk's report: `Requests/sec`, the `Latency Distribution` lines
/// 50% and 99%, the request count, `Non-2xx or 3xx responses` and
/// `Socket errors` (both absent when zero).
pub fn parse_wrk(text: &str) -> Result<WrkRun, String> {
    let mut per_sec = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut requests = None;
    let mut non_2xx = 0;
    let mut socket_errors = 0;
    let mut in_distribution = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("Latency Distribution") {
            in_distribution = true;
            continue;
        }
        if in_distribution {
            match line.split_whitespace().collect::<Vec<_>>()[..] {
                ["50%", v] => p50 = Some(parse_duration_us(v)?),
                ["99%", v] => p99 = Some(parse_duration_us(v)?),
                [q, _] if q.ends_with('%') => {}
                _ => in_distribution = false,
            }
            if in_distribution {
                continue;
            }
        }
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            per_sec = Some(
                v.trim()
                    .parse::<f64>()
                    .map_err(|e| format!("Requests/sec: {e}"))?,
            );
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            non_2xx = v.trim().parse().map_err(|e| format!("Non-2xx: {e}"))?;
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in v.split(',') {
                let n = part.split_whitespace().nth(1).ok_or("Socket errors line")?;
                socket_errors += n
                    .parse::<u64>()
                    .map_err(|e| format!("Socket errors: {e}"))?;
            }
        } else if let Some((n, rest)) = line.split_once(" requests in ")
            && !rest.is_empty()
        {
            requests = Some(n.trim().parse().map_err(|e| format!("requests: {e}"))?);
        }
    }
    Ok(WrkRun {
        per_sec: per_sec.ok_or("no Requests/sec")?,
        p50_us: p50.ok_or("no 50% latency (run wrk with --latency)")?,
        p99_us: p99.ok_or("no 99% latency (run wrk with --latency)")?,
        requests: requests.ok_or("no request count")?,
        non_2xx,
        socket_errors,
    })
}

/// `812.00us`, `1.23ms`, `2.00s`, `1.50m` -> microseconds.
fn parse_duration_us(v: &str) -> Result<f64, String> {
    let split = v
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| format!("no unit in {v:?}"))?;
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse().map_err(|e| format!("{v:?}: {e}"))?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return Err(format!("unknown unit in {v:?}")),
    };
    Ok(n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "Running 5s test @ http://127.0.0.1:41234/api/v1/auth/me
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms  402.11us  12.03ms   88.20%
    Req/Sec    10.61k   512.33    11.40k    72.00%
  Latency Distribution
     50%    1.45ms
     75%    1.68ms
     90%    1.96ms
     99%    2.88ms
  52803 requests in 5.00s, 21.05MB read
  Non-2xx or 3xx responses: 7
  Socket errors: connect 0, read 1, write 0, timeout 2
Requests/sec:  10559.31
Transfer/sec:      4.21MB
";

    #[test]
    fn parses_a_wrk_report() {
        let r = parse_wrk(OUT).unwrap();
        assert_eq!(r.per_sec, 10559.31);
        assert_eq!(r.p50_us, 1450.0);
        assert_eq!(r.p99_us, 2880.0);
        assert_eq!(r.requests, 52803);
        assert_eq!(r.non_2xx, 7);
        assert_eq!(r.socket_errors, 3);
    }

    #[test]
    fn clean_runs_have_no_error_lines() {
        let clean: String = OUT
            .lines()
            .filter(|l| !l.contains("Non-2xx") && !l.contains("Socket errors"))
            .map(|l| format!("{l}\n"))
            .collect();
        let r = parse_wrk(&clean).unwrap();
        assert_eq!((r.non_2xx, r.socket_errors), (0, 0));
    }

    #[test]
    fn units() {
        assert_eq!(parse_duration_us("812.00us").unwrap(), 812.0);
        assert_eq!(parse_duration_us("2.00s").unwrap(), 2_000_000.0);
        assert_eq!(parse_duration_us("1.50m").unwrap(), 90_000_000.0);
        assert!(parse_duration_us("3.0parsecs").is_err());
        assert!(parse_duration_us("12").is_err());
        assert!(parse_wrk("Requests/sec: 1").is_err());
    }
}
