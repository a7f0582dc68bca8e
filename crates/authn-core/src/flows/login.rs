//! Signup, password login (lockout, partial MFA state), logout, the
//! profile and the caller's sessions.

use crate::email::Email;
use crate::error::StoreError;
use crate::ids::{SessionId, UserId};
use crate::model::{AttemptPermit, MfaType, NewSession, NewUser, Session, User};
use crate::secret::{PasswordHash, TokenHash};
use crate::store::{PreparedSession, Store};

use super::{
    ACR_AAL1, AMR_PWD, AuthContext, AuthError, AuthResult, Authn, ClientInfo, IssuedSession,
    LoginOutcome, UserProfile,
};

/// The work a login does beside its hash, as [`Authn::login`] found it.
struct LoginAhead {
    /// The attempt's reservation (the lockout's gate).
    permit: AuthResult<AttemptPermit>,
    /// For a known, enabled user with a password: the reads the answer
    /// needs ([`FirstFactorReads`]).
    reads: Option<AuthResult<FirstFactorReads>>,
    /// The session those reads lead to, written ahead of the verdict
    /// ([`prepare_session`](crate::store::SessionStore::prepare_session));
    /// `None` when the reservation or the reads failed, the hash never
    /// started, other logins waited for the hasher, or the store refused.
    prepared: Option<(SessionPlan, PreparedSession)>,
}

/// What a first factor leads to: the session to write, and the answer
/// once it is written.
struct SessionPlan {
    token: String,
    new: NewSession,
    answer: PlannedAnswer,
}

enum PlannedAnswer {
    /// A second factor is owed (the session is partial): these can answer.
    MfaRequired { methods: Vec<String> },
    /// Signed in: a full session.
    Complete { user: User },
}

