//! TOTP second factor: enroll, verify, challenge, recovery codes, disable.

use std::sync::Arc;

use reqwest::{Method, RequestBuilder};
use serde::Serialize;

use crate::error::ClientError;
use crate::http::Http;
use crate::session::{Session, SessionToken};
use crate::types::{Enrollment, MfaStatus, RecoveryCodesBody, User, UserWithToken};

const MFA: &str = "api/v1/auth/mfa";

/// The MFA client of a user, on the [`Session`] of the
/// [`AuthClient`](crate::AuthClient) it came from
/// ([`AuthClient::mfa`](crate::AuthClient::mfa)): a challenge answered here
/// upgrades the session every client of that `AuthClient` uses.
///
/// # Example
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use authn_client::{AuthClient, compute_totp};
///
/// let auth = AuthClient::new("https://auth.example.com")?;
/// let _ = auth.login("alice@example.com", "correct horse battery staple").await?;
/// let mfa = auth.mfa();
/// let e = mfa.enroll().await?;
/// let recovery_codes = mfa.verify(&compute_totp(&e.secret)?).await?;
/// println!("keep these safe: {recovery_codes:?}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct MfaClient {
    http: Arc<Http>,
    session: Session,
}

#[derive(Serialize)]
struct CodeBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
}

impl MfaClient {
    pub(crate) fn new(http: Arc<Http>, session: Session) -> Self {
        Self { http, session }
    }

    /// The session this client uses.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run(auth: authn_client::AuthClient) {
    /// let mfa = auth.mfa();
    /// assert_eq!(mfa.session().has_token(), auth.session().has_token());
    /// # }
    /// ```
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Starts TOTP enrollment (`POST /auth/mfa/enroll`): a new secret and
    /// its `otpauth://` URI. Enrolling again before
    /// [`verify`](MfaClient::verify) replaces the pending secret.
    ///
    /// # Errors
    ///
    /// `409 mfa_already_enabled`; [`ClientError::NotAuthenticated`].
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// let e = auth.mfa().enroll().await?;
    /// println!("render as QR: {}", e.otpauth_url);
    /// # Ok(()) }
    /// ```
    pub async fn enroll(&self) -> Result<Enrollment, ClientError> {
        let req = self.authed(Method::POST, "/enroll")?;
        self.http.json(req).await
    }

    /// Confirms enrollment with a first code (`POST /auth/mfa/verify`) and
    /// returns the recovery codes, shown this once: have the user store
    /// them now.
    ///
    /// # Errors
    ///
    /// `401 invalid_code`, `400 mfa_not_enrolled`, `409 mfa_already_verified`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient, e: authn_client::Enrollment) -> Result<(), Box<dyn std::error::Error>> {
    /// let codes = auth.mfa().verify(&authn_client::compute_totp(&e.secret)?).await?;
    /// assert_eq!(codes.len(), 10);
    /// # Ok(()) }
    /// ```
    pub async fn verify(&self, code: &str) -> Result<Vec<String>, ClientError> {
        let req = self
            .authed(Method::POST, "/verify")?
            .json(&CodeBody { code: Some(code) });
        let body: RecoveryCodesBody = self.http.json(req).await?;
        Ok(body.recovery_codes)
    }

    /// Answers the second factor with a TOTP code (`POST
    /// /auth/mfa/challenge`). After a [`Login::MfaRequired`](crate::Login)
    /// it turns the partial session into a full one; on a full session it
    /// is a step-up (refreshes the second-factor time that sensitive calls
    /// check). The server rotates the session: the new token replaces the
    /// held one.
    ///
    /// # Errors
    ///
    /// `401 invalid_code`, `429 too_many_attempts` (see
    /// [`ClientError::retry_after`]).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// let user = auth.mfa().challenge("123456").await?;
    /// println!("signed in as {}", user.email);
    /// # Ok(()) }
    /// ```
    pub async fn challenge(&self, code: &str) -> Result<User, ClientError> {
        self.second_factor("/challenge", code).await
    }

