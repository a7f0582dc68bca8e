//! The Rust SDK of the authn server: typed async clients for its HTTP API
//! (`/api/v1`), built on `reqwest`.
//!
//! - [`AuthClient`]: what an application does for its user (signup, login
//!   with the MFA branch, sessions, email verification, passwords, magic
//!   links). It holds the user's [`Session`] token and sends it as
//!   `Authorization: Bearer`.
//! - [`MfaClient`] ([`AuthClient::mfa`]): TOTP enrollment, challenge,
//!   recovery codes, on the same session.
//! - [`AdminClient`]: admin-key operations (users, audit, statistics) and
//!   [`AdminClient::introspect`], how other services check a session.
//! - `axum` (feature `axum`): a layer that guards a service's routes with
//!   that check, optionally demanding a recent second factor.
//!
//! Errors are [`ClientError`]; server answers carry the API's `error` slug
//! ([`ClientError::is`]). Nothing here panics, and no error or `Debug`
//! output contains a token, key or password.
//!
//! Features: `tls` (default; https with rustls, the ring provider and the
//! operating system's certificate verifier, installed for this client only),
//! `axum`.
//!
//! # Example: the MFA journey
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use authn_client::{AuthClient, Login, compute_totp};
//!
//! let auth = AuthClient::new("https://auth.example.com")?;
//! let _ = auth.login("alice@example.com", "Strong-Pwd-2026").await?;
//!
//! // Enroll: a secret (show `otpauth_url` as a QR code), then confirm.
//! let mfa = auth.mfa();
//! let e = mfa.enroll().await?;
//! let recovery_codes = mfa.verify(&compute_totp(&e.secret)?).await?;
//!
//! // From now on, login asks for the second factor.
//! auth.logout().await?;
//! if let Login::MfaRequired { .. } = auth.login("alice@example.com", "Strong-Pwd-2026").await? {
//!     mfa.challenge(&compute_totp(&e.secret)?).await?;
//! }
//! let me = auth.me().await?;
//! assert!(me.mfa_enabled);
//! # let _ = recovery_codes; Ok(()) }
//! ```

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod admin;
mod auth;
mod error;
mod http;
mod mfa;
mod session;
mod types;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;

pub use admin::{
    Actor, AdminClient, AdminClientBuilder, AuditFilter, ListUsers, NewUser, UserPatch,
};
pub use auth::{AuthClient, AuthClientBuilder, Login};
pub use error::{ClientError, DecodeError};
pub use mfa::MfaClient;
pub use session::{Session, SessionToken};
pub use types::{
    AuditEvent, Cleanup, Enrollment, Introspection, MfaStatus, OutboxMail, Page, SessionInfo,
    SessionSummary, Stats, User,
};

/// The current 6-digit TOTP code (RFC 6238, HMAC-SHA1, 30 s) of a base32
/// secret, like the Python SDK's `compute_totp`: for tests and scripts that
/// drive enrollment and login end to end.
///
/// # Example
///
/// ```no_run
/// # async fn run(auth: authn_client::AuthClient) -> Result<(), Box<dyn std::error::Error>> {
/// let code = authn_client::compute_totp("JBSWY3DPEHPK3PXP")?;
/// assert_eq!(code.len(), 6);
/// auth.mfa().challenge(&code).await?;
/// # Ok(()) }
/// ```
pub use authn_core::compute_totp;

/// Why [`compute_totp`] failed (an invalid secret).
///
/// # Example
///
/// ```
/// let err: authn_client::TotpError = authn_client::compute_totp("not base32!").unwrap_err();
/// println!("{err}");
/// ```
pub use authn_core::totp::TotpError;
