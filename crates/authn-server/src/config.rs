//! Server configuration, from command-line flags or `AUTHN_*` environment
//! variables (flags win).
//!
//! Lists (`--allowed-origins`, `--admin-keys`, ...) are one comma-separated
//! value ([`CommaList`]); blank items are dropped, so `AUTHN_ADMIN_KEYS=`
//! means no keys rather than one empty key.
//! `Debug` never prints secrets: admin keys and the server key are redacted
//! and passwords inside the database and SMTP URLs are masked.

use std::fmt;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

use crate::client_ip::parse_ip_or_net;
use crate::telemetry::LogFormat;

/// Default `--max-body-bytes`: 64 KiB, far above any auth request body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Shortest accepted bootstrap admin key. Admin keys are bearer secrets with
/// full power; a short one could be guessed.
pub const MIN_ADMIN_KEY_LEN: usize = 16;

/// The SQLite file the server uses, in its data directory, when no
/// database URL is configured.
pub const EMBEDDED_DATABASE_FILE: &str = "authn.db";

/// Where the server's database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// A configured URL (`postgres://` or `sqlite://`).
    Url(String),
    /// The default: a SQLite file in the data directory.
    EmbeddedFile(PathBuf),
}

/// Configuration of `authn serve`. See each field for its flag, variable
/// and default.
#[derive(Clone, clap::Args)]
pub struct ServerConfig {
    /// Address to listen on.
    #[arg(long, env = "AUTHN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Database URL: `postgres://authn:pw@127.0.0.1/authn` (PostgreSQL, any
    /// number of nodes) or `sqlite://path/authn.db` (embedded, one node).
    /// Unset: the SQLite file `authn.db` in the data directory, created
    /// and migrated on first start.
    #[arg(long, env = "AUTHN_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Directory for server state: the server key file, and the SQLite
    /// database when no database URL is set.
    #[arg(long, env = "AUTHN_DATA_DIR", default_value = "./.data")]
    pub data_dir: PathBuf,

    /// URL at which clients reach this server; links in mails start with it,
    /// and `https` here makes cookies `Secure`.
    #[arg(
        long,
        env = "AUTHN_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: Url,

    /// Tenant namespace this server serves.
    #[arg(long, env = "AUTHN_NAMESPACE", default_value = "default")]
    pub namespace: String,

    /// Development mode: enables the development mail outbox route.
    /// The variable accepts true/false, 1/0, yes/no, on/off.
    #[arg(long = "dev", env = "AUTHN_DEV", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub dev_mode: bool,

