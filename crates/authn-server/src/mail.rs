//! Outgoing mail (verification, password reset and magic links): SMTP
//! through `lettre`, or, without SMTP configuration, a development outbox
//! that logs each mail and keeps the last ones in memory.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use serde::Serialize;
use url::Url;
use uuid::Uuid;

/// How many mails the development outbox keeps (the oldest are dropped).
pub const DEV_OUTBOX_CAPACITY: usize = 100;

/// A plain-text mail to one recipient.
///
/// `Debug` leaves out the text: it carries one-time links, which are secrets.
#[derive(Clone)]
pub struct Mail {
    /// Recipient address, e.g. `alice@example.com`.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text_len", &self.text.len())
            .finish()
    }
}

/// Why a mail could not be built or sent, or the mailer not configured.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The SMTP URL is unusable. The reason never repeats the URL, which
    /// may hold a password.
    #[error("invalid SMTP URL: {0}")]
    InvalidSmtpUrl(String),
    /// The sender address (`AUTHN_MAIL_FROM`) is not a valid mailbox.
    #[error("invalid sender address: {0}")]
    InvalidFrom(String),
    /// The recipient is not a valid address.
    #[error("invalid recipient address")]
    InvalidRecipient,
    /// The message could not be assembled.
    #[error("cannot build mail: {0}")]
    Build(#[from] lettre::error::Error),
    /// The SMTP server could not be reached or refused the mail.
    #[error("cannot send mail: {0}")]
    Send(#[from] lettre::transport::smtp::Error),
}

/// Sends mail through SMTP or keeps it in the development outbox.
#[derive(Clone, Debug)]
pub enum Mailer {
    /// Real delivery.
    Smtp(SmtpMailer),
    /// Development: log and keep (see [`DevOutbox`]).
    Dev(DevOutbox),
}

impl Mailer {
    /// SMTP when `smtp_url` is given, else the development outbox.
    ///
    /// URL forms: `smtp://user:pass@host:587` (STARTTLS required),
    /// `smtps://user:pass@host:465` (implicit TLS), and
    /// `smtp://host:2525?tls=none` (plain text, for a local relay only);
    /// `?tls=opportunistic` is also accepted. Username and password are
    /// percent-decoded. `from` is a mailbox like `authn <no-reply@example.com>`.
    pub fn from_config(smtp_url: Option<&str>, from: &str) -> Result<Mailer, MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e: lettre::address::AddressError| MailError::InvalidFrom(e.to_string()))?;
        let Some(url) = smtp_url else {
            // Loud, because in production this would put one-time links in
            // the logs and deliver nothing.
            tracing::warn!(
                "no SMTP URL configured: mails are logged with their links and kept in memory, not sent"
            );
            return Ok(Mailer::Dev(DevOutbox::new()));
        };
        let target = SmtpTarget::parse(url)?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&target.lettre_url)
            .map_err(|e| MailError::InvalidSmtpUrl(e.to_string()))?
            .build();
        Ok(Mailer::Smtp(SmtpMailer {
            transport: Arc::new(transport),
            from,
            server: target.display,
        }))
    }

    /// Sends `mail` (or keeps it, in development).
    pub async fn send(&self, mail: Mail) -> Result<(), MailError> {
        match self {
            Mailer::Smtp(smtp) => smtp.send(mail).await,
            Mailer::Dev(outbox) => {
                outbox.push(mail);
                Ok(())
            }
        }
    }

    /// The development outbox, when this is the development mailer.
    pub fn dev_outbox(&self) -> Option<&DevOutbox> {
        match self {
            Mailer::Dev(outbox) => Some(outbox),
            Mailer::Smtp(_) => None,
        }
    }
}

/// Checks an SMTP URL the way [`Mailer::from_config`] reads it, without
/// building a transport (for configuration validation).
pub fn check_smtp_url(url: &str) -> Result<(), MailError> {
    let target = SmtpTarget::parse(url)?;
    AsyncSmtpTransport::<Tokio1Executor>::from_url(&target.lettre_url)
        .map(|_| ())
        .map_err(|e| MailError::InvalidSmtpUrl(e.to_string()))
}

