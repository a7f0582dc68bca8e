//! Email verification, password reset and change, magic links.

use crate::email::Email;
use crate::model::{ProfileUpdate, TokenType};
use crate::secret::{PasswordHash, TokenHash};
use crate::store::Store;

use super::{
    AMR_EMAIL, AuthContext, AuthError, AuthResult, Authn, ClientInfo, LoginOutcome, MailKind,
    OutgoingMail,
};

impl<S: Store + Clone + 'static> Authn<S> {
    /// Issues a one-time token of `kind` for a user (older unused ones of
    /// that type die) and builds its email.
    async fn mail_token(
        &self,
        user_id: crate::ids::UserId,
        to: Email,
        token_type: TokenType,
        kind: MailKind,
        base: &str,
    ) -> AuthResult<OutgoingMail> {
        self.store.invalidate_tokens(user_id, token_type).await?;
        let token = crate::token::generate_token();
        let lifetime = match token_type {
            TokenType::EmailVerify => self.config.email_verify_lifetime,
            TokenType::PasswordReset => self.config.password_reset_lifetime,
            TokenType::MagicLink => self.config.magic_link_lifetime,
        };
        self.store
            .create_token(
                user_id,
                &TokenHash::of_token(&token),
                token_type,
                Some(lifetime),
            )
            .await?;
        Ok(OutgoingMail::build(
            kind,
            to,
            base,
            &token,
            lifetime.as_secs() / 60,
        ))
    }

    /// The enabled user with this address, if any (malformed addresses
    /// simply have none).
    async fn enabled_user_by_email(
        &self,
        email: &str,
    ) -> AuthResult<Option<(crate::ids::UserId, Email)>> {
        let Ok(email) = Email::parse(email) else {
            return Ok(None);
        };
        Ok(self
            .store
            .get_user_by_email(email.as_str())
            .await?
            .filter(|u| u.disabled_at.is_none())
            .map(|u| (u.id, u.email)))
    }

    /// Builds a verification email for the caller's address; `None` when it
    /// is verified already.
    ///
    /// # Errors
    /// [`AuthError::MfaRequired`] for a partial session.
    pub async fn send_verification_email(
        &self,
        ctx: &AuthContext,
    ) -> AuthResult<Option<OutgoingMail>> {
        ctx.require_full()?;
        if ctx.session.email_verified {
            return Ok(None);
        }
        let base = self.config.links.verify_email.clone();
        self.mail_token(
            ctx.user_id(),
            ctx.session.email.clone(),
            TokenType::EmailVerify,
            MailKind::VerifyEmail,
            &base,
        )
        .await
        .map(Some)
    }

    /// Verifies an address with the token from its email.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`].
    pub async fn verify_email(&self, token: &str) -> AuthResult<()> {
        self.store
            .verify_email(&TokenHash::of_token(token))
            .await?
            .map(|_| ())
            .ok_or(AuthError::InvalidToken)
    }

    /// Builds a password-reset email; `None` (and the caller answers the
    /// same) when no enabled user has this address.
    ///
    /// # Errors
    /// Only storage failures.
    pub async fn request_password_reset(&self, email: &str) -> AuthResult<Option<OutgoingMail>> {
        let Some((user_id, email)) = self.enabled_user_by_email(email).await? else {
            return Ok(None);
        };
        let base = self.config.links.reset_password.clone();
        self.mail_token(
            user_id,
            email,
            TokenType::PasswordReset,
            MailKind::PasswordReset,
            &base,
        )
        .await
        .map(Some)
    }

    /// Sets a new password with a reset token: every session of the user is
    /// revoked and the email's failed logins are cleared. The password is
    /// checked against the policy before the token is spent (except the
    /// rule about the email, which needs the user: a password refused by it
    /// spends the token).
    ///
    /// # Errors
    /// [`AuthError::WeakPassword`], [`AuthError::InvalidToken`].
    pub async fn reset_password(&self, token: &str, new_password: &str) -> AuthResult<()> {
        self.config.password_policy.check(new_password, None)?;
        let consumed = self
            .store
            .consume_token(&TokenHash::of_token(token), TokenType::PasswordReset)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        self.config
            .password_policy
            .check(new_password, Some(&consumed.email))?;
        self.set_password(consumed.user_id, new_password).await?;
        self.store.revoke_all_sessions(consumed.user_id).await?;
        self.store.clear_attempts(consumed.email.as_str()).await?;
        Ok(())
    }

    async fn set_password(&self, user_id: crate::ids::UserId, password: &str) -> AuthResult<()> {
        let phc = self.hasher.hash(password).await?;
        let hash = PasswordHash::parse(&phc).map_err(AuthError::internal)?;
        self.store.update_password(user_id, &hash).await?;
        Ok(())
    }

    /// Changes the caller's password: needs a recent authentication and the
    /// current password (counted like a login attempt, so a stolen session
    /// cannot brute-force it); every other session is revoked.
    ///
    /// # Errors
    /// [`AuthError::StepUpRequired`], [`AuthError::InvalidCredentials`],
    /// [`AuthError::AccountLocked`], [`AuthError::WeakPassword`].
    pub async fn change_password(
        &self,
        ctx: &AuthContext,
        current: &str,
        new_password: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        self.require_recent_auth(ctx).await?;
        let email = ctx.session.email.clone();
        let permit = self.reserve_password_attempt(&email, client).await?;
        match self.check_password(&email, current).await {
            Ok(Some(user_id)) if user_id == ctx.user_id() => {
                self.store.finish_login_attempt(&permit, true).await?;
            }
            Ok(_) => {
                self.store.finish_login_attempt(&permit, false).await?;
                return Err(AuthError::InvalidCredentials);
            }
            Err(e) => {
                let _ = self.store.cancel_login_attempt(&permit).await;
                return Err(e);
            }
        }
        self.config
            .password_policy
            .check(new_password, Some(&email))?;
        self.set_password(ctx.user_id(), new_password).await?;
        self.store
            .revoke_other_sessions(ctx.user_id(), ctx.session.session_id)
            .await?;
        Ok(())
    }

    /// Builds a sign-in link email; `None` when no enabled user has this address.
    ///
    /// # Errors
    /// Only storage failures.
    pub async fn request_magic_link(&self, email: &str) -> AuthResult<Option<OutgoingMail>> {
        let Some((user_id, email)) = self.enabled_user_by_email(email).await? else {
            return Ok(None);
        };
        let base = self.config.links.magic_link.clone();
        self.mail_token(
            user_id,
            email,
            TokenType::MagicLink,
            MailKind::MagicLink,
            &base,
        )
        .await
        .map(Some)
    }

    /// Signs in with a magic link (which also proves the address). Users
    /// with a second factor get a partial session.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`].
    pub async fn verify_magic_link(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> AuthResult<LoginOutcome> {
        let consumed = self
            .store
            .consume_token(&TokenHash::of_token(token), TokenType::MagicLink)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let user_id = consumed.user_id;
        self.store
            .update_profile(
                user_id,
                &ProfileUpdate {
                    email_verified: Some(true),
                    ..ProfileUpdate::default()
                },
            )
            .await?;
        self.after_first_factor(user_id, client, AMR_EMAIL).await
    }
}
