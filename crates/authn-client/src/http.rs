//! The HTTP plumbing every client shares: the base URL, the `reqwest`
//! client (TLS, timeout, user agent), and turning answers into values or
//! [`ClientError`]s.

use std::time::Duration;

use reqwest::header::{HeaderValue, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Url};
use serde::de::DeserializeOwned;

use crate::error::{ClientError, decode};

/// Default time limit of a whole request.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a builder collected.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) base_url: String,
    pub(crate) timeout: Duration,
    pub(crate) user_agent: Option<String>,
}

impl Config {
    pub(crate) fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            user_agent: None,
        }
    }
}

/// A configured HTTP client bound to one server.
#[derive(Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
    /// Always ends with `/`, so relative paths join under any path prefix
    /// (a server behind `https://example.com/auth/`).
    base: Url,
}

impl Http {
    pub(crate) fn new(cfg: &Config) -> Result<Self, ClientError> {
        let base = base_url(&cfg.base_url)?;
        let user_agent = match &cfg.user_agent {
            Some(ua) => HeaderValue::from_str(ua)
                .map_err(|_| ClientError::InvalidHeader { name: "user-agent" })?,
            None => HeaderValue::from_static(concat!("authn-client/", env!("CARGO_PKG_VERSION"))),
        };
        let builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .user_agent(user_agent)
            // An API client has no use for redirects, and following one
            // would turn a POST into a GET.
            .redirect(reqwest::redirect::Policy::none());
        let client = with_tls(builder)?
            .build()
            .map_err(ClientError::from_reqwest)?;
        Ok(Self { client, base })
    }

    /// The URL of `path` (relative, without a leading `/`).
    pub(crate) fn url(&self, path: &str) -> Result<Url, ClientError> {
        self.base.join(path).map_err(|_| ClientError::InvalidUrl)
    }

    /// A request to `path` with `query` pairs (`None` values left out).
    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, Option<String>)],
    ) -> Result<RequestBuilder, ClientError> {
        let mut url = self.url(path)?;
        if query.iter().any(|(_, v)| v.is_some()) {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                if let Some(v) = v {
                    pairs.append_pair(k, v);
                }
            }
        }
        Ok(self.client.request(method, url))
    }

    /// Sends `req`; a non-2xx answer becomes [`ClientError::Api`]. Returns
    /// the body of a successful answer.
    pub(crate) async fn send(&self, req: RequestBuilder) -> Result<Vec<u8>, ClientError> {
        let resp = req.send().await.map_err(ClientError::from_reqwest)?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.bytes().await.map_err(ClientError::from_reqwest)?;
        if status.is_success() {
            Ok(body.to_vec())
        } else {
            Err(ClientError::from_answer(
                status.as_u16(),
                retry_after.as_deref(),
                &body,
            ))
        }
    }

    /// Sends `req` and parses the JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        req: RequestBuilder,
    ) -> Result<T, ClientError> {
        decode(&self.send(req).await?)
    }

    /// Sends `req` and ignores the body of a successful answer.
    pub(crate) async fn empty(&self, req: RequestBuilder) -> Result<(), ClientError> {
        self.send(req).await.map(drop)
    }
}

/// Checks the base URL and makes it end with `/`.
fn base_url(raw: &str) -> Result<Url, ClientError> {
    let mut url = Url::parse(raw).map_err(|_| ClientError::InvalidUrl)?;
    // https needs the `tls` feature: refuse it here rather than at the
    // first request.
    let scheme_ok = url.scheme() == "http" || (url.scheme() == "https" && cfg!(feature = "tls"));
    if !scheme_ok
        || url.host().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(ClientError::InvalidUrl);
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// rustls with the ring provider and the operating system's certificate
/// verifier, handed to this client only: no process-wide default provider
/// is installed, so the application's own rustls setup is left alone.
#[cfg(feature = "tls")]
fn with_tls(builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, ClientError> {
    use std::sync::Arc;

    use rustls_platform_verifier::BuilderVerifierExt;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map_err(|e| ClientError::Tls(Box::new(e)))?
        .with_no_client_auth();
    Ok(builder.tls_backend_preconfigured(config))
}

#[cfg(not(feature = "tls"))]
fn with_tls(builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, ClientError> {
    Ok(builder)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let ok = |s: &str| base_url(s).map(|u| u.to_string()).ok();
        assert_eq!(
            ok("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080/")
        );
        assert_eq!(
            ok("https://example.com/auth").as_deref(),
            Some("https://example.com/auth/")
        );
        assert_eq!(
            ok("https://example.com/auth/").as_deref(),
            Some("https://example.com/auth/")
        );
        for bad in [
            "",
            "example.com",
            "ftp://example.com",
            "http://example.com/?a=b",
            "http://example.com/#x",
            "http://user:pw@example.com",
            "unix:/tmp/sock",
        ] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_join_under_a_prefix() {
        let http = Http::new(&Config::new("http://example.com/auth")).unwrap();
        assert_eq!(
            http.url("api/v1/auth/login").unwrap().as_str(),
            "http://example.com/auth/api/v1/auth/login"
        );
        let req = http
            .request(
                Method::GET,
                "api/v1/users",
                &[
                    ("email", Some("a+b@example.com".to_owned())),
                    ("cursor", None),
                ],
            )
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            req.url().as_str(),
            "http://example.com/auth/api/v1/users?email=a%2Bb%40example.com"
        );
    }

    #[cfg(feature = "tls")]
    #[test]
    fn https_client_builds_without_a_default_provider() {
        // No `CryptoProvider::install_default` anywhere: the client must
        // carry its own.
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
        Http::new(&Config::new("https://example.com")).unwrap();
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    }
}
