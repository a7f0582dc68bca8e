//! The user-facing client: signup, login, sessions, email verification,
//! passwords, magic links.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde::Serialize;
use uuid::Uuid;

use crate::error::{ClientError, decode};
use crate::http::{Config, Http};
use crate::mfa::MfaClient;
use crate::session::{Session, SessionToken};
use crate::types::{
    DataBody, MfaRequiredBody, RevokedBody, SessionInfo, SessionSummary, User, UserWithToken,
};

const AUTH: &str = "api/v1/auth";

/// The outcome of a first factor (password or magic link).
///
/// `#[must_use]`: with MFA, the session is only partial until
/// [`MfaClient::challenge`](crate::MfaClient::challenge) (or
/// [`recovery`](crate::MfaClient::recovery)) succeeds, and every other call
/// answers `403 mfa_required`.
///
/// # Example
///
/// ```no_run
/// # async fn run(code_from_user: impl Fn() -> String) -> Result<(), authn_client::ClientError> {
/// use authn_client::{AuthClient, Login};
///
/// let auth = AuthClient::new("https://auth.example.com")?;
/// let user = match auth.login("alice@example.com", "correct horse battery staple").await? {
///     Login::Authenticated(user) => user,
///     Login::MfaRequired { .. } => auth.mfa().challenge(&code_from_user()).await?,
/// };
/// println!("hello {}", user.email);
/// # Ok(()) }
/// ```
#[must_use = "with MFA the session is partial until the second factor is answered"]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// Signed in: the session is full.
    Authenticated(User),
    /// The password was right; a second factor is owed. The session now
    /// holds the partial token.
    MfaRequired {
        /// Second factors the user can answer with, e.g. `["totp", "recovery_code"]`.
        methods: Vec<String>,
    },
}

/// Configures an [`AuthClient`].
///
/// # Example
///
/// ```no_run
/// # fn run() -> Result<(), authn_client::ClientError> {
/// use std::time::Duration;
///
/// let auth = authn_client::AuthClient::builder("https://auth.example.com")
///     .timeout(Duration::from_secs(5))
///     .user_agent("my-app/1.2")
///     .build()?;
/// # let _ = auth; Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct AuthClientBuilder {
    cfg: Config,
    session: Option<Session>,
}

