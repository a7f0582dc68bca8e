//! The one error type of the SDK, and how error answers of the server are
//! read into it.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// Everything that can go wrong when calling the authn server.
///
/// Server answers with an error status become [`ClientError::Api`], with
/// the contract's `error` slug (match on it with [`ClientError::is`]).
/// No variant ever holds a session token, an admin key or a password:
/// URLs are stripped from transport errors (magic-link and verification
/// tokens travel in query strings), and decode errors keep only the
/// position and category, never the offending value.
///
/// # Example
///
/// ```no_run
/// # async fn run(auth: authn_client::AuthClient) {
/// match auth.login("alice@example.com", "wrong").await {
///     Err(e) if e.is("invalid_credentials") => println!("try again"),
///     Err(e) if e.is("account_locked") => {
///         println!("locked, retry in {:?}", e.retry_after());
///     }
///     Err(e) => println!("error: {e}"),
///     Ok(_) => println!("logged in"),
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an error status.
    #[error("{status} {error}: {message}")]
    Api {
        /// HTTP status, e.g. `401`.
        status: u16,
        /// The machine-readable slug, e.g. `invalid_credentials`; `unknown`
        /// when the answer was not in the API's error format (a proxy page).
        error: String,
        /// The server's human-readable text.
        message: String,
        /// The `Retry-After` header (`429 account_locked`,
        /// `429 too_many_attempts`, `503 server_busy`).
        retry_after: Option<Duration>,
        /// For `403 step_up_required`: how recent, in seconds, the second
        /// factor must be.
        max_age: Option<u64>,
    },
    /// No answer within the client's timeout.
    #[error("the request to the authn server timed out")]
    Timeout,
    /// The request could not be sent or the answer not received
    /// (connection refused, TLS, DNS ...).
    #[error("could not reach the authn server")]
    Transport(#[source] reqwest::Error),
    /// The server's answer was not the JSON this SDK expects.
    #[error("unexpected answer from the authn server")]
    Decode(#[source] DecodeError),
    /// The base URL is not an absolute `http` or `https` URL without query
    /// or fragment (or `https` without the `tls` feature).
    #[error("invalid base URL")]
    InvalidUrl,
    /// A header value (admin key, user agent, actor context) contains
    /// characters HTTP headers cannot carry.
    #[error("invalid value for the {name} header")]
    InvalidHeader {
        /// The header, e.g. `x-reason`.
        name: &'static str,
    },
    /// The TLS configuration could not be built (no usable root
    /// certificates on this system, for instance).
    #[error("could not set up TLS")]
    Tls(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The call needs a session and the client has none (log in first).
    #[error("not authenticated: log in first")]
    NotAuthenticated,
}

impl ClientError {
    /// Whether this is a server answer with the `error` slug `slug`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// if let Err(e) = auth.change_password("old", "new long passphrase").await {
    ///     if e.is("step_up_required") {
    ///         // ask for a TOTP code, call `auth.mfa().challenge(code)`, retry
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn is(&self, slug: &str) -> bool {
        matches!(self, Self::Api { error, .. } if error == slug)
    }

    /// The HTTP status of a server answer; `None` for errors without one.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) {
    /// if let Err(e) = auth.me().await {
    ///     if e.status() == Some(401) {
    ///         println!("session expired");
    ///     }
    /// }
    /// # }
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How long the server asked to wait (`Retry-After`), if it did.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) {
    /// if let Err(e) = auth.login("alice@example.com", "pw").await {
    ///     if let Some(wait) = e.retry_after() {
    ///         println!("retry in {} s", wait.as_secs());
    ///     }
    /// }
    /// # }
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// For `step_up_required`: the freshness the server demands, in seconds.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) {
    /// if let Err(e) = auth.delete_me().await {
    ///     if let Some(secs) = e.max_age() {
    ///         println!("confirm with a code (needed within {secs} s)");
    ///     }
    /// }
    /// # }
    /// ```
    pub fn max_age(&self) -> Option<u64> {
        match self {
            Self::Api { max_age, .. } => *max_age,
            _ => None,
        }
    }

    /// A transport error, without its URL: magic-link and verification
    /// tokens travel in query strings.
    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout
        } else {
            Self::Transport(e.without_url())
        }
    }

    /// A server answer with an error status: the API's `{error, message,
    /// max_age}` body when there is one, else `unknown` and the status text.
    pub(crate) fn from_answer(status: u16, retry_after: Option<&str>, body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Body {
            error: Option<String>,
            message: Option<String>,
            max_age: Option<u64>,
        }
        let parsed = serde_json::from_slice::<Body>(body).ok();
        let reason = reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("error");
        let (error, message, max_age) = match parsed {
            Some(b) => (b.error, b.message, b.max_age),
            None => (None, None, None),
        };
        Self::Api {
            status,
            error: error.unwrap_or_else(|| "unknown".to_owned()),
            message: message.unwrap_or_else(|| reason.to_lowercase()),
            // Only delta-seconds: the server never sends an HTTP date.
            retry_after: retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
            max_age,
        }
    }
}

