//! The admin client (admin key): users, their MFA and sessions, audit,
//! statistics, cleanup, introspection, the development outbox.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder};
use serde::Serialize;
use uuid::Uuid;

use crate::error::ClientError;
use crate::http::{Config, Http};
use crate::types::{
    AuditEvent, Cleanup, DataBody, Introspection, OutboxMail, Page, RevokedBody, SessionSummary,
    Stats, User,
};

/// Query of [`AdminClient::list_users`]: one page, or the user with `email`.
///
/// # Example
///
/// ```no_run
/// # async fn run(admin: authn_client::AdminClient) -> Result<(), authn_client::ClientError> {
/// use authn_client::ListUsers;
///
/// let found = admin
///     .list_users(ListUsers { email: Some("alice@example.com".into()), ..ListUsers::default() })
///     .await?;
/// # let _ = found; Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListUsers {
    /// Only the user with this email (no paging then).
    pub email: Option<String>,
    /// Page size (server default 100, at most 1000).
    pub limit: Option<u32>,
    /// [`Page::next_cursor`] of the previous page.
    pub cursor: Option<String>,
}

/// A user to create with [`AdminClient::create_user`]. `Debug` leaves out
/// the password.
///
/// # Example
///
/// ```no_run
/// # async fn run(admin: authn_client::AdminClient) -> Result<(), authn_client::ClientError> {
/// use authn_client::NewUser;
///
/// let user = admin
///     .create_user(NewUser {
///         name: Some("Bob".into()),
///         email_verified: true,
///         ..NewUser::new("bob@example.com")
///     })
///     .await?;
/// # let _ = user; Ok(()) }
/// ```
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct NewUser {
    /// Email.
    pub email: String,
    /// Initial password; without one the user signs in by magic link or
    /// password reset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Mark the email as verified.
    pub email_verified: bool,
}

impl NewUser {
    /// A user with this email and nothing else.
    ///
    /// # Example
    ///
    /// ```
    /// let u = authn_client::NewUser::new("bob@example.com");
    /// assert!(u.password.is_none() && !u.email_verified);
    /// ```
    pub fn new(email: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            ..Self::default()
        }
    }
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("name", &self.name)
            .field("email_verified", &self.email_verified)
            .finish()
    }
}

/// Changes to a user ([`AdminClient::update_user`]); `None` fields are left
/// alone. `name: Some(None)` clears the name (sent as `"name": null`).
///
/// # Example
///
/// ```no_run
/// # async fn run(admin: authn_client::AdminClient, id: uuid::Uuid) -> Result<(), authn_client::ClientError> {
/// use authn_client::UserPatch;
///
/// // Disable the account and clear its display name.
/// admin
///     .update_user(id, UserPatch { disabled: Some(true), name: Some(None), ..UserPatch::default() })
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserPatch {
    /// New email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// New name; `Some(None)` clears it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Option<String>>,
    /// Set or unset the verified flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Disable (sessions end) or enable the account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// Query of [`AdminClient::audit`]; every filter is optional.
///
/// # Example
///
/// ```no_run
/// # async fn run(admin: authn_client::AdminClient) -> Result<(), authn_client::ClientError> {
/// use authn_client::AuditFilter;
///
/// let page = admin
///     .audit(AuditFilter { event_type: Some("login_failed".into()), limit: Some(50), ..AuditFilter::default() })
///     .await?;
/// # let _ = page; Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Page size (server default 100, at most 1000).
    pub limit: Option<u32>,
    /// [`Page::next_cursor`] of the previous page.
    pub cursor: Option<String>,
    /// Only this event type.
    pub event_type: Option<String>,
    /// Only this resource type, e.g. `user`.
    pub resource_type: Option<String>,
    /// Only this resource id.
    pub resource_id: Option<String>,
    /// Only this actor, e.g. `user:<id>` or `admin_key:<id>`.
    pub actor_id: Option<String>,
}

/// Who is acting through an admin client, recorded in the audit log of
/// every change it makes (`X-Actor`, `X-On-Behalf-Of`, `X-Reason`,
/// `X-Request-Id`). Without an actor the server records the admin key.
///
/// # Example
///
/// ```no_run
/// # async fn run(admin: authn_client::AdminClient, id: uuid::Uuid) -> Result<(), authn_client::ClientError> {
/// use authn_client::Actor;
///
/// let support = admin.with_actor(
///     Actor::new("support:jane").on_behalf_of(id.to_string()).reason("ticket 4711: lost phone"),
/// )?;
/// support.reset_mfa(id).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// The acting person or system (`X-Actor`).
    pub actor: Option<String>,
    /// The user on whose behalf (`X-On-Behalf-Of`).
    pub on_behalf_of: Option<String>,
    /// Why (`X-Reason`), e.g. a ticket reference.
    pub reason: Option<String>,
    /// A request id to correlate with other logs (`X-Request-Id`).
    pub request_id: Option<String>,
}