impl AuthClientBuilder {
    /// Time limit of each whole request (default 10 s).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run() -> Result<(), authn_client::ClientError> {
    /// let auth = authn_client::AuthClient::builder("https://auth.example.com")
    ///     .timeout(std::time::Duration::from_secs(3))
    ///     .build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.cfg.timeout = timeout;
        self
    }

    /// The `User-Agent` header (default `authn-client/<version>`). The
    /// server records it with each session.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run() -> Result<(), authn_client::ClientError> {
    /// let auth = authn_client::AuthClient::builder("https://auth.example.com")
    ///     .user_agent("my-app/1.2 (linux)")
    ///     .build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.cfg.user_agent = Some(user_agent.into());
        self
    }

    /// Starts from an existing session (a restored token, or one shared
    /// with other clients).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run() -> Result<(), authn_client::ClientError> {
    /// use authn_client::{AuthClient, Session, SessionToken};
    ///
    /// let auth = AuthClient::builder("https://auth.example.com")
    ///     .session(Session::with_token(SessionToken::new("persisted")))
    ///     .build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn session(mut self, session: Session) -> Self {
        self.session = Some(session);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidUrl`] for a base URL that is not an absolute
    /// `http`/`https` URL without query, fragment or credentials;
    /// [`ClientError::InvalidHeader`] for a user agent HTTP cannot carry;
    /// [`ClientError::Tls`] when the system's root certificates cannot be
    /// used.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run() -> Result<(), authn_client::ClientError> {
    /// let auth = authn_client::AuthClient::builder("http://127.0.0.1:8080").build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn build(self) -> Result<AuthClient, ClientError> {
        Ok(AuthClient {
            http: Arc::new(Http::new(&self.cfg)?),
            session: self.session.unwrap_or_default(),
        })
    }
}

/// The client of a user: signup, login (with the MFA branch), the current
/// user and sessions, email verification, passwords, magic links.
///
/// Cheap to clone; clones and the [`MfaClient`] from [`AuthClient::mfa`]
/// share the connection pool and the [`Session`]. For many users in one
/// process (a backend-for-frontend), give each its own session with
/// [`AuthClient::with_session`].
///
/// # Example
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use authn_client::{AuthClient, Login, compute_totp};
///
/// let auth = AuthClient::new("https://auth.example.com")?;
/// auth.signup("alice@example.com", "correct horse battery staple", Some("Alice")).await?;
///
/// // Turn on TOTP: enroll, confirm with a first code, keep the recovery codes.
/// let mfa = auth.mfa();
/// let enrollment = mfa.enroll().await?;
/// let recovery_codes = mfa.verify(&compute_totp(&enrollment.secret)?).await?;
///
/// // Next login: password, then the second factor.
/// auth.logout().await?;
/// if let Login::MfaRequired { .. } =
///     auth.login("alice@example.com", "correct horse battery staple").await?
/// {
///     mfa.challenge(&compute_totp(&enrollment.secret)?).await?;
/// }
/// println!("{}", auth.me().await?.email);
/// # let _ = recovery_codes; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AuthClient {
    http: Arc<Http>,
    session: Session,
}

#[derive(Serialize)]
struct Credentials<'a> {
    email: &'a str,
    password: &'a str,
}

#[derive(Serialize)]
struct Signup<'a> {
    email: &'a str,
    password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct EmailBody<'a> {
    email: &'a str,
}

#[derive(Serialize)]
struct TokenBody<'a> {
    token: &'a str,
}

#[derive(Serialize)]
struct ResetBody<'a> {
    token: &'a str,
    password: &'a str,
}

#[derive(Serialize)]
struct ChangeBody<'a> {
    current_password: &'a str,
    new_password: &'a str,
}

impl AuthClient {
    /// A client for the server at `base_url` (e.g. `https://auth.example.com`),
    /// with a 10 s timeout and no session.
    ///
    /// # Errors
    ///
    /// As [`AuthClientBuilder::build`].
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run() -> Result<(), authn_client::ClientError> {
    /// let auth = authn_client::AuthClient::new("https://auth.example.com")?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        Self::builder(base_url).build()
    }

    /// A builder for a client with a custom timeout, user agent or session.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run() -> Result<(), authn_client::ClientError> {
    /// let auth = authn_client::AuthClient::builder("https://auth.example.com")
    ///     .timeout(std::time::Duration::from_secs(30))
    ///     .build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn builder(base_url: &str) -> AuthClientBuilder {
        AuthClientBuilder {
            cfg: Config::new(base_url),
            session: None,
        }
    }

    /// The session this client uses (shared with its clones and its
    /// [`MfaClient`]).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// let _ = auth.login("alice@example.com", "correct horse battery staple").await?;
    /// if let Some(token) = auth.session().token() {
    ///     // persist token.expose_secret() in the OS keychain
    /// #   let _ = token;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// This client with another session, sharing the connection pool.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run(auth: authn_client::AuthClient) {
    /// use authn_client::Session;
    ///
    /// // One client per end user, one pool for all.
    /// let for_bob = auth.with_session(Session::new());
    /// # let _ = for_bob;
    /// # }
    /// ```
    pub fn with_session(&self, session: Session) -> Self {
        Self {
            http: self.http.clone(),
            session,
        }
    }

    /// The MFA client on the same session.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// let status = auth.mfa().status().await?;
    /// # let _ = status; Ok(()) }
    /// ```
    pub fn mfa(&self) -> MfaClient {
        MfaClient::new(self.http.clone(), self.session.clone())
    }

    /// Creates an account and signs in (`POST /auth/signup`); the session
    /// holds the new token.
    ///
    /// # Errors
    ///
    /// `400 invalid_email`, `400 weak_password`, `409 email_taken`, and
    /// the transport errors of every call.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// let user = auth.signup("alice@example.com", "correct horse battery staple", None).await?;
    /// assert!(!user.email_verified);
    /// # Ok(()) }
    /// ```
    pub async fn signup(
        &self,
        email: &str,
        password: &str,
        name: Option<&str>,
    ) -> Result<User, ClientError> {
        let req = self.anonymous(Method::POST, "signup")?.json(&Signup {
            email,
            password,
            name,
        });
        let body: UserWithToken = self.http.json(req).await?;
        Ok(self.adopt(body))
    }

    /// Signs in with email and password (`POST /auth/login`). The session
    /// holds the new token, partial when [`Login::MfaRequired`].
    ///
    /// # Errors
    ///
    /// `401 invalid_credentials` (same answer for an unknown email),
    /// `429 account_locked` (see [`ClientError::retry_after`]),
    /// `503 server_busy`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// use authn_client::Login;
    ///
    /// match auth.login("alice@example.com", "correct horse battery staple").await? {
    ///     Login::Authenticated(user) => println!("hello {}", user.email),
    ///     Login::MfaRequired { methods } => println!("second factor: {methods:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn login(&self, email: &str, password: &str) -> Result<Login, ClientError> {
        let req = self
            .anonymous(Method::POST, "login")?
            .json(&Credentials { email, password });
        let body = self.http.send(req).await?;
        self.adopt_login(&body)
    }

    /// Ends the session on the server (`POST /auth/logout`) and forgets the
    /// token. Without a token, or when the server no longer knows the
    /// session (`401`), it only forgets it.
    ///
    /// # Errors
    ///
    /// Transport errors; the token is then kept, so the call can be
    /// retried.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// auth.logout().await?;
    /// assert!(!auth.session().has_token());
    /// # Ok(()) }
    /// ```
    pub async fn logout(&self) -> Result<(), ClientError> {
        let Some(token) = self.session.token() else {
            return Ok(());
        };
        let req = self.request_with(&token, Method::POST, "logout", &[])?;
        match self.http.empty(req).await {
            Ok(()) => {}
            Err(e) if e.status() == Some(401) => {}
            Err(e) => return Err(e),
        }
        self.session.clear_if(&token);
        Ok(())
    }

    /// The signed-in user (`GET /auth/me`).
    ///
    /// # Errors
    ///
    /// [`ClientError::NotAuthenticated`] without a token; `401
    /// unauthorized` for an expired or revoked session; `403 mfa_required`
    /// for a partial one.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// let me = auth.me().await?;
    /// println!("{:?}", me.name);
    /// # Ok(()) }
    /// ```
    pub async fn me(&self) -> Result<User, ClientError> {
        let req = self.authed(Method::GET, "me", &[])?;
        self.http.json(req).await
    }

    /// Deletes the account (`DELETE /auth/me`) and forgets the token.
    ///
    /// # Errors
    ///
    /// `403 step_up_required` when the last authentication is too old:
    /// answer [`MfaClient::challenge`](crate::MfaClient::challenge) (users
    /// with MFA) or log in again, then retry.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// auth.delete_me().await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_me(&self) -> Result<(), ClientError> {
        let token = self.session.token().ok_or(ClientError::NotAuthenticated)?;
        let req = self.request_with(&token, Method::DELETE, "me", &[])?;
        self.http.empty(req).await?;
        self.session.clear_if(&token);
        Ok(())
    }

    /// The current session and its authentication context (`GET
    /// /auth/session`); works on partial sessions too.
    ///
    /// # Errors
    ///
    /// [`ClientError::NotAuthenticated`], `401 unauthorized`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// let s = auth.current_session().await?;
    /// println!("expires at {}", s.expires_at);
    /// # Ok(()) }
    /// ```
    pub async fn current_session(&self) -> Result<SessionInfo, ClientError> {
        let req = self.authed(Method::GET, "session", &[])?;
        self.http.json(req).await
    }

    /// The user's active sessions, newest first (`GET /auth/sessions`);
    /// [`SessionSummary::current`] marks this one.
    ///
    /// # Errors
    ///
    /// [`ClientError::NotAuthenticated`], `401 unauthorized`, `403 mfa_required`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// let n = auth.sessions().await?.len();
    /// println!("{n} devices signed in");
    /// # Ok(()) }
    /// ```
    pub async fn sessions(&self) -> Result<Vec<SessionSummary>, ClientError> {
        let req = self.authed(Method::GET, "sessions", &[])?;
        let body: DataBody<SessionSummary> = self.http.json(req).await?;
        Ok(body.data)
    }

    /// Revokes one of the user's sessions (`DELETE /auth/sessions/{id}`).
    ///
    /// # Errors
    ///
    /// `404 not_found` when it is not one of the user's sessions.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// for s in auth.sessions().await? {
    ///     if !s.current {
    ///         auth.revoke_session(s.id).await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn revoke_session(&self, id: Uuid) -> Result<(), ClientError> {
        let req = self.authed(Method::DELETE, &format!("sessions/{id}"), &[])?;
        self.http.empty(req).await
    }

    /// Revokes every session of the user except this one (`DELETE
    /// /auth/sessions`); returns how many.
    ///
    /// # Errors
    ///
    /// [`ClientError::NotAuthenticated`], `401 unauthorized`, `403 mfa_required`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// let n = auth.revoke_other_sessions().await?;
    /// println!("signed out {n} other devices");
    /// # Ok(()) }
    /// ```
    pub async fn revoke_other_sessions(&self) -> Result<u64, ClientError> {
        let req = self.authed(Method::DELETE, "sessions", &[])?;
        let body: RevokedBody = self.http.json(req).await?;
        Ok(body.revoked)
    }

    /// Mails a verification link to the user's address (`POST
    /// /auth/email/verify/send`); does nothing for a verified address.
    ///
    /// # Errors
    ///
    /// [`ClientError::NotAuthenticated`], `401 unauthorized`, `403 mfa_required`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// auth.send_verification_email().await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_verification_email(&self) -> Result<(), ClientError> {
        let req = self.authed(Method::POST, "email/verify/send", &[])?;
        self.http.empty(req).await
    }

    /// Verifies an address with the token from the mailed link (`POST
    /// /auth/email/verify`); needs no session.
    ///
    /// # Errors
    ///
    /// `400 invalid_token` (unknown, used or expired).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient, token_from_link: &str) -> Result<(), authn_client::ClientError> {
    /// auth.verify_email(token_from_link).await?;
    /// # Ok(()) }
    /// ```
    pub async fn verify_email(&self, token: &str) -> Result<(), ClientError> {
        // POST rather than the link's GET: the token stays out of URLs
        // and access logs.
        let req = self
            .anonymous(Method::POST, "email/verify")?
            .json(&TokenBody { token });
        self.http.empty(req).await
    }

    /// Mails a password-reset link (`POST /auth/password/send-reset-link`).
    /// Succeeds whether or not the address has an account.
    ///
    /// # Errors
    ///
    /// Transport errors and rate limiting (`429`).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// auth.send_password_reset("alice@example.com").await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_password_reset(&self, email: &str) -> Result<(), ClientError> {
        let req = self
            .anonymous(Method::POST, "password/send-reset-link")?
            .json(&EmailBody { email });
        self.http.empty(req).await
    }

    /// Sets a new password with the token from the reset mail (`POST
    /// /auth/password/reset`); every session of the user is revoked.
    ///
    /// # Errors
    ///
    /// `400 invalid_token`, `400 weak_password`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient, token_from_link: &str) -> Result<(), authn_client::ClientError> {
    /// auth.reset_password(token_from_link, "a brand new long passphrase").await?;
    /// # Ok(()) }
    /// ```
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<(), ClientError> {
        let req = self
            .anonymous(Method::POST, "password/reset")?
            .json(&ResetBody {
                token,
                password: new_password,
            });
        self.http.empty(req).await
    }

    /// Changes the password (`POST /auth/password/change`); the user's
    /// other sessions are revoked, this one stays.
    ///
    /// # Errors
    ///
    /// `401 invalid_credentials` (wrong current password), `400
    /// weak_password`, `403 step_up_required`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// auth.change_password("correct horse battery staple", "a brand new long passphrase").await?;
    /// # Ok(()) }
    /// ```
    pub async fn change_password(&self, current: &str, new: &str) -> Result<(), ClientError> {
        let req = self
            .authed(Method::POST, "password/change", &[])?
            .json(&ChangeBody {
                current_password: current,
                new_password: new,
            });
        self.http.empty(req).await
    }

    /// Mails a sign-in link (`POST /auth/magic-link/send`). Succeeds
    /// whether or not the address has an account.
    ///
    /// # Errors
    ///
    /// Transport errors and rate limiting (`429`).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient) -> Result<(), authn_client::ClientError> {
    /// auth.send_magic_link("alice@example.com").await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_magic_link(&self, email: &str) -> Result<(), ClientError> {
        let req = self
            .anonymous(Method::POST, "magic-link/send")?
            .json(&EmailBody { email });
        self.http.empty(req).await
    }

    /// Signs in with the token from a mailed link (`GET
    /// /auth/magic-link/verify`). Like [`AuthClient::login`], the answer
    /// can demand a second factor.
    ///
    /// # Errors
    ///
    /// `400 invalid_token` (unknown, used or expired).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(auth: authn_client::AuthClient, token_from_link: &str) -> Result<(), authn_client::ClientError> {
    /// use authn_client::Login;
    ///
    /// if let Login::MfaRequired { .. } = auth.verify_magic_link(token_from_link).await? {
    ///     // ask for a code, then auth.mfa().challenge(code)
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn verify_magic_link(&self, token: &str) -> Result<Login, ClientError> {
        let req = self.http.request(
            Method::GET,
            &format!("{AUTH}/magic-link/verify"),
            &[("token", Some(token.to_owned()))],
        )?;
        let body = self.http.send(req).await?;
        self.adopt_login(&body)
    }

    /// A request to `/api/v1/auth/{path}` without credentials.
    fn anonymous(&self, method: Method, path: &str) -> Result<RequestBuilder, ClientError> {
        self.http.request(method, &format!("{AUTH}/{path}"), &[])
    }

    /// A request to `/api/v1/auth/{path}` with the session's token.
    fn authed(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, Option<String>)],
    ) -> Result<RequestBuilder, ClientError> {
        let token = self.session.token().ok_or(ClientError::NotAuthenticated)?;
        self.request_with(&token, method, path, query)
    }

    fn request_with(
        &self,
        token: &SessionToken,
        method: Method,
        path: &str,
        query: &[(&str, Option<String>)],
    ) -> Result<RequestBuilder, ClientError> {
        Ok(self
            .http
            .request(method, &format!("{AUTH}/{path}"), query)?
            .bearer_auth(token.expose_secret()))
    }

    /// Keeps the token of a user-and-token answer.
    fn adopt(&self, body: UserWithToken) -> User {
        self.session.set_token(SessionToken::new(body.token));
        body.user
    }

    /// Reads a login answer: the user and a full session, or
    /// `{"mfaRequired": true, ...}` and a partial one.
    fn adopt_login(&self, body: &[u8]) -> Result<Login, ClientError> {
        let login = parse_login(body)?;
        Ok(match login {
            LoginAnswer::Complete(b) => Login::Authenticated(self.adopt(b)),
            LoginAnswer::Partial(b) => {
                self.session.set_token(SessionToken::new(b.token));
                Login::MfaRequired {
                    methods: b.mfa_methods,
                }
            }
        })
    }
}

