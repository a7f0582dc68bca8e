//! Second factor: TOTP enrollment and verification, login challenge and
//! step-up, recovery codes, disabling, status.
//!
//! Every code check first reserves a slot on the session (at most
//! `session_mfa_max_attempts` wrong or pending codes, then the session is
//! revoked) and one on the user across sessions (`mfa_max_attempts` per
//! lockout window), so parallel guesses can never exceed either limit. An
//! accepted TOTP step is recorded atomically, so a code is never accepted
//! twice.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::error::StoreError;
use crate::ids::{MfaId, UserId};
use crate::model::{AttemptPermit, MfaCredential, MfaReservation, MfaType, SessionUpgrade};
use crate::recovery;
use crate::secret::{MfaSecret, TokenHash};
use crate::store::Store;
use crate::totp;

use super::{
    ACR_AAL2, AMR_MFA, AMR_OTP, AMR_RECOVERY, AuthContext, AuthError, AuthResult, Authn,
    ClientInfo, IssuedSession, UserProfile,
};

/// A started TOTP enrollment: show the secret or the QR code of the URI,
/// then confirm with a first code.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Enrollment {
    /// The shared secret, base32 without padding.
    pub secret: String,
    /// The `otpauth://` provisioning URI.
    pub otpauth_url: String,
}

impl std::fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrollment(<redacted>)")
    }
}

/// A user's second-factor state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MfaStatus {
    /// Whether a confirmed TOTP exists.
    pub mfa_enabled: bool,
    /// Confirmed methods (`totp`, `recovery_codes`).
    pub methods: Vec<String>,
    /// Unused recovery codes left.
    pub recovery_codes_remaining: usize,
}

/// The upgrade a passed second factor brings to a session.
fn upgrade(method: &str) -> SessionUpgrade {
    SessionUpgrade {
        add_amr: vec![method.to_owned(), AMR_MFA.to_owned()],
        acr: Some(ACR_AAL2.to_owned()),
    }
}

fn unix_now() -> AuthResult<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(AuthError::internal)
}