    /// Answers the second factor with a recovery code (`POST
    /// /auth/mfa/recovery`; case, spaces and dashes do not matter). The
    /// code is spent; the session is rotated as with
    /// [`challenge`](MfaClient::challenge).
    ///
    /// # Errors
    ///
    /// `401 invalid_code`, `429 too_many_attempts`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// let user = auth.mfa().recovery("abcd-efgh-ijkl").await?;
    /// # let _ = user; Ok(()) }
    /// ```
    pub async fn recovery(&self, code: &str) -> Result<User, ClientError> {
        self.second_factor("/recovery", code).await
    }

    /// Turns MFA off (`DELETE /auth/mfa` with `{"code"}`): with a current
    /// TOTP or a recovery code, or, with `None`, after a recent second
    /// factor.
    ///
    /// # Errors
    ///
    /// `401 invalid_code`, `400 mfa_not_enabled`, `403 step_up_required`
    /// (no code and no recent second factor).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// auth.mfa().disable(Some("123456")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn disable(&self, code: Option<&str>) -> Result<(), ClientError> {
        let req = self.authed(Method::DELETE, "")?.json(&CodeBody { code });
        self.http.empty(req).await
    }

    /// Replaces the recovery codes (`POST /auth/mfa/recovery-codes`); the
    /// old set stops working. Needs a recent second factor.
    ///
    /// # Errors
    ///
    /// `403 step_up_required` (answer [`challenge`](MfaClient::challenge)
    /// and retry), `400 mfa_not_enabled`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// let mfa = auth.mfa();
    /// let codes = match mfa.regenerate_recovery_codes().await {
    ///     Err(e) if e.is("step_up_required") => {
    ///         mfa.challenge("123456").await?;
    ///         mfa.regenerate_recovery_codes().await?
    ///     }
    ///     other => other?,
    /// };
    /// # let _ = codes; Ok(()) }
    /// ```
    pub async fn regenerate_recovery_codes(&self) -> Result<Vec<String>, ClientError> {
        // The server also accepts GET (the published SDK's verb); POST
        // keeps a state change out of caches and link prefetchers.
        let req = self.authed(Method::POST, "/recovery-codes")?;
        let body: RecoveryCodesBody = self.http.json(req).await?;
        Ok(body.recovery_codes)
    }

    /// The user's MFA state (`GET /auth/mfa`).
    ///
    /// # Errors
    ///
    /// [`ClientError::NotAuthenticated`], `401 unauthorized`, `403 mfa_required`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// let st = auth.mfa().status().await?;
    /// println!("{} recovery codes left", st.recovery_codes_remaining);
    /// # Ok(()) }
    /// ```
    pub async fn status(&self) -> Result<MfaStatus, ClientError> {
        let req = self.authed(Method::GET, "")?;
        self.http.json(req).await
    }

    async fn second_factor(&self, path: &str, code: &str) -> Result<User, ClientError> {
        let req = self
            .authed(Method::POST, path)?
            .json(&CodeBody { code: Some(code) });
        let body: UserWithToken = self.http.json(req).await?;
        self.session.set_token(SessionToken::new(body.token));
        Ok(body.user)
    }

    /// A request to `/api/v1/auth/mfa{path}` with the session's token.
    fn authed(&self, method: Method, path: &str) -> Result<RequestBuilder, ClientError> {
        let token = self.session.token().ok_or(ClientError::NotAuthenticated)?;
        Ok(self
            .http
            .request(method, &format!("{MFA}{path}"), &[])?
            .bearer_auth(token.expose_secret()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn code_bodies() {
        assert_eq!(
            serde_json::to_value(CodeBody {
                code: Some("123456")
            })
            .unwrap(),
            serde_json::json!({"code": "123456"})
        );
        // Disable without a code: an empty object, which the server reads
        // as "no code".
        assert_eq!(
            serde_json::to_value(CodeBody { code: None }).unwrap(),
            serde_json::json!({})
        );
    }
}
