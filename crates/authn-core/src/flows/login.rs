//! Signup, password login (lockout, partial MFA state), logout, the
//! profile and the caller's sessions.

use crate::email::Email;
use crate::error::StoreError;
use crate::ids::{SessionId, UserId};
use crate::model::{AttemptPermit, MfaType, NewSession, NewUser, Session};
use crate::secret::{PasswordHash, TokenHash};
use crate::store::Store;

use super::{
    ACR_AAL1, AMR_PWD, AuthContext, AuthError, AuthResult, Authn, ClientInfo, IssuedSession,
    LoginOutcome, UserProfile,
};

/// A correct password, as [`Authn::login`] found it.
struct LoginCheck {
    user_id: UserId,
    /// The stored hash has other parameters than the configured ones.
    needs_rehash: bool,
    /// Read while the hash ran.
    reads: FirstFactorReads,
}

/// What the answer to a first factor depends on besides the factor itself:
/// the user's second-factor methods (a confirmed TOTP method means one is
/// owed; the confirmed ones are named in the answer), without their
/// secrets, and the user. Neither depends on the factor's verdict, so a
/// login reads them while its hash runs.
pub(crate) struct FirstFactorReads {
    methods: Vec<crate::model::MfaMethod>,
    user: Option<crate::model::User>,
}