impl SessionPlan {
    /// The answer, once the session is written as `session_id`.
    fn answer(self, session_id: SessionId) -> LoginOutcome {
        let session = IssuedSession {
            token: self.token,
            session_id,
            partial: self.new.partial,
        };
        match self.answer {
            PlannedAnswer::MfaRequired { methods } => {
                LoginOutcome::MfaRequired { session, methods }
            }
            PlannedAnswer::Complete { user } => LoginOutcome::Complete {
                user: UserProfile {
                    user,
                    mfa_enabled: false,
                },
                session,
            },
        }
    }
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
        let (token, new) = new_session(user_id, client, partial, amr, concludes);
        let session_id = self.store.create_session_with(&new).await?;
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
    /// read alone, so that nothing competes with that one read; while the
    /// hash runs, the attempt is reserved, the second factor and the
    /// profile are read, and the session they lead to is written ahead
    /// ([`prepare_session`](crate::store::SessionStore::prepare_session);
    /// not while other logins wait for the hasher, when the machine has
    /// no idle time to hide it in); with the verdict, a right password
    /// commits it (the attempt finished as a success in the same commit),
    /// and a wrong one drops it and records the failure.
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
        let known = creds.and_then(|c| c.password_hash.clone().map(|h| (c, h)));
        // Only an enabled user can be signed in: for the others nothing is
        // read or written ahead, and the verdict is not looked at.
        let user_id = known
            .as_ref()
            .filter(|(c, _)| c.disabled_at.is_none())
            .map(|(c, _)| c.user_id);
        let (started, hash_started) = tokio::sync::oneshot::channel();
        // Both run to the end (neither is dropped half way through a
        // statement), and the verdict is used only once the reservation
        // holds: a refused (locked) attempt answers after the same hashing
        // work as any other and its verdict is never looked at.
        let (verdict, ahead) = tokio::join!(
            async {
                match &known {
                    Some((_, hash)) => self
                        .hasher
                        .verify_admitted_started(admission, password, hash.as_str(), Some(started))
                        .await
                        .map(Some),
                    None => self
                        .hasher
                        .verify_dummy_admitted(admission, password)
                        .await
                        .map(|()| None),
                }
            },
            self.login_ahead(&email, client, user_id, hash_started),
        );
        let LoginAhead {
            permit,
            reads,
            prepared,
        } = ahead;
        // No reservation, nothing prepared (it needs the attempt).
        let permit = permit?;
        let verdict = match verdict {
            Ok(verdict) => verdict,
            Err(e) => {
                // Not decided (the hasher failed): the attempt must not
                // count as a failure.
                if let Some((_, prepared)) = prepared {
                    prepared.abort();
                }
                let _ = self.store.cancel_login_attempt(&permit).await;
                return Err(e.into());
            }
        };
        // `reads` is there whenever `user_id` is (login_ahead).
        let (Some(user_id), Some(verdict), Some(reads)) =
            (user_id, verdict.filter(|v| v.matches), reads)
        else {
            // The session dropped, which waits for nothing (the store
            // rolls it back on its own time), and the failure recorded as
            // for an unknown email: the same work after the same hash.
            if let Some((_, prepared)) = prepared {
                prepared.abort();
            }
            self.store.finish_login_attempt(&permit, false).await?;
            return Err(AuthError::InvalidCredentials);
        };
        let outcome = match prepared {
            Some((plan, prepared)) => prepared
                .commit(&self.store)
                .await
                .map(|id| plan.answer(id))
                .map_err(AuthError::from),
            None => {
                let reads = match reads {
                    Ok(reads) => reads,
                    Err(e) => {
                        // Not decided either (storage trouble).
                        let _ = self.store.cancel_login_attempt(&permit).await;
                        return Err(e);
                    }
                };
                // Nothing written ahead: the session concludes the attempt
                // in one commit, as above.
                self.session_after_first_factor(
                    user_id,
                    &reads,
                    client,
                    AMR_PWD,
                    Some(permit.clone()),
                )
                .await
            }
        };
        if outcome.is_err() {
            // No session handed out (the user was disabled or deleted
            // meanwhile, or storage trouble): the password was right all
            // the same, which is what the attempt records (best effort; one
            // closed meanwhile, or by a commit whose answer was lost, stays
            // as it is).
            let _ = self.store.finish_login_attempt(&permit, true).await;
        }
        // After the commit, which locks the user's row the new hash is
        // written to.
        if verdict.needs_rehash {
            self.rehash(user_id, password).await;
        }
        outcome
    }

    /// A login's work beside its hash: the reservation and, for a known
    /// enabled user, the reads, side by side; then, once the hash has a
    /// thread (`hash_started`; not while it waits for one, since a
    /// prepared session holds a database transaction open until the
    /// verdict), the session written ahead, unless other logins wait for
    /// the hasher.
    async fn login_ahead(
        &self,
        email: &Email,
        client: &ClientInfo,
        user_id: Option<UserId>,
        hash_started: tokio::sync::oneshot::Receiver<()>,
    ) -> LoginAhead {
        let (permit, reads) = tokio::join!(self.reserve_password_attempt(email, client), async {
            match user_id {
                Some(user_id) => Some(self.first_factor_reads(user_id).await),
                None => None,
            }
        });
        let mut prepared = None;
        if let (Ok(permit), Some(Ok(reads)), Some(user_id)) = (&permit, &reads, user_id)
            && hash_started.await.is_ok()
            // Logins waiting for the hasher: the machine has no idle time
            // to hide the writing in, and a session written at the commit
            // costs fewer round trips (one instead of three).
            && self.hasher.waiting() == 0
            && let Ok(plan) =
                self.plan_after_first_factor(user_id, reads, client, AMR_PWD, Some(permit.clone()))
        {
            // A store that fails here is asked again, in the plain way,
            // once the password is known to be right.
            if let Ok(p) = self.store.prepare_session(&plan.new).await {
                prepared = Some((plan, p));
            }
        }
        LoginAhead {
            permit,
            reads,
            prepared,
        }
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
        self.session_after_first_factor(user_id, &reads, client, method, None)
            .await
    }

    /// [`after_first_factor`](Self::after_first_factor) on reads made
    /// already; the session concludes the login attempt `concludes`.
    async fn session_after_first_factor(
        &self,
        user_id: UserId,
        reads: &FirstFactorReads,
        client: &ClientInfo,
        method: &str,
        concludes: Option<AttemptPermit>,
    ) -> AuthResult<LoginOutcome> {
        let plan = self.plan_after_first_factor(user_id, reads, client, method, concludes)?;
        let session_id = self.store.create_session_with(&plan.new).await?;
        Ok(plan.answer(session_id))
    }

    /// The session a first factor leads to: partial, naming the second
    /// factors, for a user with a confirmed TOTP method; else full.
    ///
    /// # Errors
    /// [`AuthError::NotFound`] when a full session is due and the user was
    /// not found.
    fn plan_after_first_factor(
        &self,
        user_id: UserId,
        FirstFactorReads { methods, user }: &FirstFactorReads,
        client: &ClientInfo,
        method: &str,
        concludes: Option<AttemptPermit>,
    ) -> AuthResult<SessionPlan> {
        let partial = methods
            .iter()
            .any(|m| m.confirmed && m.mfa_type == MfaType::Totp);
        let answer = if partial {
            PlannedAnswer::MfaRequired {
                methods: second_factor_names(methods),
            }
        } else {
            PlannedAnswer::Complete {
                user: user.clone().ok_or(AuthError::NotFound)?,
            }
        };
        let (token, new) = new_session(user_id, client, partial, &[method], concludes);
        Ok(SessionPlan { token, new, answer })
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

/// A fresh session token and the session to write for it.
fn new_session(
    user_id: UserId,
    client: &ClientInfo,
    partial: bool,
    amr: &[&str],
    concludes: Option<AttemptPermit>,
) -> (String, NewSession) {
    let token = crate::token::generate_token();
    let new = NewSession {
        ip_address: client.ip_address,
        user_agent: client.user_agent.clone(),
        partial,
        amr: amr.iter().map(|m| (*m).to_owned()).collect(),
        acr: (!partial).then(|| ACR_AAL1.to_owned()),
        concludes,
        ..NewSession::new(user_id, TokenHash::of_token(&token))
    };
    (token, new)
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
