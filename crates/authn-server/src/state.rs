//! The state every handler shares.

use std::sync::Arc;

use authn_core::store::StoreHandle;
use authn_core::{Actor, Authn, TokenHash};
use authn_store::AnyStore;

use crate::config::ServerConfig;
use crate::mail::Mailer;
use crate::metrics::Metrics;

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The auth flows over the store.
    pub auth: Authn<AnyStore>,
    /// The configuration.
    pub config: Arc<ServerConfig>,
    /// Outgoing mail.
    pub mailer: Mailer,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// SHA-256 of the admin keys given at start-up (configuration).
    pub bootstrap_admin_keys: Arc<Vec<TokenHash>>,
    /// Origins allowed to make cookie-authenticated state changes.
    pub allowed_origins: Arc<Vec<String>>,
}

impl AppState {
    /// The flows on a store handle that writes `actor` into audit events.
    pub fn auth_as(&self, actor: Actor) -> Authn<AnyStore> {
        self.auth.with_store(self.auth.store().with_actor(actor))
    }

    /// Sends an email in the background: the answer to the client must not
    /// wait for (or reveal, by its timing) the delivery.
    pub fn send_mail_later(&self, mail: authn_core::flows::OutgoingMail) {
        let mailer = self.mailer.clone();
        tokio::spawn(async move {
            let to = mail.to.as_str().to_owned();
            let out = crate::mail::Mail {
                to: to.clone(),
                subject: mail.subject,
                text: mail.text,
            };
            if let Err(e) = mailer.send(out).await {
                tracing::warn!(error = %e, "mail delivery failed");
            }
        });
    }
}