/// Our SMTP URL translated to lettre's dialect.
struct SmtpTarget {
    /// The URL for `lettre`'s `from_url`.
    lettre_url: String,
    /// `scheme://host:port` without credentials, for logs and `Debug`.
    display: String,
}

impl SmtpTarget {
    fn parse(url: &str) -> Result<Self, MailError> {
        let bad = |reason: &str| MailError::InvalidSmtpUrl(reason.to_owned());
        let mut parsed = Url::parse(url).map_err(|e| MailError::InvalidSmtpUrl(e.to_string()))?;
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?
            .to_owned();
        let mut tls = None;
        for (key, value) in parsed.query_pairs() {
            match key.as_ref() {
                "tls" if tls.is_none() => tls = Some(value.into_owned()),
                "tls" => return Err(bad("tls given twice")),
                _ => return Err(bad("unknown query parameter (only tls= is understood)")),
            }
        }
        // lettre reads a bare smtp:// as plain text; ours means STARTTLS, so
        // credentials and links never cross the network in clear by default.
        let lettre_tls = match (parsed.scheme(), tls.as_deref()) {
            ("smtp", None | Some("required")) => Some("required"),
            ("smtp", Some("opportunistic")) => Some("opportunistic"),
            ("smtp", Some("none")) => None,
            ("smtps", None) => None,
            ("smtp", Some(_)) => return Err(bad("tls must be required, opportunistic or none")),
            ("smtps", Some(_)) => return Err(bad("smtps:// always uses TLS; drop tls=")),
            _ => return Err(bad("scheme must be smtp or smtps")),
        };
        if lettre_tls.is_none() && parsed.scheme() == "smtp" && parsed.password().is_some() {
            tracing::warn!(%host, "SMTP credentials configured with tls=none: they cross the network in clear");
        }
        let display = match parsed.port() {
            Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
            None => format!("{}://{host}", parsed.scheme()),
        };
        match lettre_tls {
            Some(mode) => parsed.set_query(Some(&format!("tls={mode}"))),
            None => parsed.set_query(None),
        }
        Ok(Self {
            lettre_url: parsed.into(),
            display,
        })
    }
}

/// Delivery through an SMTP server.
#[derive(Clone)]
pub struct SmtpMailer {
    /// Shared: the transport is large and the mailer is cloned into state.
    transport: Arc<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    /// Server without credentials, for `Debug`.
    server: String,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the transport's Debug: it is not ours to vouch for.
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let to: Mailbox = mail.to.parse().map_err(|_| MailError::InvalidRecipient)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text)?;
        self.transport.send(message).await?;
        Ok(())
    }
}

/// A mail kept by the development outbox.
///
/// Serializes to JSON for a development-only outbox route. `Debug` leaves
/// out the text (one-time links).
#[derive(Clone, Serialize)]
pub struct StoredMail {
    /// Unique id (UUID v7, time ordered).
    pub id: Uuid,
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// When it was "sent".
    pub sent_at: DateTime<Utc>,
}

impl fmt::Debug for StoredMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredMail")
            .field("id", &self.id)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text_len", &self.text.len())
            .field("sent_at", &self.sent_at)
            .finish()
    }
}

/// Development mailer: logs every mail at INFO, including its text, and
/// keeps the last [`DEV_OUTBOX_CAPACITY`] in memory, oldest first.
///
/// Logging the text is deliberate: in development the link in the mail is
/// what the developer needs. It also means one-time links reach the logs,
/// so this mailer is for development only; production needs an SMTP URL.
#[derive(Clone, Default)]
pub struct DevOutbox {
    mails: Arc<Mutex<VecDeque<StoredMail>>>,
}

impl fmt::Debug for DevOutbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevOutbox")
            .field("len", &self.lock().len())
            .finish()
    }
}