impl<S: Store + Clone + 'static> Authn<S> {
    /// Creates a session with a fresh token for a user; with `concludes`,
    /// the login attempt is finished as a success in the same commit.
    pub(crate) async fn issue_session(
        &self,
        user_id: UserId,
        client: &ClientInfo,
        partial: bool,
        amr: &[&str],
        concludes: Option<AttemptPermit>,
    ) -> AuthResult<IssuedSession> {
        let token = crate::token::generate_token();
        let session_id = self
            .store
            .create_session_with(&NewSession {
                ip_address: client.ip_address,
                user_agent: client.user_agent.clone(),
                partial,
                amr: amr.iter().map(|m| (*m).to_owned()).collect(),
                acr: (!partial).then(|| ACR_AAL1.to_owned()),
                concludes,
                ..NewSession::new(user_id, TokenHash::of_token(&token))
            })
            .await?;
        Ok(IssuedSession {
            token,
            session_id,
            partial,
        })
    }

    /// The user as clients see them (with `mfa_enabled`).
    ///
    /// # Errors
    /// [`AuthError::NotFound`] for an unknown user.
    pub async fn profile(&self, user_id: UserId) -> AuthResult<UserProfile> {
        // Two independent reads: one round trip's wait instead of two.
        let (user, totp) = tokio::join!(
            self.store.get_user(user_id),
            self.totp_method(user_id, true)
        );
        let user = user?.ok_or(AuthError::NotFound)?;
        let mfa_enabled = totp?.is_some();
        Ok(UserProfile { user, mfa_enabled })
    }

    /// Signs a new user up with a password and opens a full session.
    ///
    /// # Errors
    /// [`AuthError::InvalidEmail`], [`AuthError::WeakPassword`],
    /// [`AuthError::EmailTaken`], [`AuthError::ServerBusy`].
    pub async fn signup(
        &self,
        email: &str,
        password: &str,
        name: Option<&str>,
        client: &ClientInfo,
    ) -> AuthResult<(UserProfile, IssuedSession)> {
        let email = Email::parse(email).map_err(|_| AuthError::InvalidEmail)?;
        self.config.password_policy.check(password, Some(&email))?;
        let phc = self.hasher.hash(password).await?;
        let hash = PasswordHash::parse(&phc).map_err(AuthError::internal)?;
        let user_id = self
            .store
            .create_user_with(&NewUser {
                email: email.as_str().to_owned(),
                password_hash: Some(hash),
                name: name.map(str::to_owned),
                email_verified: false,
            })
            .await?;
        let session = self
            .issue_session(user_id, client, false, &[AMR_PWD], None)
            .await?;
        Ok((self.profile(user_id).await?, session))
    }

    /// Password login. Unknown emails, wrong passwords and disabled users
    /// get the same answer after the same hashing work. Each attempt is
    /// reserved in the store before the password's verdict is used, so
    /// parallel guesses never get past the lockout limit. Users with a
    /// second factor get a partial session and [`LoginOutcome::MfaRequired`].
    ///
    /// The store work is kept off the hash's critical path, so a login
    /// costs little more than its hash: the hasher's place is taken first
    /// (a full hasher refuses at once, before any store work and without
    /// counting an attempt); the credentials, which the hash needs, are
    /// read alone, so that nothing competes with that one read; the attempt
    /// is reserved, and the second factor and the profile are read, while
    /// the hash runs; and after a right password, one commit writes the
    /// session and finishes the attempt.
    ///
    /// # Errors
    /// [`AuthError::InvalidCredentials`], [`AuthError::AccountLocked`],
    /// [`AuthError::ServerBusy`].
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> AuthResult<LoginOutcome> {
        // Overload is refused here for the price of a semaphore check: no
        // attempt reserved and cancelled, no pool connection taken from the
        // logins that will be answered.
        let admission = self.hasher.try_admit()?;
        let Ok(email) = Email::parse(email) else {
            // Same cost as a real check: the answer must not tell malformed
            // from unknown from wrong.
            self.hasher
                .verify_dummy_admitted(admission, password)
                .await?;
            return Err(AuthError::InvalidCredentials);
        };
        // A storage error here ends the login before anything is reserved
        // (the admission is dropped with the error).
        let creds = self.store.get_credentials(email.as_str()).await?;
        // Both run to the end (neither is dropped half way through a
        // statement), and the verdict is used only once the reservation
        // holds: a refused (locked) attempt answers after the same hashing
        // work as any other and its verdict is never looked at.
        let (permit, checked) = tokio::join!(
            self.reserve_password_attempt(&email, client),
            self.check_login_password(admission, creds, password),
        );
        let permit = permit?;
        let found = match checked {
            Ok(Some(found)) => found,
            Ok(None) => {
                self.store.finish_login_attempt(&permit, false).await?;
                return Err(AuthError::InvalidCredentials);
            }
            Err(e) => {
                // Not decided (storage trouble): the attempt must not count
                // as a failure.
                let _ = self.store.cancel_login_attempt(&permit).await;
                return Err(e);
            }
        };
        if found.needs_rehash {
            self.rehash(found.user_id, password).await;
        }
        // The session concludes the attempt: one commit finishes it as a
        // success and writes the session, so only that one write follows
        // the hash, and a session is never handed out for an attempt that
        // was not open.
        let outcome = self
            .session_after_first_factor(
                found.user_id,
                found.reads,
                client,
                AMR_PWD,
                Some(permit.clone()),
            )
            .await;
        if outcome.is_err() {
            // No session handed out (the user was disabled or deleted
            // meanwhile, or storage trouble): the password was right all
            // the same, which is what the attempt records (best effort; one
            // closed meanwhile, or by a commit whose answer was lost, stays
            // as it is).
            let _ = self.store.finish_login_attempt(&permit, true).await;
        }
        outcome
    }

    /// [`check_password`](Self::check_password) for a login, on a hasher
    /// place taken already and credentials read already (`None`: unknown
    /// email), without the re-hash (the caller does it once the attempt is
    /// reserved).
    async fn check_login_password(
        &self,
        admission: crate::password::Admission,
        creds: Option<crate::model::Credentials>,
        password: &str,
    ) -> AuthResult<Option<LoginCheck>> {
        let Some((creds, hash)) = creds.and_then(|c| c.password_hash.clone().map(|h| (c, h)))
        else {
            self.hasher
                .verify_dummy_admitted(admission, password)
                .await?;
            return Ok(None);
        };
        // The reads the answer needs run beside the hash (they do not
        // depend on its verdict and are dropped unused when it is wrong),
        // so that after a right password only the session is written.
        let (verdict, reads) = tokio::join!(
            self.hasher
                .verify_admitted(admission, password, hash.as_str()),
            self.first_factor_reads(creds.user_id),
        );
        let verdict = verdict?;
        if !verdict.matches || creds.disabled_at.is_some() {
            return Ok(None);
        }
        Ok(Some(LoginCheck {
            user_id: creds.user_id,
            needs_rehash: verdict.needs_rehash,
            reads: reads?,
        }))
    }

    /// The reads of [`FirstFactorReads`], side by side: one round trip's
    /// wait instead of two.
    async fn first_factor_reads(&self, user_id: UserId) -> AuthResult<FirstFactorReads> {
        let (methods, user) =
            tokio::join!(self.store.list_mfa(user_id), self.store.get_user(user_id));
        Ok(FirstFactorReads {
            methods: methods?,
            user: user?,
        })
    }

    /// After a first factor (`method`): a partial session and
    /// [`LoginOutcome::MfaRequired`] for users with a second factor, else a
    /// full session.
    pub(crate) async fn after_first_factor(
        &self,
        user_id: UserId,
        client: &ClientInfo,
        method: &str,
    ) -> AuthResult<LoginOutcome> {
        let reads = self.first_factor_reads(user_id).await?;
        self.session_after_first_factor(user_id, reads, client, method, None)
            .await
    }

    /// [`after_first_factor`](Self::after_first_factor) on reads made
    /// already; the session concludes the login attempt `concludes`.
    async fn session_after_first_factor(
        &self,
        user_id: UserId,
        FirstFactorReads { methods, user }: FirstFactorReads,
        client: &ClientInfo,
        method: &str,
        concludes: Option<AttemptPermit>,
    ) -> AuthResult<LoginOutcome> {
        if methods
            .iter()
            .any(|m| m.confirmed && m.mfa_type == MfaType::Totp)
        {
            let session = self
                .issue_session(user_id, client, true, &[method], concludes)
                .await?;
            return Ok(LoginOutcome::MfaRequired {
                session,
                methods: second_factor_names(&methods),
            });
        }
        let user = user.ok_or(AuthError::NotFound)?;
        let session = self
            .issue_session(user_id, client, false, &[method], concludes)
            .await?;
        Ok(LoginOutcome::Complete {
            user: UserProfile {
                user,
                mfa_enabled: false,
            },
            session,
        })
    }

    /// Reserves a password attempt for `email` before any check (the atomic
    /// lockout gate shared by login and password change).
    pub(crate) async fn reserve_password_attempt(
        &self,
        email: &Email,
        client: &ClientInfo,
    ) -> AuthResult<crate::model::AttemptPermit> {
        match self
            .store
            .begin_login_attempt(email.as_str(), client.ip_address)
            .await
        {
            Ok(p) => Ok(p),
            Err(StoreError::Locked { retry_after }) => {
                Err(AuthError::AccountLocked { retry_after })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Checks a password: `Some(user)` when right, `None` when wrong,
    /// unknown, passwordless or disabled (after the same hashing work).
    /// Re-hashes with the current parameters on success when they changed.
    pub(crate) async fn check_password(
        &self,
        email: &Email,
        password: &str,
    ) -> AuthResult<Option<UserId>> {
        let creds = self.store.get_credentials(email.as_str()).await?;
        let Some((creds, hash)) = creds.and_then(|c| c.password_hash.clone().map(|h| (c, h)))
        else {
            self.hasher.verify_dummy(password).await?;
            return Ok(None);
        };
        let verdict = self.hasher.verify(password, hash.as_str()).await?;
        if !verdict.matches || creds.disabled_at.is_some() {
            return Ok(None);
        }
        if verdict.needs_rehash {
            self.rehash(creds.user_id, password).await;
        }
        Ok(Some(creds.user_id))
    }

    /// Stores a hash of a correct password with the current parameters.
    /// Best effort: a failure here must not fail a correct login.
    async fn rehash(&self, user_id: UserId, password: &str) {
        if let Ok(phc) = self.hasher.hash(password).await
            && let Ok(new_hash) = PasswordHash::parse(&phc)
        {
            let _ = self.store.update_password(user_id, &new_hash).await;
        }
    }

    /// Logs the session out (revokes it).
    ///
    /// # Errors
    /// [`AuthError::Unavailable`] when the store cannot be reached.
    pub async fn logout(&self, ctx: &AuthContext) -> AuthResult<()> {
        self.store.revoke_session(&ctx.token_hash).await?;
        Ok(())
    }

    /// The caller's active sessions, newest first, with which is the current one.
    ///
    /// # Errors
    /// [`AuthError::MfaRequired`] for a partial session.
    pub async fn sessions(&self, ctx: &AuthContext) -> AuthResult<Vec<(Session, bool)>> {
        ctx.require_full()?;
        let list = self.store.list_sessions(ctx.user_id()).await?;
        Ok(list
            .into_iter()
            .map(|s| {
                let current = s.id == ctx.session.session_id;
                (s, current)
            })
            .collect())
    }

    /// Revokes one of the caller's sessions.
    ///
    /// # Errors
    /// [`AuthError::NotFound`] when it is not an active session of the caller.
    pub async fn revoke_own_session(&self, ctx: &AuthContext, id: SessionId) -> AuthResult<()> {
        ctx.require_full()?;
        if self.store.revoke_session_by_id(ctx.user_id(), id).await? {
            Ok(())
        } else {
            Err(AuthError::NotFound)
        }
    }

    /// Revokes all of the caller's sessions but the current one.
    ///
    /// # Returns
    /// How many were revoked.
    ///
    /// # Errors
    /// [`AuthError::MfaRequired`] for a partial session.
    pub async fn revoke_other_sessions(&self, ctx: &AuthContext) -> AuthResult<u64> {
        ctx.require_full()?;
        Ok(self
            .store
            .revoke_other_sessions(ctx.user_id(), ctx.session.session_id)
            .await?)
    }

    /// Deletes the caller's account (needs a recent authentication).
    ///
    /// # Errors
    /// [`AuthError::StepUpRequired`].
    pub async fn delete_account(&self, ctx: &AuthContext) -> AuthResult<()> {
        self.require_recent_auth(ctx).await?;
        self.store.delete_user(ctx.user_id()).await?;
        Ok(())
    }

    /// Names of the second factors a user can answer a challenge with.
    pub(crate) async fn second_factor_names(&self, user_id: UserId) -> AuthResult<Vec<String>> {
        Ok(second_factor_names(&self.store.list_mfa(user_id).await?))
    }
}

/// Names of the second factors among `methods` that a challenge can be
/// answered with: the confirmed ones, each type once, WebAuthn aside.
fn second_factor_names(methods: &[crate::model::MfaMethod]) -> Vec<String> {
    let mut names = Vec::new();
    for m in methods {
        let name = m.mfa_type.as_str().to_owned();
        if m.confirmed && m.mfa_type != MfaType::Webauthn && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}
