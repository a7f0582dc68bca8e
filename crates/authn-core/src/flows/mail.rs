//! The emails the flows send. The flows build them; the caller (the
//! server, or a Rust service) delivers them however it likes.

use std::fmt;

use crate::email::Email;

/// Why an email is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// Prove control of the address.
    VerifyEmail,
    /// Set a new password.
    PasswordReset,
    /// Sign in by link.
    MagicLink,
}

/// An email to deliver. The link carries a one-time token: it is a secret
/// until used, so `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Recipient.
    pub to: Email,
    /// Why.
    pub kind: MailKind,
    /// Subject line.
    pub subject: String,
    /// Plain-text body (contains the link).
    pub text: String,
    /// The link alone.
    pub link: String,
}

impl fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("to", &self.to)
            .field("kind", &self.kind)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// `base?token=...` (or `&token=` when the base has a query already).
fn link(base: &str, token: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}token={token}")
}

impl OutgoingMail {
    /// Builds the email of `kind` with a link to `base` carrying `token`.
    pub(crate) fn build(kind: MailKind, to: Email, base: &str, token: &str, minutes: u64) -> Self {
        let link = link(base, token);
        let (subject, intro) = match kind {
            MailKind::VerifyEmail => (
                "Verify your email address",
                "Confirm that this address is yours by opening this link:",
            ),
            MailKind::PasswordReset => (
                "Reset your password",
                "Someone (hopefully you) asked to reset the password of this account. \
                 To choose a new password, open this link:",
            ),
            MailKind::MagicLink => ("Your sign-in link", "To sign in, open this link:"),
        };
        let text = format!(
            "{intro}\n\n{link}\n\nThe link works once and expires in {minutes} minutes. \
             If you did not ask for it, ignore this email.\n"
        );
        Self {
            to,
            kind,
            subject: subject.to_owned(),
            text,
            link,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn links_and_debug() {
        let to = Email::parse("a@example.com").unwrap();
        let m = OutgoingMail::build(MailKind::MagicLink, to, "https://x.io/m?a=1", "TOK", 15);
        assert_eq!(m.link, "https://x.io/m?a=1&token=TOK");
        assert!(m.text.contains(&m.link) && m.text.contains("15 minutes"));
        assert!(!format!("{m:?}").contains("TOK"));
    }
}