impl DevOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Logs `mail` and keeps it, dropping the oldest beyond the capacity.
    pub fn push(&self, mail: Mail) -> StoredMail {
        tracing::info!(
            to = %mail.to,
            subject = %mail.subject,
            text = %mail.text,
            "dev mailer: mail kept in the outbox, not sent"
        );
        let stored = StoredMail {
            id: Uuid::now_v7(),
            to: mail.to,
            subject: mail.subject,
            text: mail.text,
            sent_at: Utc::now(),
        };
        let mut mails = self.lock();
        while mails.len() >= DEV_OUTBOX_CAPACITY {
            mails.pop_front();
        }
        mails.push_back(stored.clone());
        stored
    }

    /// Every kept mail, oldest first.
    pub fn list(&self) -> Vec<StoredMail> {
        self.lock().iter().cloned().collect()
    }

    /// The newest mail to `to` (compared ignoring ASCII case).
    pub fn latest_for(&self, to: &str) -> Option<StoredMail> {
        self.lock()
            .iter()
            .rev()
            .find(|m| m.to.eq_ignore_ascii_case(to))
            .cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<StoredMail>> {
        // The queue stays consistent even if a holder panicked (every
        // operation is a single push/pop), so a poisoned lock is usable.
        self.mails.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    use tokio::net::TcpListener;

    fn mail(to: &str, text: &str) -> Mail {
        Mail {
            to: to.into(),
            subject: "Your link".into(),
            text: text.into(),
        }
    }

    #[tokio::test]
    async fn dev_outbox_keeps_order_and_bound() {
        let mailer = Mailer::from_config(None, "authn <no-reply@localhost>").unwrap();
        let outbox = mailer.dev_outbox().unwrap().clone();
        for i in 0..(DEV_OUTBOX_CAPACITY + 5) {
            mailer
                .send(mail(
                    &format!("u{}@example.com", i % 3),
                    &format!("mail {i}"),
                ))
                .await
                .unwrap();
        }
        let all = outbox.list();
        assert_eq!(all.len(), DEV_OUTBOX_CAPACITY);
        assert_eq!(all[0].text, "mail 5");
        assert_eq!(all[DEV_OUTBOX_CAPACITY - 1].text, "mail 104");
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));

        let latest = outbox.latest_for("U1@Example.com").unwrap();
        assert_eq!(latest.text, "mail 103");
        assert!(outbox.latest_for("nobody@example.com").is_none());
    }

    #[test]
    fn debug_hides_mail_text() {
        let m = mail("a@example.com", "https://x/verify?token=SECRET");
        assert!(!format!("{m:?}").contains("SECRET"));
        let stored = DevOutbox::new().push(m);
        assert!(!format!("{stored:?}").contains("SECRET"));
    }

    #[test]
    fn smtp_urls_are_translated_for_lettre() {
        let t = SmtpTarget::parse("smtp://user:p%40ss@mail.example.com:587").unwrap();
        assert_eq!(
            t.lettre_url,
            "smtp://user:p%40ss@mail.example.com:587?tls=required"
        );
        assert_eq!(t.display, "smtp://mail.example.com:587");
        let t = SmtpTarget::parse("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!(t.lettre_url, "smtp://127.0.0.1:2525");
        let t = SmtpTarget::parse("smtp://relay?tls=opportunistic").unwrap();
        assert_eq!(t.lettre_url, "smtp://relay?tls=opportunistic");
        let t = SmtpTarget::parse("smtps://u:p@mail.example.com").unwrap();
        assert_eq!(t.lettre_url, "smtps://u:p@mail.example.com");
        assert_eq!(t.display, "smtps://mail.example.com");
    }

    #[test]
    fn smtp_url_errors_are_typed_and_hide_the_password() {
        for bad in [
            "not a url",
            "http://user:hunter2@mail.example.com",
            "smtp://user:hunter2@mail.example.com?tls=maybe",
            "smtps://user:hunter2@mail.example.com?tls=none",
            "smtp://user:hunter2@mail.example.com?foo=bar",
            "smtp://user:hunter2@mail.example.com?tls=none&tls=required",
            "smtp:///nohost",
        ] {
            let err = check_smtp_url(bad).unwrap_err();
            assert!(matches!(err, MailError::InvalidSmtpUrl(_)), "{bad}: {err}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        check_smtp_url("smtp://user:hunter2@mail.example.com:587").unwrap();
    }

    #[test]
    fn smtp_mailer_builds_outside_a_runtime() {
        // No connection pool: building spawns nothing, so no runtime needed.
        let mailer =
            Mailer::from_config(Some("smtp://127.0.0.1:2525?tls=none"), "a@b.example").unwrap();
        assert!(matches!(mailer, Mailer::Smtp(_)));
    }

    #[test]
    fn bad_sender_is_typed() {
        let err = Mailer::from_config(None, "not an address").unwrap_err();
        assert!(matches!(err, MailError::InvalidFrom(_)));
    }

    #[tokio::test]
    async fn smtp_debug_hides_credentials() {
        let mailer = Mailer::from_config(
            Some("smtp://bob:hunter2@mail.example.com:587"),
            "a@b.example",
        )
        .unwrap();
        let debug = format!("{mailer:?}");
        assert!(debug.contains("smtp://mail.example.com:587"), "{debug}");
        assert!(!debug.contains("hunter2"));
        assert!(mailer.dev_outbox().is_none());
    }

    /// A minimal SMTP server accepting one session; returns the DATA it got.
    /// Advertises no STARTTLS, like a local relay.
    async fn fake_smtp() -> (u16, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
            let mut data = String::new();
            let mut in_data = false;
            while let Some(line) = lines.next_line().await.unwrap() {
                if in_data {
                    if line == "." {
                        in_data = false;
                        write.write_all(b"250 queued\r\n").await.unwrap();
                    } else {
                        data.push_str(&line);
                        data.push('\n');
                    }
                    continue;
                }
                let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" => b"250-fake\r\n250 8BITMIME\r\n",
                    "DATA" => {
                        in_data = true;
                        b"354 go ahead\r\n"
                    }
                    "QUIT" => {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    }
                    _ => b"250 ok\r\n",
                };
                write.write_all(reply).await.unwrap();
            }
            data
        });
        (port, task)
    }

    #[tokio::test]
    async fn sends_through_a_plain_smtp_relay() {
        let (port, server) = fake_smtp().await;
        let url = format!("smtp://127.0.0.1:{port}?tls=none");
        let mailer = Mailer::from_config(Some(&url), "authn <no-reply@example.com>").unwrap();
        mailer
            .send(mail("alice@example.com", "Open https://x/verify?t=abc"))
            .await
            .unwrap();
        drop(mailer); // closes the connection so the server task ends
        let data = tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap();
        assert!(data.contains("To: alice@example.com"), "{data}");
        assert!(data.contains("Subject: Your link"));
        assert!(data.contains("From: authn <no-reply@example.com>"));
        assert!(data.contains("Open https://x/verify?t=abc"));
    }

    #[tokio::test]
    async fn plain_smtp_url_requires_starttls() {
        // The same relay without tls=none: the mail must not go out in clear.
        let (port, _server) = fake_smtp().await;
        let url = format!("smtp://127.0.0.1:{port}");
        let mailer = Mailer::from_config(Some(&url), "no-reply@example.com").unwrap();
        let err = mailer
            .send(mail("alice@example.com", "secret link"))
            .await
            .unwrap_err();
        assert!(matches!(err, MailError::Send(_)), "{err}");
    }

    #[tokio::test]
    async fn invalid_recipient_is_typed() {
        let mailer =
            Mailer::from_config(Some("smtp://127.0.0.1:1?tls=none"), "no-reply@example.com")
                .unwrap();
        let err = mailer.send(mail("not an address", "x")).await.unwrap_err();
        assert!(matches!(err, MailError::InvalidRecipient));
    }
}