/// Why the server's answer could not be read: the position and kind of the
/// problem, never the offending value (it could be a token).
///
/// # Example
///
/// ```no_run
/// # async fn run(auth: authn_client::AuthClient) {
/// if let Err(authn_client::ClientError::Decode(e)) = auth.me().await {
///     eprintln!("server/SDK version mismatch? {e}");
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct DecodeError(DecodeKind);

#[derive(Debug)]
enum DecodeKind {
    Json {
        line: usize,
        column: usize,
        category: serde_json::error::Category,
    },
    // Only the axum guard checks for fields the server must send.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    Missing(&'static str),
}

impl DecodeError {
    pub(crate) fn json(e: &serde_json::Error) -> Self {
        Self(DecodeKind::Json {
            line: e.line(),
            column: e.column(),
            category: e.classify(),
        })
    }

    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn missing(field: &'static str) -> Self {
        Self(DecodeKind::Missing(field))
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            DecodeKind::Json {
                line,
                column,
                category,
            } => {
                let what = match category {
                    serde_json::error::Category::Io => "read error",
                    serde_json::error::Category::Syntax => "invalid JSON",
                    serde_json::error::Category::Data => "unexpected fields or types",
                    serde_json::error::Category::Eof => "truncated JSON",
                };
                write!(f, "{what} at line {line} column {column}")
            }
            DecodeKind::Missing(field) => write!(f, "missing field `{field}`"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Parses a JSON answer into `T`, keeping only a value-free description of
/// any failure.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|e| ClientError::Decode(DecodeError::json(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_body_is_read() {
        let e = ClientError::from_answer(
            401,
            None,
            br#"{"error":"invalid_credentials","message":"invalid email or password"}"#,
        );
        assert!(e.is("invalid_credentials"));
        assert!(!e.is("unauthorized"));
        assert_eq!(e.status(), Some(401));
        assert_eq!(e.retry_after(), None);
        assert_eq!(e.max_age(), None);
        assert_eq!(
            e.to_string(),
            "401 invalid_credentials: invalid email or password"
        );
    }

    #[test]
    fn retry_after_and_max_age() {
        let e = ClientError::from_answer(
            429,
            Some("17"),
            br#"{"error":"account_locked","message":"account locked"}"#,
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(17)));
        let e = ClientError::from_answer(
            403,
            None,
            br#"{"error":"step_up_required","message":"recent authentication required","max_age":600}"#,
        );
        assert!(e.is("step_up_required"));
        assert_eq!(e.max_age(), Some(600));
        // An HTTP date is not understood: no guess.
        let e = ClientError::from_answer(503, Some("Wed, 21 Oct 2015 07:28:00 GMT"), b"{}");
        assert_eq!(e.retry_after(), None);
    }

    #[test]
    fn non_api_answers_get_unknown() {
        let e = ClientError::from_answer(502, None, b"<html>Bad Gateway</html>");
        assert!(e.is("unknown"));
        assert_eq!(e.status(), Some(502));
        assert_eq!(e.to_string(), "502 unknown: bad gateway");
        let e = ClientError::from_answer(404, None, b"");
        assert!(e.is("unknown"));
    }

    #[test]
    fn decode_errors_do_not_quote_values() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct T {
            n: u64,
        }
        let Err(e) = decode::<T>(br#"{"n":"secret-token-value"}"#) else {
            unreachable!("must fail");
        };
        let text = format!(
            "{e} {:?}",
            std::error::Error::source(&e).map(|s| s.to_string())
        );
        assert!(!text.contains("secret-token-value"), "{text}");
        assert!(text.contains("line 1"), "{text}");
    }

    #[test]
    fn other_helpers_are_none_off_api_errors() {
        let e = ClientError::NotAuthenticated;
        assert_eq!(e.status(), None);
        assert!(!e.is("unauthorized"));
        assert_eq!(ClientError::Timeout.retry_after(), None);
    }
}