impl Actor {
    /// An actor context naming who acts.
    ///
    /// # Example
    ///
    /// ```
    /// let a = authn_client::Actor::new("ops:backup-job");
    /// assert_eq!(a.actor.as_deref(), Some("ops:backup-job"));
    /// ```
    pub fn new(actor: impl Into<String>) -> Self {
        Self {
            actor: Some(actor.into()),
            ..Self::default()
        }
    }

    /// Adds on whose behalf.
    ///
    /// # Example
    ///
    /// ```
    /// let a = authn_client::Actor::new("support:jane").on_behalf_of("user:42");
    /// # let _ = a;
    /// ```
    #[must_use]
    pub fn on_behalf_of(mut self, who: impl Into<String>) -> Self {
        self.on_behalf_of = Some(who.into());
        self
    }

    /// Adds why.
    ///
    /// # Example
    ///
    /// ```
    /// let a = authn_client::Actor::new("support:jane").reason("ticket 4711");
    /// # let _ = a;
    /// ```
    #[must_use]
    pub fn reason(mut self, why: impl Into<String>) -> Self {
        self.reason = Some(why.into());
        self
    }

    /// Adds a request id.
    ///
    /// # Example
    ///
    /// ```
    /// let a = authn_client::Actor::new("billing").request_id("req-0193");
    /// # let _ = a;
    /// ```
    #[must_use]
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    fn headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, ClientError> {
        let fields = [
            ("x-actor", &self.actor),
            ("x-on-behalf-of", &self.on_behalf_of),
            ("x-reason", &self.reason),
            ("x-request-id", &self.request_id),
        ];
        let mut out = Vec::new();
        for (name, value) in fields {
            if let Some(v) = value {
                let v =
                    HeaderValue::from_str(v).map_err(|_| ClientError::InvalidHeader { name })?;
                out.push((HeaderName::from_static(name), v));
            }
        }
        Ok(out)
    }
}

/// Configures an [`AdminClient`]. `Debug` leaves out the key.
///
/// # Example
///
/// ```no_run
/// # fn run() -> Result<(), authn_client::ClientError> {
/// let admin = authn_client::AdminClient::builder("https://auth.example.com", "admin-key")
///     .timeout(std::time::Duration::from_secs(3))
///     .build()?;
/// # let _ = admin; Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct AdminClientBuilder {
    cfg: Config,
    key: String,
}

impl fmt::Debug for AdminClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminClientBuilder")
            .field("cfg", &self.cfg)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl AdminClientBuilder {
    /// Time limit of each whole request (default 10 s).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run() -> Result<(), authn_client::ClientError> {
    /// let admin = authn_client::AdminClient::builder("https://auth.example.com", "key")
    ///     .timeout(std::time::Duration::from_secs(2))
    ///     .build()?;
    /// # let _ = admin; Ok(()) }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.cfg.timeout = timeout;
        self
    }

    /// The `User-Agent` header (default `authn-client/<version>`).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run() -> Result<(), authn_client::ClientError> {
    /// let admin = authn_client::AdminClient::builder("https://auth.example.com", "key")
    ///     .user_agent("billing-service/3.1")
    ///     .build()?;
    /// # let _ = admin; Ok(()) }
    /// ```
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.cfg.user_agent = Some(user_agent.into());
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// As [`AuthClientBuilder::build`](crate::AuthClientBuilder::build), and
    /// [`ClientError::InvalidHeader`] for a key HTTP headers cannot carry.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run() -> Result<(), authn_client::ClientError> {
    /// let admin = authn_client::AdminClient::builder("http://127.0.0.1:8080", "key").build()?;
    /// # let _ = admin; Ok(()) }
    /// ```
    pub fn build(self) -> Result<AdminClient, ClientError> {
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", self.key)).map_err(|_| {
            ClientError::InvalidHeader {
                name: "authorization",
            }
        })?;
        // Keeps the key out of reqwest's and hyper's debug output.
        auth.set_sensitive(true);
        Ok(AdminClient {
            http: Arc::new(Http::new(&self.cfg)?),
            auth,
            actor: Arc::new(Vec::new()),
        })
    }
}

