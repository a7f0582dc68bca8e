//! Administration flows that need more than one store call or the
//! password rules: creating and changing users, resetting MFA.

use crate::email::Email;
use crate::ids::UserId;
use crate::model::{NewUser, ProfileUpdate};
use crate::secret::PasswordHash;
use crate::store::Store;

use super::{AuthError, AuthResult, Authn, UserProfile};

/// A user created by an administrator.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NewAdminUser {
    /// The address.
    pub email: String,
    /// An initial password (checked against the policy), or none.
    pub password: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Create with the address already verified.
    pub email_verified: bool,
}

impl std::fmt::Debug for NewAdminUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAdminUser")
            .field("email", &self.email)
            .field("name", &self.name)
            .field("email_verified", &self.email_verified)
            .finish_non_exhaustive()
    }
}

/// Changes an administrator makes to a user; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminUserPatch {
    /// New address (verification is cleared).
    pub email: Option<String>,
    /// New display name; `Some(None)` clears it.
    pub name: Option<Option<String>>,
    /// Verified or not.
    pub email_verified: Option<bool>,
    /// Disable (revoking sessions and tokens) or enable.
    pub disabled: Option<bool>,
}

impl<S: Store + Clone + 'static> Authn<S> {
    /// Creates a user as an administrator.
    ///
    /// # Errors
    /// [`AuthError::InvalidEmail`], [`AuthError::WeakPassword`], [`AuthError::EmailTaken`].
    pub async fn admin_create_user(&self, new: &NewAdminUser) -> AuthResult<UserProfile> {
        let email = Email::parse(&new.email).map_err(|_| AuthError::InvalidEmail)?;
        let password_hash = match &new.password {
            Some(p) => {
                self.config.password_policy.check(p, Some(&email))?;
                let phc = self.hasher.hash(p).await?;
                Some(PasswordHash::parse(&phc).map_err(AuthError::internal)?)
            }
            None => None,
        };
        let id = self
            .store
            .create_user_with(&NewUser {
                email: email.as_str().to_owned(),
                password_hash,
                name: new.name.clone(),
                email_verified: new.email_verified,
            })
            .await?;
        self.profile(id).await
    }

    /// Changes a user as an administrator; returns the user afterwards.
    ///
    /// # Errors
    /// [`AuthError::NotFound`], [`AuthError::InvalidEmail`], [`AuthError::EmailTaken`].
    pub async fn admin_update_user(
        &self,
        user_id: UserId,
        patch: &AdminUserPatch,
    ) -> AuthResult<UserProfile> {
        if self.store.get_user(user_id).await?.is_none() {
            return Err(AuthError::NotFound);
        }
        if let Some(email) = &patch.email {
            Email::parse(email).map_err(|_| AuthError::InvalidEmail)?;
            self.store.update_email(user_id, email).await?;
        }
        if patch.name.is_some() || patch.email_verified.is_some() {
            self.store
                .update_profile(
                    user_id,
                    &ProfileUpdate {
                        name: patch.name.clone(),
                        email_verified: patch.email_verified,
                    },
                )
                .await?;
        }
        match patch.disabled {
            Some(true) => {
                self.store.disable_user(user_id).await?;
            }
            Some(false) => {
                self.store.enable_user(user_id).await?;
            }
            None => {}
        }
        self.profile(user_id).await
    }

    /// Clears every second factor of a user (lost authenticator) so they can
    /// enroll again. Their sessions stay.
    ///
    /// # Errors
    /// [`AuthError::NotFound`] for an unknown user.
    pub async fn admin_reset_mfa(&self, user_id: UserId) -> AuthResult<()> {
        if self.store.get_user(user_id).await?.is_none() {
            return Err(AuthError::NotFound);
        }
        self.store.remove_all_mfa(user_id).await?;
        Ok(())
    }
}