impl<S: Store + Clone + 'static> Authn<S> {
    /// The user's TOTP method, confirmed or pending.
    pub(crate) async fn totp_method(
        &self,
        user_id: UserId,
        confirmed: bool,
    ) -> AuthResult<Option<MfaCredential>> {
        Ok(self
            .store
            .get_mfa(user_id, MfaType::Totp)
            .await?
            .into_iter()
            .find(|m| m.method.confirmed == confirmed))
    }

    /// The AEAD context binding a sealed TOTP secret to its user.
    fn totp_context(user_id: UserId) -> String {
        format!("totp:{user_id}")
    }

    /// Checks a code against a TOTP method: the matched time step.
    fn match_totp(&self, cred: &MfaCredential, code: &str) -> AuthResult<Option<u64>> {
        let secret = self
            .secrets
            .open(
                cred.secret.expose(),
                &Self::totp_context(cred.method.user_id),
            )
            .map_err(AuthError::internal)?;
        totp::verify(&secret, code, unix_now()?, &self.config.totp).map_err(AuthError::internal)
    }

    /// Takes a second-factor slot on the session and one on the user.
    async fn reserve_second_factor(
        &self,
        ctx: &AuthContext,
        client: &ClientInfo,
    ) -> AuthResult<AttemptPermit> {
        let max = self.config.session_mfa_max_attempts;
        match self
            .store
            .reserve_session_mfa_attempt(&ctx.token_hash, max)
            .await?
        {
            MfaReservation::Reserved => {}
            MfaReservation::Exhausted => {
                return Err(AuthError::TooManyAttempts { retry_after: None });
            }
            MfaReservation::NoSession => return Err(AuthError::Unauthorized),
        }
        match self
            .store
            .begin_mfa_attempt(ctx.user_id(), client.ip_address)
            .await
        {
            Ok(permit) => Ok(permit),
            Err(e) => {
                // The code was not checked: give the session slot back.
                self.store
                    .finish_session_mfa_attempt(&ctx.token_hash, true, max)
                    .await?;
                Err(match e {
                    StoreError::Locked { retry_after } => AuthError::TooManyAttempts {
                        retry_after: Some(retry_after),
                    },
                    other => other.into(),
                })
            }
        }
    }

    /// Records the outcome of a reserved check on both counters.
    async fn settle_second_factor(
        &self,
        ctx: &AuthContext,
        permit: &AttemptPermit,
        ok: bool,
    ) -> AuthResult<()> {
        self.store.finish_login_attempt(permit, ok).await?;
        self.store
            .finish_session_mfa_attempt(&ctx.token_hash, ok, self.config.session_mfa_max_attempts)
            .await?;
        Ok(())
    }

    /// A TOTP code of a confirmed method, accepted only for a step never
    /// accepted before (atomically, so concurrent submissions of one code
    /// get one success; a method removed meanwhile accepts nothing).
    async fn accept_totp(&self, cred: &MfaCredential, code: &str) -> AuthResult<bool> {
        match self.match_totp(cred, code)? {
            Some(step) => Ok(self.store.accept_totp_step(cred.method.id, step).await?),
            None => Ok(false),
        }
    }

    /// A recovery code of the user, spent if it matches.
    async fn spend_recovery_code(&self, user_id: UserId, code: &str) -> AuthResult<bool> {
        let Some(normalized) = recovery::normalize_recovery_code(code) else {
            return Ok(false);
        };
        let hash = MfaSecret::parse(&recovery::hash_recovery_code(&normalized))
            .map_err(AuthError::internal)?;
        Ok(self.store.consume_recovery_code(user_id, &hash).await?)
    }

    /// Runs one reserved second-factor check and settles it.
    async fn checked<F>(&self, ctx: &AuthContext, client: &ClientInfo, check: F) -> AuthResult<()>
    where
        F: AsyncFnOnce() -> AuthResult<bool>,
    {
        let permit = self.reserve_second_factor(ctx, client).await?;
        let ok = match check().await {
            Ok(ok) => ok,
            Err(e) => {
                let _ = self.store.cancel_login_attempt(&permit).await;
                let _ = self
                    .store
                    .finish_session_mfa_attempt(
                        &ctx.token_hash,
                        true,
                        self.config.session_mfa_max_attempts,
                    )
                    .await;
                return Err(e);
            }
        };
        self.settle_second_factor(ctx, &permit, ok).await?;
        if ok {
            Ok(())
        } else {
            Err(AuthError::InvalidCode)
        }
    }

    /// Replaces the (partial or full) session by a new full one carrying the
    /// passed second factor.
    async fn upgrade_session(
        &self,
        ctx: &AuthContext,
        method: &str,
    ) -> AuthResult<(UserProfile, IssuedSession)> {
        let token = crate::token::generate_token();
        let session_id = self
            .store
            .rotate_session(
                &ctx.token_hash,
                &TokenHash::of_token(&token),
                &upgrade(method),
            )
            .await?
            .ok_or(AuthError::Unauthorized)?;
        let profile = self.profile(ctx.user_id()).await?;
        Ok((
            profile,
            IssuedSession {
                token,
                session_id,
                partial: false,
            },
        ))
    }

    /// Starts (or restarts) TOTP enrollment: a new secret, sealed at rest
    /// under the server key, pending until confirmed by `mfa_verify`.
    ///
    /// # Errors
    /// [`AuthError::MfaAlreadyEnabled`], [`AuthError::MfaRequired`].
    pub async fn mfa_enroll(&self, ctx: &AuthContext) -> AuthResult<Enrollment> {
        ctx.require_full()?;
        if self.totp_method(ctx.user_id(), true).await?.is_some() {
            return Err(AuthError::MfaAlreadyEnabled);
        }
        let raw = totp::generate_secret();
        let sealed = self
            .secrets
            .seal(&raw, &Self::totp_context(ctx.user_id()))
            .map_err(AuthError::internal)?;
        let sealed = MfaSecret::parse(&sealed).map_err(AuthError::internal)?;
        self.store
            .add_pending_mfa(ctx.user_id(), MfaType::Totp, &sealed, Some("authenticator"))
            .await?;
        let secret = totp::encode_secret(&raw);
        let otpauth_url = totp::otpauth_uri(
            &self.config.totp_issuer,
            ctx.session.email.as_str(),
            &secret,
            &self.config.totp,
        );
        Ok(Enrollment {
            secret,
            otpauth_url,
        })
    }

    /// Confirms the pending enrollment with a first code, enables MFA, and
    /// returns the recovery codes (shown this once). The session counts as
    /// having just passed a second factor.
    ///
    /// # Errors
    /// [`AuthError::MfaNotEnrolled`], [`AuthError::MfaAlreadyVerified`],
    /// [`AuthError::InvalidCode`], [`AuthError::TooManyAttempts`].
    pub async fn mfa_verify(
        &self,
        ctx: &AuthContext,
        code: &str,
        client: &ClientInfo,
    ) -> AuthResult<Vec<String>> {
        ctx.require_full()?;
        let user_id = ctx.user_id();
        if self.totp_method(user_id, true).await?.is_some() {
            return Err(AuthError::MfaAlreadyVerified);
        }
        let pending = self
            .totp_method(user_id, false)
            .await?
            .ok_or(AuthError::MfaNotEnrolled)?;
        let mut confirmed: Option<(MfaId, u64)> = None;
        self.checked(ctx, client, async || {
            let step = self.match_totp(&pending, code)?;
            confirmed = step.map(|s| (pending.method.id, s));
            Ok(step.is_some())
        })
        .await?;
        let Some((id, step)) = confirmed else {
            return Err(AuthError::InvalidCode);
        };
        if !self.store.confirm_mfa(id, Some(step)).await? {
            return Err(AuthError::MfaAlreadyVerified);
        }
        let codes = self.new_recovery_codes(user_id).await?;
        self.store
            .step_up_session(&ctx.token_hash, &upgrade(AMR_OTP))
            .await?;
        Ok(codes)
    }

    /// Generates and stores a new set of recovery codes.
    async fn new_recovery_codes(&self, user_id: UserId) -> AuthResult<Vec<String>> {
        let codes = recovery::generate_recovery_codes(self.config.recovery_code_count);
        let hashes = codes
            .iter()
            .map(|c| {
                let normalized = recovery::normalize_recovery_code(c).unwrap_or_default();
                MfaSecret::parse(&recovery::hash_recovery_code(&normalized))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(AuthError::internal)?;
        self.store.replace_recovery_codes(user_id, &hashes).await?;
        Ok(codes)
    }

    /// Answers a challenge with a TOTP code: a partial session becomes a new
    /// full one, a full one gets a fresh `mfa_at` (step-up). Either way the
    /// session is rotated: the old token stops working.
    ///
    /// # Errors
    /// [`AuthError::MfaNotEnabled`], [`AuthError::InvalidCode`] (also for a
    /// replayed code), [`AuthError::TooManyAttempts`].
    pub async fn mfa_challenge(
        &self,
        ctx: &AuthContext,
        code: &str,
        client: &ClientInfo,
    ) -> AuthResult<(UserProfile, IssuedSession)> {
        let cred = self
            .totp_method(ctx.user_id(), true)
            .await?
            .ok_or(AuthError::MfaNotEnabled)?;
        self.checked(ctx, client, async || self.accept_totp(&cred, code).await)
            .await?;
        self.upgrade_session(ctx, AMR_OTP).await
    }

    /// Answers a challenge with a recovery code (case, spaces and dashes
    /// ignored), spending it.
    ///
    /// # Errors
    /// As [`Authn::mfa_challenge`].
    pub async fn mfa_recovery(
        &self,
        ctx: &AuthContext,
        code: &str,
        client: &ClientInfo,
    ) -> AuthResult<(UserProfile, IssuedSession)> {
        let user_id = ctx.user_id();
        if self.totp_method(user_id, true).await?.is_none() {
            return Err(AuthError::MfaNotEnabled);
        }
        self.checked(ctx, client, async || {
            self.spend_recovery_code(user_id, code).await
        })
        .await?;
        self.upgrade_session(ctx, AMR_RECOVERY).await
    }

    /// Disables MFA: with a current TOTP or recovery code, or without one
    /// on a session that passed a second factor recently. Removes the
    /// secret and every recovery code.
    ///
    /// # Errors
    /// [`AuthError::MfaNotEnabled`], [`AuthError::InvalidCode`],
    /// [`AuthError::StepUpRequired`] (no code and no recent second factor).
    pub async fn mfa_disable(
        &self,
        ctx: &AuthContext,
        code: Option<&str>,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        ctx.require_full()?;
        let user_id = ctx.user_id();
        let cred = self
            .totp_method(user_id, true)
            .await?
            .ok_or(AuthError::MfaNotEnabled)?;
        match code.map(str::trim).filter(|c| !c.is_empty()) {
            Some(code) => {
                self.checked(ctx, client, async || {
                    Ok(self.accept_totp(&cred, code).await?
                        || self.spend_recovery_code(user_id, code).await?)
                })
                .await?;
            }
            None => self.require_recent_auth(ctx).await?,
        }
        self.store.remove_all_mfa(user_id).await?;
        Ok(())
    }

    /// Replaces the recovery codes (the old ones stop working); needs a
    /// recent second factor.
    ///
    /// # Errors
    /// [`AuthError::MfaNotEnabled`], [`AuthError::StepUpRequired`].
    pub async fn regenerate_recovery_codes(&self, ctx: &AuthContext) -> AuthResult<Vec<String>> {
        ctx.require_full()?;
        if self.totp_method(ctx.user_id(), true).await?.is_none() {
            return Err(AuthError::MfaNotEnabled);
        }
        self.require_recent_auth(ctx).await?;
        self.new_recovery_codes(ctx.user_id()).await
    }

    /// The caller's second-factor state.
    ///
    /// # Errors
    /// [`AuthError::MfaRequired`] for a partial session.
    pub async fn mfa_status(&self, ctx: &AuthContext) -> AuthResult<MfaStatus> {
        ctx.require_full()?;
        let methods = self.store.list_mfa(ctx.user_id()).await?;
        let confirmed = |t: MfaType| methods.iter().any(|m| m.confirmed && m.mfa_type == t);
        let mfa_enabled = confirmed(MfaType::Totp);
        let recovery_codes_remaining = methods
            .iter()
            .filter(|m| m.confirmed && m.mfa_type == MfaType::RecoveryCodes)
            .count();
        Ok(MfaStatus {
            mfa_enabled,
            methods: self.second_factor_names(ctx.user_id()).await?,
            recovery_codes_remaining,
        })
    }
}