enum LoginAnswer {
    Complete(UserWithToken),
    Partial(MfaRequiredBody),
}

fn parse_login(body: &[u8]) -> Result<LoginAnswer, ClientError> {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mfaRequired", default)]
        mfa_required: bool,
    }
    let probe: Probe = decode(body)?;
    if probe.mfa_required {
        decode(body).map(LoginAnswer::Partial)
    } else {
        decode(body).map(LoginAnswer::Complete)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const USER: &str = r#""id":"01890a5d-ac96-774b-bcce-b302099a8057","email":"alice@example.com","email_verified":true,"name":"Alice","mfa_enabled":false,"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z""#;

    fn client() -> AuthClient {
        AuthClient::new("http://127.0.0.1:9").unwrap()
    }

    #[test]
    fn login_answers() {
        let auth = client();
        let full = format!(r#"{{{USER},"token":"full-token"}}"#);
        let Login::Authenticated(u) = auth.adopt_login(full.as_bytes()).unwrap() else {
            panic!("expected a full login");
        };
        assert_eq!(u.name.as_deref(), Some("Alice"));
        assert_eq!(
            auth.session().token(),
            Some(SessionToken::new("full-token"))
        );

        let partial = br#"{"mfaRequired":true,"token":"partial-token","mfa_methods":["totp","recovery_code"]}"#;
        let login = auth.adopt_login(partial).unwrap();
        assert_eq!(
            login,
            Login::MfaRequired {
                methods: vec!["totp".to_owned(), "recovery_code".to_owned()]
            }
        );
        assert_eq!(
            auth.session().token(),
            Some(SessionToken::new("partial-token"))
        );
        // `mfaRequired: false` is a complete answer.
        let explicit = format!(r#"{{{USER},"token":"t3","mfaRequired":false}}"#);
        assert!(matches!(
            auth.adopt_login(explicit.as_bytes()).unwrap(),
            Login::Authenticated(_)
        ));
    }

    #[test]
    fn bad_login_answer_keeps_the_session() {
        let auth = client();
        auth.session().set_token(SessionToken::new("kept"));
        let e = auth.adopt_login(br#"{"mfaRequired":true}"#).unwrap_err();
        assert!(matches!(e, ClientError::Decode(_)));
        assert_eq!(auth.session().token(), Some(SessionToken::new("kept")));
    }

    #[test]
    fn request_bodies() {
        let v = serde_json::to_value(Signup {
            email: "a@example.com",
            password: "pw",
            name: None,
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"email": "a@example.com", "password": "pw"})
        );
        let v = serde_json::to_value(ChangeBody {
            current_password: "a",
            new_password: "b",
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"current_password": "a", "new_password": "b"})
        );
        let v = serde_json::to_value(ResetBody {
            token: "t",
            password: "p",
        })
        .unwrap();
        assert_eq!(v, serde_json::json!({"token": "t", "password": "p"}));
    }

    #[tokio::test]
    async fn session_calls_need_a_token() {
        let auth = client();
        assert!(matches!(
            auth.me().await,
            Err(ClientError::NotAuthenticated)
        ));
        assert!(matches!(
            auth.delete_me().await,
            Err(ClientError::NotAuthenticated)
        ));
        // Logging out without a session is a no-op, not an error.
        auth.logout().await.unwrap();
    }

    #[test]
    fn debug_hides_the_token() {
        let auth = client();
        auth.session()
            .set_token(SessionToken::new("super-secret-token"));
        let text = format!("{auth:?}");
        assert!(!text.contains("super-secret-token"), "{text}");
    }
}
