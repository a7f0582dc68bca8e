//! The session shared by every client built from one [`AuthClient`](crate::AuthClient).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A session token: the bearer credential the server returns in `token`.
///
/// Its `Debug` output is redacted and it has no `Display`, so it cannot end
/// up in logs by accident; [`SessionToken::expose_secret`] is the one way
/// to read it (to persist it in a keychain, for instance).
///
/// # Example
///
/// ```
/// use authn_client::SessionToken;
///
/// let token = SessionToken::new("c2VjcmV0");
/// assert_eq!(format!("{token:?}"), "SessionToken(<redacted>)");
/// assert_eq!(token.expose_secret(), "c2VjcmV0");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// Wraps a token (one returned earlier by the server and persisted).
    ///
    /// # Example
    ///
    /// ```
    /// let token = authn_client::SessionToken::new(String::from("c2VjcmV0"));
    /// # let _ = token;
    /// ```
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself. Treat it like a password.
    ///
    /// # Example
    ///
    /// ```
    /// let token = authn_client::SessionToken::new("c2VjcmV0");
    /// let header = format!("Bearer {}", token.expose_secret());
    /// # let _ = header;
    /// ```
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// The session of one user: the current token, shared (cheap to clone) by
/// every client made from one [`AuthClient`](crate::AuthClient).
///
/// The server rotates sessions: a login, an MFA challenge or recovery, and
/// a magic-link sign-in each return a new token, which replaces the held
/// one; logout and account deletion clear it. Clients send it as
/// `Authorization: Bearer`, which works whatever the server's cookie name
/// and outside browsers.
///
/// # Example
///
/// ```no_run
/// # async fn run() -> Result<(), authn_client::ClientError> {
/// use authn_client::{AuthClient, Session, SessionToken};
///
/// // Restore a token persisted by an earlier run.
/// let session = Session::with_token(SessionToken::new("persisted-token"));
/// let auth = AuthClient::new("https://auth.example.com")?.with_session(session.clone());
/// let me = auth.me().await?;
/// // `session` sees every later rotation, e.g. to persist it again.
/// if let Some(token) = session.token() {
///     println!("{} -> persist {}", me.email, token.expose_secret().len());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Session {
    token: Arc<Mutex<Option<SessionToken>>>,
}

impl Session {
    /// A session without a token (not logged in).
    ///
    /// # Example
    ///
    /// ```
    /// let session = authn_client::Session::new();
    /// assert!(!session.has_token());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// A session holding `token`.
    ///
    /// # Example
    ///
    /// ```
    /// use authn_client::{Session, SessionToken};
    ///
    /// let session = Session::with_token(SessionToken::new("t"));
    /// assert!(session.has_token());
    /// ```
    pub fn with_token(token: SessionToken) -> Self {
        let s = Self::new();
        s.set_token(token);
        s
    }

    /// The current token, if any.
    ///
    /// # Example
    ///
    /// ```
    /// let session = authn_client::Session::new();
    /// assert!(session.token().is_none());
    /// ```
    pub fn token(&self) -> Option<SessionToken> {
        self.lock().clone()
    }

    /// Whether a token is held. A held token may still be partial (second
    /// factor owed), expired or revoked: only the server knows.
    ///
    /// # Example
    ///
    /// ```
    /// let session = authn_client::Session::new();
    /// assert!(!session.has_token());
    /// ```
    pub fn has_token(&self) -> bool {
        self.lock().is_some()
    }

    /// Replaces the token.
    ///
    /// # Example
    ///
    /// ```
    /// use authn_client::{Session, SessionToken};
    ///
    /// let session = Session::new();
    /// session.set_token(SessionToken::new("t"));
    /// assert!(session.has_token());
    /// ```
    pub fn set_token(&self, token: SessionToken) {
        *self.lock() = Some(token);
    }

    /// Forgets the token (locally only: to end the session on the server,
    /// use [`AuthClient::logout`](crate::AuthClient::logout)).
    ///
    /// # Example
    ///
    /// ```
    /// use authn_client::{Session, SessionToken};
    ///
    /// let session = Session::with_token(SessionToken::new("t"));
    /// session.clear();
    /// assert!(!session.has_token());
    /// ```
    pub fn clear(&self) {
        *self.lock() = None;
    }

    /// Forgets the token only if it is still `token`: a concurrent login
    /// that already replaced it must not be undone.
    pub(crate) fn clear_if(&self, token: &SessionToken) {
        let mut held = self.lock();
        if held.as_ref() == Some(token) {
            *held = None;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<SessionToken>> {
        // The guarded value is a plain Option: a panic elsewhere while it
        // was held cannot have left it half-written.
        self.token.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("token", &self.token())
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_token() {
        let a = Session::new();
        let b = a.clone();
        a.set_token(SessionToken::new("one"));
        assert_eq!(b.token(), Some(SessionToken::new("one")));
        b.clear();
        assert!(!a.has_token());
    }

    #[test]
    fn clear_if_only_clears_the_same_token() {
        let s = Session::with_token(SessionToken::new("new"));
        s.clear_if(&SessionToken::new("old"));
        assert!(s.has_token());
        s.clear_if(&SessionToken::new("new"));
        assert!(!s.has_token());
    }

    #[test]
    fn debug_is_redacted() {
        let s = Session::with_token(SessionToken::new("very-secret"));
        let text = format!("{s:?}");
        assert!(!text.contains("very-secret"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}