/// The admin client: authenticated with an admin key (made by `authn
/// admin-key create`), for back offices, support tools and services that
/// check sessions ([`AdminClient::introspect`]). Cheap to clone. `Debug`
/// leaves out the key.
///
/// # Example
///
/// ```no_run
/// # async fn run() -> Result<(), authn_client::ClientError> {
/// use authn_client::{AdminClient, ListUsers};
///
/// let admin = AdminClient::new("https://auth.example.com", &std::env::var("AUTHN_ADMIN_KEY").unwrap_or_default())?;
/// let page = admin.list_users(ListUsers::default()).await?;
/// for u in page.data {
///     println!("{} disabled={}", u.email, u.disabled_at.is_some());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AdminClient {
    http: Arc<Http>,
    /// `Bearer <key>`, marked sensitive.
    auth: HeaderValue,
    actor: Arc<Vec<(HeaderName, HeaderValue)>>,
}

impl fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminClient")
            .field("http", &self.http)
            .field("key", &"<redacted>")
            .field("actor", &self.actor)
            .finish()
    }
}

#[derive(Serialize)]
struct IntrospectBody<'a> {
    token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_mfa_age: Option<u64>,
}

impl AdminClient {
    /// An admin client for the server at `base_url` with `admin_key`.
    ///
    /// # Errors
    ///
    /// As [`AdminClientBuilder::build`].
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run() -> Result<(), authn_client::ClientError> {
    /// let admin = authn_client::AdminClient::new("https://auth.example.com", "admin-key")?;
    /// # let _ = admin; Ok(()) }
    /// ```
    pub fn new(base_url: &str, admin_key: &str) -> Result<Self, ClientError> {
        Self::builder(base_url, admin_key).build()
    }

    /// A builder for an admin client with a custom timeout or user agent.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run() -> Result<(), authn_client::ClientError> {
    /// let admin = authn_client::AdminClient::builder("https://auth.example.com", "admin-key")
    ///     .timeout(std::time::Duration::from_secs(2))
    ///     .build()?;
    /// # let _ = admin; Ok(()) }
    /// ```
    pub fn builder(base_url: &str, admin_key: &str) -> AdminClientBuilder {
        AdminClientBuilder {
            cfg: Config::new(base_url),
            key: admin_key.to_owned(),
        }
    }

    /// This client, sending `actor` as the audit context of every request
    /// (replacing any earlier one).
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidHeader`] for a value HTTP headers cannot
    /// carry (control characters, line breaks).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(admin: authn_client::AdminClient, id: uuid::Uuid) -> Result<(), authn_client::ClientError> {
    /// let jane = admin.with_actor(authn_client::Actor::new("support:jane").reason("ticket 4711"))?;
    /// jane.revoke_user_sessions(id).await?;
    /// # Ok(()) }
    /// ```
    pub fn with_actor(&self, actor: Actor) -> Result<Self, ClientError> {
        Ok(Self {
            http: self.http.clone(),
            auth: self.auth.clone(),
            actor: Arc::new(actor.headers()?),
        })
    }

    /// Lists users in creation order, a page at a time, or finds the one
    /// with [`ListUsers::email`] (`GET /users`).
    ///
    /// # Errors
    ///
    /// `401 unauthorized` (bad admin key), `400 invalid_request` (bad cursor).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(admin: authn_client::AdminClient) -> Result<(), authn_client::ClientError> {
    /// let first = admin.list_users(authn_client::ListUsers { limit: Some(10), ..Default::default() }).await?;
    /// # let _ = first; Ok(()) }
    /// ```
    pub async fn list_users(&self, query: ListUsers) -> Result<Page<User>, ClientError> {
        let req = self.request(
            Method::GET,
            "users",
            &[
                ("email", query.email),
                ("limit", query.limit.map(|l| l.to_string())),
                ("cursor", query.cursor),
            ],
        )?;
        self.http.json(req).await
    }

    /// A user, with `disabled_at` (`GET /users/{id}`).
    ///
    /// # Errors
    ///
    /// `404 not_found`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(admin: authn_client::AdminClient, id: uuid::Uuid) -> Result<(), authn_client::ClientError> {
    /// let u = admin.get_user(id).await?;
    /// # let _ = u; Ok(()) }
    /// ```
    pub async fn get_user(&self, id: Uuid) -> Result<User, ClientError> {
        let req = self.request(Method::GET, &format!("users/{id}"), &[])?;
        self.http.json(req).await
    }

    /// Creates a user (`POST /admin/users`).
    ///
    /// # Errors
    ///
    /// `400 invalid_email`, `400 weak_password`, `409 email_taken`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(admin: authn_client::AdminClient) -> Result<(), authn_client::ClientError> {
    /// let u = admin.create_user(authn_client::NewUser::new("carol@example.com")).await?;
    /// # let _ = u; Ok(()) }
    /// ```
    pub async fn create_user(&self, user: NewUser) -> Result<User, ClientError> {
        let req = self.request(Method::POST, "admin/users", &[])?.json(&user);
        self.http.json(req).await
    }

    /// Changes a user (`PATCH /users/{id}`).
    ///
    /// # Errors
    ///
    /// `404 not_found`, `409 email_taken`, `400 invalid_email`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(admin: authn_client::AdminClient, id: uuid::Uuid) -> Result<(), authn_client::ClientError> {
    /// use authn_client::UserPatch;
    ///
    /// let u = admin
    ///     .update_user(id, UserPatch { email_verified: Some(true), ..UserPatch::default() })
    ///     .await?;
    /// assert!(u.email_verified);
    /// # Ok(()) }
    /// ```
    pub async fn update_user(&self, id: Uuid, patch: UserPatch) -> Result<User, ClientError> {
        let req = self
            .request(Method::PATCH, &format!("users/{id}"), &[])?
            .json(&patch);
        self.http.json(req).await
    }

    /// Deletes a user with their sessions, tokens and MFA (`DELETE /users/{id}`).
    ///
    /// # Errors
    ///
    /// `404 not_found`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(admin: authn_client::AdminClient, id: uuid::Uuid) -> Result<(), authn_client::ClientError> {
    /// admin.delete_user(id).await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_user(&self, id: Uuid) -> Result<(), ClientError> {
        let req = self.request(Method::DELETE, &format!("users/{id}"), &[])?;
        self.http.empty(req).await
    }