    /// SMTP server: `smtp://user:pass@host:587` (STARTTLS),
    /// `smtps://user:pass@host:465`, or `smtp://127.0.0.1:2525?tls=none`.
    /// Unset: mails are only logged and kept in memory (development).
    #[arg(long, env = "AUTHN_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender of outgoing mail.
    #[arg(
        long,
        env = "AUTHN_MAIL_FROM",
        default_value = "authn <no-reply@localhost>"
    )]
    pub mail_from: String,

    /// Name of the session cookie.
    #[arg(long, env = "AUTHN_COOKIE_NAME", default_value = "authn_session")]
    pub cookie_name: String,

    /// Origins (`https://app.example.com`) allowed to make cookie-authenticated
    /// state changes. Empty: the public URL's origin only.
    #[arg(long, env = "AUTHN_ALLOWED_ORIGINS", default_value = "", hide_default_value = true,
          value_parser = string_list)]
    pub allowed_origins: CommaList<String>,

    /// URL prefixes a magic link's `redirect_uri` may start with (e.g.
    /// `https://app.example.com/auth/`). Empty: no redirects.
    #[arg(long, env = "AUTHN_REDIRECT_ALLOWLIST", default_value = "", hide_default_value = true,
          value_parser = string_list)]
    pub redirect_allowlist: CommaList<String>,

    /// IPs and CIDR networks of reverse proxies whose `X-Forwarded-For` is
    /// believed. Empty: none (the TCP peer is the client).
    #[arg(long, env = "AUTHN_TRUSTED_PROXIES", default_value = "", hide_default_value = true,
          value_parser = proxy_list)]
    pub trusted_proxies: CommaList<IpNet>,

    /// Sustained requests per minute per client IP on the auth routes.
    #[arg(long = "rate-limit", env = "AUTHN_RATE_LIMIT", default_value_t = 60)]
    pub rate_limit_per_minute: u32,

    /// Requests a client IP may make at once before the rate applies.
    #[arg(long, env = "AUTHN_RATE_LIMIT_BURST", default_value_t = 20)]
    pub rate_limit_burst: u32,

    /// Largest accepted request body in bytes.
    #[arg(long, env = "AUTHN_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// How recent (seconds) the last authentication must be for sensitive
    /// routes (step-up).
    #[arg(long, env = "AUTHN_STEP_UP_MAX_AGE_SECS", default_value_t = 600)]
    pub step_up_max_age_secs: u64,

    /// Issuer shown in authenticator apps.
    #[arg(long, env = "AUTHN_TOTP_ISSUER", default_value = "authn")]
    pub totp_issuer: String,

    /// Bootstrap admin keys (plaintext, at least 16 characters each).
    /// Prefer the variable to the flag: flags show in `ps`.
    #[arg(long, env = "AUTHN_ADMIN_KEYS", default_value = "", hide_default_value = true,
          value_parser = string_list, hide_env_values = true)]
    pub admin_keys: CommaList<String>,

    /// Server key (base64 of 32 bytes) instead of the key file in the data
    /// directory.
    #[arg(long, env = "AUTHN_SERVER_KEY", hide_env_values = true)]
    pub server_key: Option<String>,

    /// Seconds between removals of expired sessions, tokens and attempts.
    #[arg(long, env = "AUTHN_CLEANUP_INTERVAL_SECS", default_value_t = 300)]
    pub cleanup_interval_secs: u64,

    /// Password hashes computed at once. Default: available CPUs.
    #[arg(long, env = "AUTHN_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,

    /// Password hashes that may wait for a slot before `503 server_busy`.
    /// Default: 8 × the concurrency.
    #[arg(long, env = "AUTHN_HASH_QUEUE")]
    pub hash_queue: Option<usize>,

    /// Log format.
    #[arg(long, env = "AUTHN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// A comma-separated list setting: items are trimmed (`a, b` works) and
/// blank ones dropped. Derefs to the `Vec` of items.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommaList<T>(pub Vec<T>);

impl<T> CommaList<T> {
    /// Splits `s` on commas and parses each non-blank, trimmed item.
    pub fn parse_with<E>(s: &str, item: impl Fn(&str) -> Result<T, E>) -> Result<Self, E> {
        s.split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(item)
            .collect::<Result<_, _>>()
            .map(CommaList)
    }
}

impl<T> Deref for CommaList<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> DerefMut for CommaList<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<'a, T> IntoIterator for &'a CommaList<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T> From<Vec<T>> for CommaList<T> {
    fn from(items: Vec<T>) -> Self {
        Self(items)
    }
}

/// clap value parser of a list of strings.
fn string_list(s: &str) -> Result<CommaList<String>, std::convert::Infallible> {
    CommaList::parse_with(s, |i| Ok(i.to_owned()))
}

/// clap value parser of a list of proxy addresses and networks.
fn proxy_list(s: &str) -> Result<CommaList<IpNet>, crate::client_ip::InvalidProxy> {
    CommaList::parse_with(s, parse_ip_or_net)
}

