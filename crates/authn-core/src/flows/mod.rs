//! The auth flows, written against the store traits: signup, password login
//! with lockout and the partial "MFA required" state, logout, MFA (enroll,
//! verify, challenge, recovery, disable, recovery-code regeneration, status),
//! step-up, email verification, password reset and change, magic links,
//! session management and introspection. No HTTP here: the server is a thin
//! adapter over [`Authn`], and a Rust service can call it directly.

mod account;
mod admin;
mod error;
mod login;
mod mail;
mod mfa;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use admin::{AdminUserPatch, NewAdminUser};
pub use error::{AuthError, AuthResult};
pub use mail::{MailKind, OutgoingMail};
pub use mfa::{Enrollment, MfaStatus};

use crate::crypto::SecretBox;
use crate::ids::{SessionId, UserId};
use crate::model::{TokenType, User, ValidSession};
use crate::password::PasswordHasher;
use crate::password_policy::PasswordPolicy;
use crate::policy::StorePolicy;
use crate::secret::TokenHash;
use crate::store::Store;
use crate::totp::TotpConfig;

/// RFC 8176 method: password.
pub const AMR_PWD: &str = "pwd";
/// RFC 8176 method: one-time password (TOTP).
pub const AMR_OTP: &str = "otp";
/// RFC 8176 method: multiple factors.
pub const AMR_MFA: &str = "mfa";
/// Method of a login by emailed link (this project's value; RFC 8176 has
/// none for it).
pub const AMR_EMAIL: &str = "email";
/// Method of a recovery code (NIST "look-up secret"; not in RFC 8176).
pub const AMR_RECOVERY: &str = "rec";
/// Authentication context class: one factor (NIST AAL1).
pub const ACR_AAL1: &str = "aal1";
/// Authentication context class: two factors (NIST AAL2).
pub const ACR_AAL2: &str = "aal2";

/// Settings of the flows. [`AuthConfig::default`] holds the documented defaults.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Issuer shown by authenticator apps (default `authn`).
    pub totp_issuer: String,
    /// TOTP parameters (default SHA-1, 6 digits, 30 s, one step of skew).
    pub totp: TotpConfig,
    /// How recent `mfa_at` (or, without MFA, `auth_time`) must be for
    /// sensitive operations (default 10 minutes).
    pub step_up_max_age: Duration,
    /// Wrong second-factor codes a session may submit before it is revoked
    /// (default 5).
    pub session_mfa_max_attempts: u32,
    /// Recovery codes issued at a time (default 10).
    pub recovery_code_count: usize,
    /// Password rules (NIST SP 800-63B style).
    pub password_policy: PasswordPolicy,
    /// Link bases for emails; the token is appended as `token=` query parameter.
    pub links: LinkConfig,
    /// Lifetime of email-verification links (default 24 hours).
    pub email_verify_lifetime: Duration,
    /// Lifetime of password-reset links (default 1 hour).
    pub password_reset_lifetime: Duration,
    /// Lifetime of sign-in links (default 15 minutes).
    pub magic_link_lifetime: Duration,
}

/// Where emailed links point.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Email verification (default `<public>/api/v1/auth/email/verify`).
    pub verify_email: String,
    /// Password reset page of the application (default `<public>/reset-password`).
    pub reset_password: String,
    /// Magic-link sign-in (default `<public>/api/v1/auth/magic-link/verify`).
    pub magic_link: String,
}

impl LinkConfig {
    /// The default links under a public base URL.
    pub fn under(public_url: &str) -> Self {
        let base = public_url.trim_end_matches('/');
        Self {
            verify_email: format!("{base}/api/v1/auth/email/verify"),
            reset_password: format!("{base}/reset-password"),
            magic_link: format!("{base}/api/v1/auth/magic-link/verify"),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        let tokens = StorePolicy::default();
        Self {
            totp_issuer: "authn".to_owned(),
            totp: TotpConfig::default(),
            step_up_max_age: Duration::from_secs(600),
            session_mfa_max_attempts: 5,
            recovery_code_count: 10,
            password_policy: PasswordPolicy::default(),
            links: LinkConfig::under("http://127.0.0.1:8080"),
            // the store's documented token defaults, stated once
            email_verify_lifetime: tokens.token_lifetime(TokenType::EmailVerify),
            password_reset_lifetime: tokens.token_lifetime(TokenType::PasswordReset),
            magic_link_lifetime: tokens.token_lifetime(TokenType::MagicLink),
        }
    }
}

/// The client a request comes from, recorded on sessions and attempts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// Client address.
    pub ip_address: Option<IpAddr>,
    /// Client user agent.
    pub user_agent: Option<String>,
}

/// A session handed to a client: the token (shown once, never stored) and
/// what it is.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedSession {
    /// The session token to give the client (cookie or bearer).
    pub token: String,
    /// The session's id.
    pub session_id: SessionId,
    /// Whether it still owes a second factor.
    pub partial: bool,
}

impl std::fmt::Debug for IssuedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedSession")
            .field("token", &"<redacted>")
            .field("session_id", &self.session_id)
            .field("partial", &self.partial)
            .finish()
    }
}

/// A user as shown to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserProfile {
    /// The user.
    #[serde(flatten)]
    pub user: User,
    /// Whether a second factor is enabled (a confirmed TOTP).
    pub mfa_enabled: bool,
}

