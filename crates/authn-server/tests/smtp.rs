//! Real mail delivery: a server configured with an SMTP URL sends password
//! reset and magic-link mails to an SMTP server on loopback (Python's
//! `aiosmtpd`, which stores each message as a JSON file); the test reads
//! them and follows their links.
//!
//! Needs Python 3 with `aiosmtpd` (`pip install aiosmtpd`); the interpreter
//! is `AUTHN_TEST_PYTHON` if set, else `python3`. Without it the test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The SMTP server: stores every message as `<n>.json` with the envelope
/// and the parsed headers and body (decoded by Python's `email` package).
const SMTP_SERVER: &str = r#"
import email, email.policy, json, os, sys, threading
from aiosmtpd.controller import Controller

outdir, port = sys.argv[1], int(sys.argv[2])
lock = threading.Lock()
count = [0]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                       policy=email.policy.default)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "content_type": msg.get_content_type(),
            "body": msg.get_content(),
        }
        with lock:
            count[0] += 1
            path = os.path.join(outdir, "%06d.json" % count[0])
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 Message accepted"

controller = Controller(Handler(), hostname="127.0.0.1", port=port)
controller.start()
print("READY", flush=True)
threading.Event().wait()
"#;

/// The interpreter to use.
fn python() -> String {
    std::env::var("AUTHN_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Kills the SMTP server when dropped (also when the test fails).
struct SmtpServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    fn start() -> Self {
        let py = python();
        let check = Command::new(&py)
            .args(["-c", "import aiosmtpd"])
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {py:?} ({e}): install Python 3 or set AUTHN_TEST_PYTHON")
            });
        assert!(
            check.status.success(),
            "the SMTP test needs aiosmtpd for {py}: run `pip install aiosmtpd` \
             (or point AUTHN_TEST_PYTHON at a Python that has it): {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("smtp_server.py");
        std::fs::write(&script, SMTP_SERVER).unwrap();
        let mails = dir.path().join("mails");
        std::fs::create_dir(&mails).unwrap();
        // a free port (released just before Python binds it)
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(&py)
            .arg(&script)
            .arg(&mails)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let server = Self { child, port, dir };
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the SMTP server did not start within 30 s");
        assert_eq!(line.trim(), "READY", "the SMTP server did not start");
        server
    }

    fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mails")
    }

    /// Waits (bounded) until more than `before` mails arrived; returns them all.
    async fn wait_mails(&self, before: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mails = read_mails(&self.mail_dir());
            if mails.len() > before {
                return mails;
            }
            assert!(Instant::now() < deadline, "no mail arrived within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn read_mails(dir: &Path) -> Vec<Value> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// The first link in a mail body that starts with `prefix`.
fn link_in(body: &str, prefix: &str) -> String {
    let start = body
        .find(prefix)
        .unwrap_or_else(|| panic!("no link starting with {prefix} in {body:?}"));
    body[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect()
}

/// The `token` query parameter of a URL.
fn token_of(link: &str) -> String {
    url::Url::parse(link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .expect("a token parameter")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mails_go_out_over_smtp_and_their_links_work() {
    let smtp = SmtpServer::start();
    let smtp_url = format!("smtp://127.0.0.1:{}?tls=none", smtp.port);
    let srv = TestServer::start_with(&[
        "--smtp-url",
        &smtp_url,
        "--mail-from",
        "authn <no-reply@example.com>",
    ])
    .await;
    let c = srv.bare_client();
    // mail really goes over SMTP: the development outbox is not there
    let r = c
        .get(srv.url("/api/v1/admin/dev/outbox"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let alice = email("alice");
    let (_, old_token) = srv.signup(&c, &alice).await;

    // password reset
    let r = c
        .post(srv.url("/api/v1/auth/password/send-reset-link"))
        .json(&json!({ "email": alice }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mails = smtp.wait_mails(0).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let reset = &mails[0];
    assert_eq!(reset["rcpt_tos"], json!([alice]), "{reset}");
    assert_eq!(reset["mail_from"], "no-reply@example.com", "{reset}");
    assert!(reset["to"].as_str().unwrap().contains(&alice), "{reset}");
    let from = reset["from"].as_str().unwrap();
    assert!(
        from.contains("no-reply@example.com") && from.contains("authn"),
        "{from}"
    );
    assert_eq!(reset["subject"], "Reset your password", "{reset}");
    assert_eq!(reset["content_type"], "text/plain");
    let body = reset["body"].as_str().unwrap();
    let link = link_in(body, &srv.url("/reset-password?token="));
    let reset_token = token_of(&link);
    assert!(reset_token.len() >= 43, "{reset_token}");

    // follow it: the new password works, the old one and old sessions do not
    let new_password = "a brand new passphrase for alice";
    let (status, v) = json_of(
        c.post(srv.url("/api/v1/auth/password/reset"))
            .json(&json!({ "token": reset_token, "password": new_password }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, _) = srv.login(&c, &alice, new_password).await;
    assert_eq!(status, StatusCode::OK);
    let got = srv.login(&c, &alice, PASSWORD).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let r = c
        .get(srv.url("/api/v1/auth/me"))
        .bearer_auth(&old_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // the token works once
    let got = json_of(
        c.post(srv.url("/api/v1/auth/password/reset"))
            .json(&json!({ "token": reset_token, "password": "yet another passphrase 77" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_token");

    // magic link
    let r = c
        .post(srv.url("/api/v1/auth/magic-link/send"))
        .json(&json!({ "email": alice }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mails = smtp.wait_mails(1).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    let magic = &mails[1];
    assert_eq!(magic["rcpt_tos"], json!([alice]), "{magic}");
    assert_eq!(magic["subject"], "Your sign-in link", "{magic}");
    assert!(
        magic["from"]
            .as_str()
            .unwrap()
            .contains("no-reply@example.com")
    );
    let body = magic["body"].as_str().unwrap();
    let link = link_in(body, &srv.url("/api/v1/auth/magic-link/verify?token="));

    // follow it as a browser would: GET the link itself
    let browser = srv.client();
    let (status, v) = json_of(browser.get(&link).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["email"], alice.as_str());
    let token = v["token"].as_str().unwrap().to_owned();
    let r = c
        .get(srv.url("/api/v1/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // the cookie was set as well
    let r = browser
        .get(srv.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // once only
    let got = json_of(c.get(&link).send().await.unwrap()).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_token");

    // unknown addresses get the same answer and no mail
    let r = c
        .post(srv.url("/api/v1/auth/magic-link/send"))
        .json(&json!({ "email": email("stranger") }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // a later mail to alice: what arrived by then went to alice only
    let r = c
        .post(srv.url("/api/v1/auth/password/send-reset-link"))
        .json(&json!({ "email": alice }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mails = smtp.wait_mails(2).await;
    assert!(
        mails.iter().all(|m| m["rcpt_tos"] == json!([alice])),
        "{mails:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_smtp_server_does_not_break_the_answer() {
    // Mail goes out in the background: a dead SMTP server must neither
    // fail nor slow the request, nor reveal whether the address exists.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let smtp_url = format!("smtp://127.0.0.1:{port}?tls=none");
    let srv = TestServer::start_with(&["--smtp-url", &smtp_url]).await;
    let c = srv.bare_client();
    let alice = email("alice");
    srv.signup(&c, &alice).await;
    for e in [alice.clone(), email("nobody")] {
        for path in [
            "/api/v1/auth/password/send-reset-link",
            "/api/v1/auth/magic-link/send",
        ] {
            let (status, v) = json_of(
                c.post(srv.url(path))
                    .json(&json!({ "email": e }))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{path}: {v}");
            assert!(v["message"].is_string());
        }
    }
    let (status, _) = srv.login(&c, &alice, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}