/// Why a configuration is unusable. Messages never contain secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The public URL is not an `http(s)` URL with a host, or carries
    /// credentials, a query or a fragment.
    #[error("invalid public URL {url}: {reason}")]
    PublicUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An allowed origin is not of the form `scheme://host[:port]`.
    #[error("invalid allowed origin {value:?}: {reason}")]
    AllowedOrigin {
        /// The entry.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A redirect allowlist entry is not an absolute `http(s)` URL.
    #[error("invalid redirect allowlist entry {value:?}: {reason}")]
    RedirectPrefix {
        /// The entry.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The cookie name is empty or not an RFC 6265 token.
    #[error("invalid cookie name {0:?}: must be non-empty letters, digits or !#$%&'*+-.^_`|~")]
    CookieName(String),
    /// A limit that must be positive is zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    /// A text setting is empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// The mail sender is not a valid mailbox.
    #[error("invalid mail sender {value:?}: {reason}")]
    MailFrom {
        /// The sender.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// The SMTP URL is unusable (the reason never repeats the URL).
    #[error("invalid SMTP URL: {0}")]
    SmtpUrl(String),
    /// The database URL is not a URL (not repeated: it may hold a password).
    #[error("invalid database URL: {0}")]
    DatabaseUrl(String),
    /// The server key is not base64 of 32 bytes.
    #[error("invalid server key: {0}")]
    ServerKey(String),
    /// An admin key is too short (keys are numbered from 1, never shown).
    #[error("admin key #{0} is shorter than {MIN_ADMIN_KEY_LEN} characters")]
    AdminKeyTooShort(usize),
}

impl ServerConfig {
    /// Checks everything clap's types cannot: URLs, origins, cookie name,
    /// non-zero limits, sender address, SMTP URL, server key, admin keys.
    /// Returns the first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_public_url()?;
        for value in &self.allowed_origins {
            parse_origin(value).map_err(|reason| ConfigError::AllowedOrigin {
                value: value.clone(),
                reason,
            })?;
        }
        for value in &self.redirect_allowlist {
            parse_redirect_prefix(value).map_err(|reason| ConfigError::RedirectPrefix {
                value: value.clone(),
                reason,
            })?;
        }
        if !is_cookie_token(&self.cookie_name) {
            return Err(ConfigError::CookieName(self.cookie_name.clone()));
        }
        for (name, value) in [
            (
                "rate_limit_per_minute",
                u64::from(self.rate_limit_per_minute),
            ),
            ("rate_limit_burst", u64::from(self.rate_limit_burst)),
            ("max_body_bytes", self.max_body_bytes as u64),
            ("step_up_max_age_secs", self.step_up_max_age_secs),
            ("cleanup_interval_secs", self.cleanup_interval_secs),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        if self.hash_concurrency == Some(0) {
            return Err(ConfigError::Zero("hash_concurrency"));
        }
        for (name, value) in [
            ("namespace", &self.namespace),
            ("totp_issuer", &self.totp_issuer),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::Empty(name));
            }
        }
        self.mail_from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| ConfigError::MailFrom {
                value: self.mail_from.clone(),
                reason: e.to_string(),
            })?;
        if let Some(url) = &self.smtp_url {
            crate::mail::check_smtp_url(url).map_err(|e| match e {
                crate::mail::MailError::InvalidSmtpUrl(reason) => ConfigError::SmtpUrl(reason),
                other => ConfigError::SmtpUrl(other.to_string()),
            })?;
        }
        if let Some(url) = &self.database_url {
            let backend = authn_store::Backend::of_url(url).map_err(|_| {
                ConfigError::DatabaseUrl("must be a postgres:// or sqlite:// URL".into())
            })?;
            // A sqlite: URL is a path, not a host (`sqlite://my dir/authn.db`
            // is fine): the SQLite store checks it when it opens it.
            if backend == authn_store::Backend::Postgres {
                Url::parse(url).map_err(|e| ConfigError::DatabaseUrl(e.to_string()))?;
            }
        }
        if let Some(key) = &self.server_key {
            crate::keys::from_env_key(key).map_err(|e| ConfigError::ServerKey(e.to_string()))?;
        }
        if let Some(i) = self
            .admin_keys
            .iter()
            .position(|k| k.chars().count() < MIN_ADMIN_KEY_LEN)
        {
            return Err(ConfigError::AdminKeyTooShort(i + 1));
        }
        Ok(())
    }

    /// Where the database is: the configured URL, or the embedded SQLite
    /// file in the data directory.
    pub fn database(&self) -> DatabaseLocation {
        match &self.database_url {
            Some(url) => DatabaseLocation::Url(url.clone()),
            None => DatabaseLocation::EmbeddedFile(self.data_dir.join(EMBEDDED_DATABASE_FILE)),
        }
    }

    fn validate_public_url(&self) -> Result<(), ConfigError> {
        let url = &self.public_url;
        let err = |reason| ConfigError::PublicUrl {
            url: url.to_string(),
            reason,
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(err("scheme must be http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(err("no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(err("must not contain credentials"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(err("must not have a query or fragment"));
        }
        Ok(())
    }

    /// The public URL's origin, e.g. `https://auth.example.com`.
    pub fn public_origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }

    /// Whether cookies get the `Secure` attribute (public URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// Origins allowed for cookie-authenticated state changes, normalized
    /// like browsers send them in `Origin` (lowercase host, default port
    /// dropped): the configured ones, or the public origin when none is.
    /// Invalid entries are skipped; [`validate`](Self::validate) reports them.
    pub fn effective_allowed_origins(&self) -> Vec<String> {
        if self.allowed_origins.is_empty() {
            return vec![self.public_origin()];
        }
        self.allowed_origins
            .iter()
            .filter_map(|o| parse_origin(o).ok())
            .collect()
    }

    /// Whether a magic link may redirect to `uri`: an absolute http(s) URL
    /// without credentials, with the same origin as an allowlist entry and a
    /// path starting with that entry's path. Compared after URL
    /// normalization, so `https://app.example.com.evil.test` or
    /// `https://app.example.com@evil.test` never pass for
    /// `https://app.example.com`.
    pub fn redirect_allowed(&self, uri: &str) -> bool {
        let Ok(target) = Url::parse(uri) else {
            return false;
        };
        if !matches!(target.scheme(), "http" | "https")
            || !target.username().is_empty()
            || target.password().is_some()
        {
            return false;
        }
        self.redirect_allowlist
            .iter()
            .filter_map(|p| parse_redirect_prefix(p).ok())
            .any(|prefix| {
                prefix.origin() == target.origin() && target.path().starts_with(prefix.path())
            })
    }

    /// Password hashes computed at once: the configured value, else the
    /// available CPUs (argon2 with p=1 uses one core per hash).
    pub fn effective_hash_concurrency(&self) -> usize {
        self.hash_concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        })
    }

    /// Password hashes that may wait: the configured value, else 8 × the
    /// concurrency (the same rule as `authn_core`'s `PasswordHasher::for_machine`).
    pub fn effective_hash_queue(&self) -> usize {
        self.hash_queue
            .unwrap_or_else(|| self.effective_hash_concurrency().saturating_mul(8))
    }

    /// [`step_up_max_age_secs`](Self::step_up_max_age_secs) as a duration.
    pub fn step_up_max_age(&self) -> Duration {
        Duration::from_secs(self.step_up_max_age_secs)
    }

    /// [`cleanup_interval_secs`](Self::cleanup_interval_secs) as a duration.
    pub fn cleanup_interval(&self) -> Duration {
        Duration::from_secs(self.cleanup_interval_secs)
    }
}