    /// Clears every second factor of a user who lost their authenticator,
    /// so they can enroll again (`DELETE /users/{id}/mfa`).
    ///
    /// # Errors
    ///
    /// `404 not_found`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(admin: authn_client::AdminClient, id: uuid::Uuid) -> Result<(), authn_client::ClientError> {
    /// admin.reset_mfa(id).await?;
    /// # Ok(()) }
    /// ```
    pub async fn reset_mfa(&self, id: Uuid) -> Result<(), ClientError> {
        let req = self.request(Method::DELETE, &format!("users/{id}/mfa"), &[])?;
        self.http.empty(req).await
    }

    /// A user's active sessions (`GET /users/{id}/sessions`).
    ///
    /// # Errors
    ///
    /// `404 not_found`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(admin: authn_client::AdminClient, id: uuid::Uuid) -> Result<(), authn_client::ClientError> {
    /// let n = admin.user_sessions(id).await?.len();
    /// # let _ = n; Ok(()) }
    /// ```
    pub async fn user_sessions(&self, id: Uuid) -> Result<Vec<SessionSummary>, ClientError> {
        let req = self.request(Method::GET, &format!("users/{id}/sessions"), &[])?;
        let body: DataBody<SessionSummary> = self.http.json(req).await?;
        Ok(body.data)
    }

    /// Revokes all of a user's sessions (`DELETE /users/{id}/sessions`);
    /// returns how many.
    ///
    /// # Errors
    ///
    /// `404 not_found`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(admin: authn_client::AdminClient, id: uuid::Uuid) -> Result<(), authn_client::ClientError> {
    /// let n = admin.revoke_user_sessions(id).await?;
    /// # let _ = n; Ok(()) }
    /// ```
    pub async fn revoke_user_sessions(&self, id: Uuid) -> Result<u64, ClientError> {
        let req = self.request(Method::DELETE, &format!("users/{id}/sessions"), &[])?;
        let body: RevokedBody = self.http.json(req).await?;
        Ok(body.revoked)
    }