/// The answer of a first-factor login (password or magic link).
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// Signed in.
    Complete {
        /// The user.
        user: UserProfile,
        /// The new full session.
        session: IssuedSession,
    },
    /// The first factor passed; a second is owed. The session is partial.
    MfaRequired {
        /// The new partial session.
        session: IssuedSession,
        /// The second factors the user can use (`totp`, `recovery_codes`).
        methods: Vec<String>,
    },
}

/// An authenticated request: the session (full or partial) and its token hash.
#[derive(Debug, Clone)]
pub struct AuthContext {
    /// The validated session.
    pub session: ValidSession,
    /// Its token's hash (to revoke or rotate it).
    pub token_hash: TokenHash,
}

impl AuthContext {
    /// The user of the session.
    pub fn user_id(&self) -> UserId {
        self.session.user_id
    }

    /// Refuses a partial session (everything but the second-factor routes).
    ///
    /// # Errors
    /// [`AuthError::MfaRequired`] for a partial session.
    pub fn require_full(&self) -> AuthResult<&Self> {
        if self.session.partial {
            Err(AuthError::MfaRequired)
        } else {
            Ok(self)
        }
    }
}

/// What introspection tells another service about a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Introspection {
    /// Whether the token is a valid, full session (fresh enough when a
    /// `max_mfa_age` was asked).
    pub active: bool,
    /// The session, when active.
    #[serde(flatten)]
    pub session: Option<IntrospectedSession>,
}

/// The session details of an active introspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntrospectedSession {
    /// The user.
    pub user_id: UserId,
    /// The session.
    pub session_id: SessionId,
    /// The user's email.
    pub email: String,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Authentication context class.
    pub acr: Option<String>,
    /// First-factor time.
    pub auth_time: DateTime<Utc>,
    /// Last second-factor time.
    pub mfa_at: Option<DateTime<Utc>>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

/// The auth service: a store, the password hasher, the key that seals TOTP
/// secrets, and the settings. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Authn<S> {
    store: S,
    hasher: PasswordHasher,
    secrets: SecretBox,
    config: Arc<AuthConfig>,
}

impl<S> std::fmt::Debug for Authn<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authn")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: Store + Clone + 'static> Authn<S> {
    /// Builds the service.
    pub fn new(store: S, hasher: PasswordHasher, secrets: SecretBox, config: AuthConfig) -> Self {
        Self {
            store,
            hasher,
            secrets,
            config: Arc::new(config),
        }
    }

    /// The store (for operations that are plain store calls).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The same service on another store handle (e.g. one carrying a
    /// request's actor context).
    #[must_use]
    pub fn with_store(&self, store: S) -> Self {
        Self {
            store,
            hasher: self.hasher.clone(),
            secrets: self.secrets.clone(),
            config: self.config.clone(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The password hasher (its queue depth is a metric).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Validates a session token; partial sessions are returned too (check
    /// [`AuthContext::require_full`]).
    ///
    /// # Errors
    /// [`AuthError::Unauthorized`] when the token is not a valid session.
    pub async fn authenticate(&self, token: &str) -> AuthResult<AuthContext> {
        let token_hash = TokenHash::of_token(token);
        let session = self
            .store
            .validate_session(&token_hash)
            .await?
            .ok_or(AuthError::Unauthorized)?;
        Ok(AuthContext {
            session,
            token_hash,
        })
    }

    /// Refuses unless the session authenticated recently enough for a
    /// sensitive operation: `mfa_at` for users with MFA, else `auth_time`.
    ///
    /// # Errors
    /// [`AuthError::StepUpRequired`] with the required freshness.
    pub async fn require_recent_auth(&self, ctx: &AuthContext) -> AuthResult<()> {
        ctx.require_full()?;
        let has_mfa = self.totp_method(ctx.user_id(), true).await?.is_some();
        let at = if has_mfa {
            ctx.session.mfa_at
        } else {
            Some(
                ctx.session
                    .mfa_at
                    .map_or(ctx.session.auth_time, |m| m.max(ctx.session.auth_time)),
            )
        };
        let max_age = self.config.step_up_max_age;
        let fresh = at.is_some_and(|t| {
            Utc::now()
                .signed_duration_since(t)
                .to_std()
                .map_or(true, |age| age <= max_age)
        });
        if fresh {
            Ok(())
        } else {
            Err(AuthError::StepUpRequired { max_age })
        }
    }

    /// Tells another service what a session token is worth: active only for
    /// a valid full session, and, when `max_mfa_age` is given, only if a
    /// second factor was passed within it.
    ///
    /// # Errors
    /// [`AuthError::Unavailable`] when the store cannot be reached.
    pub async fn introspect(
        &self,
        token: &str,
        max_mfa_age: Option<Duration>,
    ) -> AuthResult<Introspection> {
        let inactive = Introspection {
            active: false,
            session: None,
        };
        let Some(s) = self
            .store
            .validate_session(&TokenHash::of_token(token))
            .await?
        else {
            return Ok(inactive);
        };
        if s.partial {
            return Ok(inactive);
        }
        if let Some(max) = max_mfa_age {
            let fresh = s.mfa_at.is_some_and(|t| {
                Utc::now()
                    .signed_duration_since(t)
                    .to_std()
                    .map_or(true, |age| age <= max)
            });
            if !fresh {
                return Ok(inactive);
            }
        }
        Ok(Introspection {
            active: true,
            session: Some(IntrospectedSession {
                user_id: s.user_id,
                session_id: s.session_id,
                email: s.email.as_str().to_owned(),
                amr: s.amr,
                acr: s.acr,
                auth_time: s.auth_time,
                mfa_at: s.mfa_at,
                expires_at: s.expires_at,
            }),
        })
    }
}