/// `scheme://host[:port]` -> its serialized origin.
fn parse_origin(value: &str) -> Result<String, &'static str> {
    let url = Url::parse(value).map_err(|_| "not a URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("scheme must be http or https");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host");
    }
    if url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err("an origin is only scheme://host[:port]");
    }
    Ok(url.origin().ascii_serialization())
}

fn parse_redirect_prefix(value: &str) -> Result<Url, &'static str> {
    let url = Url::parse(value).map_err(|_| "not an absolute URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("scheme must be http or https");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment");
    }
    Ok(url)
}

/// RFC 6265 cookie-name: an RFC 2616 token.
fn is_cookie_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Masks the password (and password-like query values) of a URL for logs.
pub(crate) fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else {
        return "<unparsable URL, redacted>".to_owned();
    };
    if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
        return "<URL, redacted>".to_owned();
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let secret = ["pass", "secret", "key", "token"]
                    .iter()
                    .any(|s| k.to_ascii_lowercase().contains(s));
                let v = if secret { "***".into() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.into()
}

/// Stands in for a secret in `Debug` output.
struct Redacted(&'static str);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field does not compile until it is
        // listed here, with a decision on whether it is secret.
        let Self {
            listen,
            database_url,
            data_dir,
            public_url,
            namespace,
            dev_mode,
            smtp_url,
            mail_from,
            cookie_name,
            allowed_origins,
            redirect_allowlist,
            trusted_proxies,
            rate_limit_per_minute,
            rate_limit_burst,
            max_body_bytes,
            step_up_max_age_secs,
            totp_issuer,
            admin_keys,
            server_key,
            cleanup_interval_secs,
            hash_concurrency,
            hash_queue,
            log_format,
        } = self;
        let admin_keys: Vec<Redacted> = admin_keys.iter().map(|_| Redacted("<redacted>")).collect();
        f.debug_struct("ServerConfig")
            .field("listen", listen)
            .field("database_url", &database_url.as_deref().map(redact_url))
            .field("data_dir", data_dir)
            .field("public_url", &public_url.as_str())
            .field("namespace", namespace)
            .field("dev_mode", dev_mode)
            .field("smtp_url", &smtp_url.as_deref().map(redact_url))
            .field("mail_from", mail_from)
            .field("cookie_name", cookie_name)
            .field("allowed_origins", &allowed_origins.0)
            .field("redirect_allowlist", &redirect_allowlist.0)
            .field("trusted_proxies", &trusted_proxies.0)
            .field("rate_limit_per_minute", rate_limit_per_minute)
            .field("rate_limit_burst", rate_limit_burst)
            .field("max_body_bytes", max_body_bytes)
            .field("step_up_max_age_secs", step_up_max_age_secs)
            .field("totp_issuer", totp_issuer)
            .field("admin_keys", &admin_keys)
            .field(
                "server_key",
                &server_key.as_ref().map(|_| Redacted("<redacted>")),
            )
            .field("cleanup_interval_secs", cleanup_interval_secs)
            .field("hash_concurrency", hash_concurrency)
            .field("hash_queue", hash_queue)
            .field("log_format", log_format)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::test_support::in_child;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        config: ServerConfig,
    }

    fn parse(args: &[&str]) -> Result<ServerConfig, clap::Error> {
        Cli::try_parse_from(std::iter::once("authn").chain(args.iter().copied())).map(|c| c.config)
    }

    const KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn defaults() {
        // In a child with an empty environment: the developer's or CI's
        // AUTHN_* variables must not leak into the defaults.
        if in_child("config::tests::defaults", &[]).is_some() {
            return;
        }
        let c = parse(&[]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.database_url, None);
        assert_eq!(c.data_dir, PathBuf::from("./.data"));
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(c.namespace, "default");
        assert!(!c.dev_mode);
        assert_eq!(c.smtp_url, None);
        assert_eq!(c.mail_from, "authn <no-reply@localhost>");
        assert_eq!(c.cookie_name, "authn_session");
        assert!(c.allowed_origins.is_empty());
        assert!(c.redirect_allowlist.is_empty());
        assert!(c.trusted_proxies.is_empty());
        assert_eq!(c.rate_limit_per_minute, 60);
        assert_eq!(c.rate_limit_burst, 20);
        assert_eq!(c.max_body_bytes, 64 * 1024);
        assert_eq!(c.step_up_max_age(), Duration::from_secs(600));
        assert_eq!(c.totp_issuer, "authn");
        assert!(c.admin_keys.is_empty());
        assert_eq!(c.server_key, None);
        assert_eq!(c.cleanup_interval(), Duration::from_secs(300));
        assert_eq!(c.hash_concurrency, None);
        assert!(c.effective_hash_concurrency() >= 1);
        assert_eq!(c.effective_hash_queue(), 8 * c.effective_hash_concurrency());
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.public_origin(), "http://127.0.0.1:8080");
        assert!(!c.secure_cookies());
        assert_eq!(c.effective_allowed_origins(), ["http://127.0.0.1:8080"]);
        c.validate().unwrap();
    }

    #[test]
    fn from_args() {
        let c = parse(&[
            "--listen",
            "0.0.0.0:9000",
            "--public-url",
            "https://Auth.Example.com:443/base",
            "--dev",
            "--allowed-origins",
            "https://app.example.com, http://localhost:3000",
            "--trusted-proxies",
            "10.0.0.0/8,192.0.2.1",
            "--rate-limit",
            "5",
            "--rate-limit-burst",
            "2",
            "--hash-concurrency",
            "3",
            "--log-format",
            "json",
            "--admin-keys",
            "0123456789abcdef, fedcba9876543210",
        ])
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert!(c.dev_mode);
        assert!(c.secure_cookies());
        assert_eq!(c.public_origin(), "https://auth.example.com");
        assert_eq!(
            c.effective_allowed_origins(),
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(c.rate_limit_per_minute, 5);
        assert_eq!(c.rate_limit_burst, 2);
        assert_eq!(c.effective_hash_concurrency(), 3);
        assert_eq!(c.effective_hash_queue(), 24);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(*c.admin_keys, ["0123456789abcdef", "fedcba9876543210"]);
        c.validate().unwrap();
    }

    #[test]
    fn parse_errors_from_clap() {
        assert!(parse(&["--listen", "nope"]).is_err());
        assert!(parse(&["--public-url", "not a url"]).is_err());
        assert!(parse(&["--trusted-proxies", "10.0.0.0/8,bogus"]).is_err());
        assert!(parse(&["--rate-limit", "-1"]).is_err());
        assert!(parse(&["--log-format", "xml"]).is_err());
    }

    #[test]
    fn from_env() {
        let envs = [
            ("AUTHN_LISTEN", "127.0.0.1:7000"),
            ("AUTHN_DATABASE_URL", "postgres://authn:pw@db/authn"),
            ("AUTHN_DATA_DIR", "/var/lib/authn"),
            ("AUTHN_PUBLIC_URL", "https://auth.example.com"),
            ("AUTHN_NAMESPACE", "acme"),
            ("AUTHN_DEV", "true"),
            ("AUTHN_SMTP_URL", "smtps://u:p@mail.example.com"),
            ("AUTHN_MAIL_FROM", "Acme <auth@example.com>"),
            ("AUTHN_COOKIE_NAME", "sid"),
            (
                "AUTHN_ALLOWED_ORIGINS",
                "https://a.example.com,https://b.example.com",
            ),
            ("AUTHN_REDIRECT_ALLOWLIST", "https://a.example.com/cb"),
            ("AUTHN_TRUSTED_PROXIES", "10.0.0.1"),
            ("AUTHN_RATE_LIMIT", "30"),
            ("AUTHN_RATE_LIMIT_BURST", "10"),
            ("AUTHN_MAX_BODY_BYTES", "1024"),
            ("AUTHN_STEP_UP_MAX_AGE_SECS", "60"),
            ("AUTHN_TOTP_ISSUER", "Acme"),
            ("AUTHN_ADMIN_KEYS", "admin-key-0123456789"),
            ("AUTHN_SERVER_KEY", KEY_B64),
            ("AUTHN_CLEANUP_INTERVAL_SECS", "30"),
            ("AUTHN_HASH_CONCURRENCY", "2"),
            ("AUTHN_HASH_QUEUE", "7"),
            ("AUTHN_LOG_FORMAT", "json"),
        ];
        if in_child("config::tests::from_env", &envs).is_some() {
            return;
        }
        let c = parse(&[]).unwrap();
        assert_eq!(c.listen.port(), 7000);
        assert_eq!(
            c.database_url.as_deref(),
            Some("postgres://authn:pw@db/authn")
        );
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/authn"));
        assert!(c.secure_cookies());
        assert_eq!(c.namespace, "acme");
        assert!(c.dev_mode);
        assert_eq!(c.smtp_url.as_deref(), Some("smtps://u:p@mail.example.com"));
        assert_eq!(c.mail_from, "Acme <auth@example.com>");
        assert_eq!(c.cookie_name, "sid");
        assert_eq!(c.allowed_origins.len(), 2);
        assert_eq!(*c.redirect_allowlist, ["https://a.example.com/cb"]);
        assert_eq!(
            *c.trusted_proxies,
            ["10.0.0.1/32".parse::<IpNet>().unwrap()]
        );
        assert_eq!(c.rate_limit_per_minute, 30);
        assert_eq!(c.rate_limit_burst, 10);
        assert_eq!(c.max_body_bytes, 1024);
        assert_eq!(c.step_up_max_age_secs, 60);
        assert_eq!(c.totp_issuer, "Acme");
        assert_eq!(*c.admin_keys, ["admin-key-0123456789"]);
        assert_eq!(c.server_key.as_deref(), Some(KEY_B64));
        assert_eq!(c.cleanup_interval_secs, 30);
        assert_eq!(c.effective_hash_concurrency(), 2);
        assert_eq!(c.effective_hash_queue(), 7);
        assert_eq!(c.log_format, LogFormat::Json);
        c.validate().unwrap();
        // Flags win over the environment.
        let c = parse(&["--namespace", "flag"]).unwrap();
        assert_eq!(c.namespace, "flag");
    }

    #[test]
    fn empty_list_variables_mean_empty_lists() {
        let envs = [
            ("AUTHN_ADMIN_KEYS", ""),
            ("AUTHN_TRUSTED_PROXIES", " "),
            ("AUTHN_ALLOWED_ORIGINS", "https://a.example.com,,"),
            ("AUTHN_REDIRECT_ALLOWLIST", ""),
        ];
        if in_child(
            "config::tests::empty_list_variables_mean_empty_lists",
            &envs,
        )
        .is_some()
        {
            return;
        }
        let c = parse(&[]).unwrap();
        assert!(c.admin_keys.is_empty());
        assert!(c.trusted_proxies.is_empty());
        assert_eq!(*c.allowed_origins, ["https://a.example.com"]);
        assert!(c.redirect_allowlist.is_empty());
        c.validate().unwrap();
    }

    #[test]
    fn dev_flag_from_env_accepts_false() {
        if in_child(
            "config::tests::dev_flag_from_env_accepts_false",
            &[("AUTHN_DEV", "false")],
        )
        .is_some()
        {
            return;
        }
        assert!(!parse(&[]).unwrap().dev_mode);
    }

    #[test]
    fn dev_flag_from_env_accepts_1() {
        if in_child(
            "config::tests::dev_flag_from_env_accepts_1",
            &[("AUTHN_DEV", "1")],
        )
        .is_some()
        {
            return;
        }
        assert!(parse(&[]).unwrap().dev_mode);
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = parse(&[
            "--admin-keys",
            "super-secret-admin-key-1,super-secret-admin-key-2",
            "--server-key",
            KEY_B64,
            "--database-url",
            "postgres://authn:dbpass123@db/authn?sslpassword=sslpass456&sslmode=require",
            "--smtp-url",
            "smtp://mailer:smtppass789@mail.example.com:587",
        ])
        .unwrap();
        let debug = format!("{c:?}");
        for secret in [
            "super-secret",
            KEY_B64,
            "dbpass123",
            "sslpass456",
            "smtppass789",
        ] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        assert!(debug.contains("postgres://authn:***@db/authn"), "{debug}");
        assert!(debug.contains("sslmode=require"));
        assert!(debug.contains("mail.example.com:587"));
        assert!(
            debug.contains("admin_keys: [<redacted>, <redacted>]"),
            "{debug}"
        );
        assert!(debug.contains("server_key: Some(<redacted>)"));
        // The pretty form too.
        assert!(!format!("{c:#?}").contains("super-secret"));
    }

    #[test]
    fn help_does_not_show_secret_env_values() {
        // clap prints env values in --help unless hidden; make sure the
        // secret ones are. (Checked on the command definition, no env needed.)
        use clap::CommandFactory;
        let cmd = Cli::command();
        for id in ["admin_keys", "server_key", "database_url", "smtp_url"] {
            let arg = cmd.get_arguments().find(|a| a.get_id() == id).unwrap();
            assert!(arg.is_hide_env_values_set(), "{id}");
        }
    }

    fn valid() -> ServerConfig {
        parse(&[]).unwrap()
    }

    #[test]
    fn validation_errors_are_typed() {
        let check = |f: &dyn Fn(&mut ServerConfig)| {
            let mut c = valid();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(matches!(
            check(&|c| c.public_url = Url::parse("ftp://example.com").unwrap()),
            ConfigError::PublicUrl { .. }
        ));
        assert!(matches!(
            check(&|c| c.public_url = Url::parse("https://u:p@example.com").unwrap()),
            ConfigError::PublicUrl { .. }
        ));
        assert!(matches!(
            check(&|c| c.public_url = Url::parse("https://example.com/?x=1").unwrap()),
            ConfigError::PublicUrl { .. }
        ));
        assert_eq!(
            check(&|c| c.cookie_name = String::new()),
            ConfigError::CookieName(String::new())
        );
        assert!(matches!(
            check(&|c| c.cookie_name = "my cookie".into()),
            ConfigError::CookieName(_)
        ));
        assert_eq!(
            check(&|c| c.rate_limit_per_minute = 0),
            ConfigError::Zero("rate_limit_per_minute")
        );
        assert_eq!(
            check(&|c| c.rate_limit_burst = 0),
            ConfigError::Zero("rate_limit_burst")
        );
        assert_eq!(
            check(&|c| c.max_body_bytes = 0),
            ConfigError::Zero("max_body_bytes")
        );
        assert_eq!(
            check(&|c| c.step_up_max_age_secs = 0),
            ConfigError::Zero("step_up_max_age_secs")
        );
        assert_eq!(
            check(&|c| c.cleanup_interval_secs = 0),
            ConfigError::Zero("cleanup_interval_secs")
        );
        assert_eq!(
            check(&|c| c.hash_concurrency = Some(0)),
            ConfigError::Zero("hash_concurrency")
        );
        assert_eq!(
            check(&|c| c.namespace = " ".into()),
            ConfigError::Empty("namespace")
        );
        for bad in [
            "https://app.example.com/path",
            "app.example.com",
            "null",
            "",
        ] {
            assert!(
                matches!(
                    check(&|c| c.allowed_origins = vec![bad.into()].into()),
                    ConfigError::AllowedOrigin { .. }
                ),
                "{bad}"
            );
        }
        for bad in [
            "/relative",
            "javascript:alert(1)",
            "https://u:p@a.example.com/",
        ] {
            assert!(
                matches!(
                    check(&|c| c.redirect_allowlist = vec![bad.into()].into()),
                    ConfigError::RedirectPrefix { .. }
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            check(&|c| c.mail_from = "nope".into()),
            ConfigError::MailFrom { .. }
        ));
        let err = check(&|c| c.smtp_url = Some("smtp://u:hunter2@host?tls=maybe".into()));
        assert!(matches!(err, ConfigError::SmtpUrl(_)));
        assert!(!err.to_string().contains("hunter2"));
        let err = check(&|c| c.database_url = Some("pw-secret-not-a-url".into()));
        assert!(matches!(err, ConfigError::DatabaseUrl(_)));
        assert!(!err.to_string().contains("pw-secret"));
        let err = check(&|c| c.database_url = Some("mysql://root:pw-secret@db/authn".into()));
        assert!(matches!(err, ConfigError::DatabaseUrl(_)));
        assert!(!err.to_string().contains("pw-secret"));
        // SQLite URLs are paths: a space or a relative first segment is fine
        for url in [
            "sqlite://my dir/authn.db",
            "sqlite:authn.db",
            "sqlite:///var/lib/authn.db",
        ] {
            let mut c = valid();
            c.database_url = Some(url.into());
            assert_eq!(c.validate(), Ok(()), "{url}");
        }
        let err = check(&|c| c.server_key = Some("c2hvcnQ=".into()));
        assert!(matches!(err, ConfigError::ServerKey(_)));
        assert!(!err.to_string().contains("c2hvcnQ"));
        assert_eq!(
            check(&|c| c.admin_keys = vec!["long-enough-admin-key".into(), "short".into()].into()),
            ConfigError::AdminKeyTooShort(2)
        );
    }

    #[test]
    fn redirect_allowlist_matching() {
        let mut c = valid();
        c.redirect_allowlist = vec![
            "https://app.example.com".into(),
            "http://localhost:3000/auth/".into(),
        ]
        .into();
        c.validate().unwrap();
        assert!(c.redirect_allowed("https://app.example.com/"));
        assert!(c.redirect_allowed("https://APP.example.com/welcome?x=1"));
        assert!(c.redirect_allowed("http://localhost:3000/auth/done"));
        assert!(!c.redirect_allowed("http://localhost:3000/other"));
        assert!(!c.redirect_allowed("http://localhost:3001/auth/done"));
        assert!(!c.redirect_allowed("https://app.example.com.evil.test/"));
        assert!(!c.redirect_allowed("https://app.example.com@evil.test/"));
        assert!(!c.redirect_allowed("http://app.example.com/"));
        assert!(!c.redirect_allowed("//evil.test/"));
        assert!(!c.redirect_allowed("javascript:alert(1)"));
        c.redirect_allowlist.clear();
        assert!(!c.redirect_allowed("https://app.example.com/"));
    }
}