    /// Audit events about a user, newest first (`GET /users/{id}/audit-logs`).
    ///
    /// # Errors
    ///
    /// `401 unauthorized` (bad admin key).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(admin: authn_client::AdminClient, id: uuid::Uuid) -> Result<(), authn_client::ClientError> {
    /// let events = admin.user_audit(id, Some(20)).await?.data;
    /// # let _ = events; Ok(()) }
    /// ```
    pub async fn user_audit(
        &self,
        id: Uuid,
        limit: Option<u32>,
    ) -> Result<Page<AuditEvent>, ClientError> {
        let req = self.request(
            Method::GET,
            &format!("users/{id}/audit-logs"),
            &[("limit", limit.map(|l| l.to_string()))],
        )?;
        self.http.json(req).await
    }

    /// Queries the audit log, newest first (`GET /audit-logs`).
    ///
    /// # Errors
    ///
    /// `400 invalid_request` (bad cursor), `401 unauthorized`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(admin: authn_client::AdminClient) -> Result<(), authn_client::ClientError> {
    /// let page = admin.audit(authn_client::AuditFilter::default()).await?;
    /// # let _ = page; Ok(()) }
    /// ```
    pub async fn audit(&self, filter: AuditFilter) -> Result<Page<AuditEvent>, ClientError> {
        let req = self.request(
            Method::GET,
            "audit-logs",
            &[
                ("limit", filter.limit.map(|l| l.to_string())),
                ("cursor", filter.cursor),
                ("event_type", filter.event_type),
                ("resource_type", filter.resource_type),
                ("resource_id", filter.resource_id),
                ("actor_id", filter.actor_id),
            ],
        )?;
        self.http.json(req).await
    }

    /// Namespace statistics (`GET /admin/stats`).
    ///
    /// # Errors
    ///
    /// `401 unauthorized`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(admin: authn_client::AdminClient) -> Result<(), authn_client::ClientError> {
    /// println!("{} active sessions", admin.stats().await?.active_session_count);
    /// # Ok(()) }
    /// ```
    pub async fn stats(&self) -> Result<Stats, ClientError> {
        let req = self.request(Method::GET, "admin/stats", &[])?;
        self.http.json(req).await
    }

    /// Deletes expired sessions, tokens and old attempts now (`POST
    /// /admin/cleanup`; the server also does it every 5 minutes).
    ///
    /// # Errors
    ///
    /// `401 unauthorized`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(admin: authn_client::AdminClient) -> Result<(), authn_client::ClientError> {
    /// let removed = admin.cleanup().await?;
    /// # let _ = removed; Ok(()) }
    /// ```
    pub async fn cleanup(&self) -> Result<Cleanup, ClientError> {
        let req = self.request(Method::POST, "admin/cleanup", &[])?;
        self.http.json(req).await
    }

    /// What a user's session token is worth (`POST /auth/introspect`): how
    /// another service checks a caller. With `max_mfa_age`, the session
    /// only counts as active if a second factor was given within it
    /// (whole seconds; shorter durations round down).
    ///
    /// # Errors
    ///
    /// `401 unauthorized` (bad admin key); an invalid token is not an
    /// error but `active: false`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(admin: authn_client::AdminClient, token: &str) -> Result<(), authn_client::ClientError> {
    /// use std::time::Duration;
    ///
    /// let i = admin.introspect(token, Some(Duration::from_secs(300))).await?;
    /// if !i.active {
    ///     println!("no session, or no second factor in the last 5 minutes");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn introspect(
        &self,
        token: &str,
        max_mfa_age: Option<Duration>,
    ) -> Result<Introspection, ClientError> {
        let req = self
            .request(Method::POST, "auth/introspect", &[])?
            .json(&IntrospectBody {
                token,
                max_mfa_age: max_mfa_age.map(whole_seconds_up),
            });
        self.http.json(req).await
    }

    /// The development mailer's outbox, oldest first (`GET
    /// /admin/dev/outbox`; server started with `AUTHN_DEV`): for tests
    /// that follow verification, reset and magic links.
    ///
    /// # Errors
    ///
    /// `404 not_found` when the server is not in development mode.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(admin: authn_client::AdminClient) -> Result<(), authn_client::ClientError> {
    /// let mail = admin.dev_outbox().await?;
    /// let link = mail.iter().rev().find(|m| m.to == "alice@example.com");
    /// # let _ = link; Ok(()) }
    /// ```
    pub async fn dev_outbox(&self) -> Result<Vec<OutboxMail>, ClientError> {
        let req = self.request(Method::GET, "admin/dev/outbox", &[])?;
        let body: DataBody<OutboxMail> = self.http.json(req).await?;
        Ok(body.data)
    }

    /// A request to `/api/v1/{path}` with the key and the actor headers.
    fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, Option<String>)],
    ) -> Result<RequestBuilder, ClientError> {
        let mut req = self
            .http
            .request(method, &format!("api/v1/{path}"), query)?
            .header(AUTHORIZATION, self.auth.clone());
        for (name, value) in self.actor.iter() {
            req = req.header(name, value);
        }
        Ok(req)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn client() -> AdminClient {
        AdminClient::new("http://127.0.0.1:9", "k3y-k3y-k3y-k3y-k3y").unwrap()
    }

    #[test]
    fn patch_tells_absent_from_null() {
        let v = serde_json::to_value(UserPatch::default()).unwrap();
        assert_eq!(v, serde_json::json!({}));
        let v = serde_json::to_value(UserPatch {
            name: Some(None),
            disabled: Some(true),
            ..UserPatch::default()
        })
        .unwrap();
        assert_eq!(v, serde_json::json!({"name": null, "disabled": true}));
        let v = serde_json::to_value(UserPatch {
            name: Some(Some("Bob".into())),
            email: Some("b@example.com".into()),
            email_verified: Some(false),
            ..UserPatch::default()
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name": "Bob", "email": "b@example.com", "email_verified": false})
        );
    }

    #[test]
    fn new_user_body_and_debug() {
        let u = NewUser {
            password: Some("hunter2-hunter2".into()),
            ..NewUser::new("bob@example.com")
        };
        assert_eq!(
            serde_json::to_value(&u).unwrap(),
            serde_json::json!({"email": "bob@example.com", "password": "hunter2-hunter2", "email_verified": false})
        );
        assert!(!format!("{u:?}").contains("hunter2"));
        assert_eq!(
            serde_json::to_value(NewUser::new("c@example.com")).unwrap(),
            serde_json::json!({"email": "c@example.com", "email_verified": false})
        );
    }

    #[test]
    fn introspect_body() {
        let v = serde_json::to_value(IntrospectBody {
            token: "t",
            max_mfa_age: Some(300),
        })
        .unwrap();
        assert_eq!(v, serde_json::json!({"token": "t", "max_mfa_age": 300}));
        let v = serde_json::to_value(IntrospectBody {
            token: "t",
            max_mfa_age: None,
        })
        .unwrap();
        assert_eq!(v, serde_json::json!({"token": "t"}));
    }

    #[test]
    fn requests_carry_key_actor_and_query() {
        let admin = client()
            .with_actor(
                Actor::new("support:jane")
                    .reason("ticket 1")
                    .request_id("r-1"),
            )
            .unwrap();
        let req = admin
            .request(
                Method::GET,
                "audit-logs",
                &[("limit", Some("5".into())), ("cursor", None)],
            )
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            req.url().as_str(),
            "http://127.0.0.1:9/api/v1/audit-logs?limit=5"
        );
        let h = req.headers();
        assert_eq!(h["authorization"], "Bearer k3y-k3y-k3y-k3y-k3y");
        assert_eq!(h["x-actor"], "support:jane");
        assert_eq!(h["x-reason"], "ticket 1");
        assert_eq!(h["x-request-id"], "r-1");
        assert!(h.get("x-on-behalf-of").is_none());
    }

    #[test]
    fn bad_header_values_are_refused() {
        let e = client()
            .with_actor(Actor::new("jane").reason("line\nbreak"))
            .unwrap_err();
        assert!(matches!(e, ClientError::InvalidHeader { name: "x-reason" }));
        let e = AdminClient::new("http://127.0.0.1:9", "bad\r\nkey").unwrap_err();
        assert!(matches!(
            e,
            ClientError::InvalidHeader {
                name: "authorization"
            }
        ));
    }

    #[test]
    fn debug_hides_the_key() {
        let admin = client();
        assert!(!format!("{admin:?}").contains("k3y"));
        let b = AdminClient::builder("http://127.0.0.1:9", "k3y-k3y");
        assert!(!format!("{b:?}").contains("k3y"));
    }
}

/// The server takes whole seconds: round up, so a sub-second demand means
/// "within 1 s", never "within 0 s" (which no session could meet).
pub(crate) fn whole_seconds_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod rounding_tests {
    use super::*;

    #[test]
    fn demands_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds_up(Duration::from_millis(500)), 1);
        assert_eq!(whole_seconds_up(Duration::from_secs(300)), 300);
        assert_eq!(whole_seconds_up(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds_up(Duration::ZERO), 0);
    }
}
