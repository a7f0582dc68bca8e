//! Password acceptance rules in the style of NIST SP 800-63B: a length range
//! counted in characters, no composition rules, and a check against common
//! or easily guessed passwords (via `zxcvbn`) and against the user's email.

use crate::Email;

/// Above this many characters `zxcvbn` is skipped: its cost grows quickly
/// with length, and a passphrase this long is not "easily guessed" by the
/// dictionary and pattern attacks it models.
pub const ZXCVBN_MAX_CHARS: usize = 64;

/// Local parts shorter than this are too likely to occur by chance inside an
/// unrelated password (e.g. `al`), so only exact matches are refused.
const MIN_LOCAL_PART_CHARS: usize = 4;

/// Why a password was refused. The messages are meant for an API error body
/// and never contain the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// Fewer characters than the policy's minimum.
    #[error("password must be at least {min} characters")]
    TooShort {
        /// The minimum length, in characters.
        min: usize,
    },
    /// More characters than the policy's maximum.
    #[error("password must be at most {max} characters")]
    TooLong {
        /// The maximum length, in characters.
        max: usize,
    },
    /// The password is, or contains, the user's email address or its local
    /// part.
    #[error("password must not contain your email address")]
    ContainsEmail,
    /// The password is common or follows an easily guessed pattern.
    #[error("password is too common or easy to guess")]
    TooCommon,
}

/// Rules a new password must meet. Lengths are counted in Unicode scalar
/// values (`char`s), so non-Latin passwords are not penalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length in characters (default 8, NIST's floor).
    pub min_chars: usize,
    /// Maximum length in characters (default 256); bounds hashing cost.
    pub max_chars: usize,
    /// Minimum `zxcvbn` score, 0 (weakest) to 4 (default 3). 0 disables the
    /// guessability check.
    pub min_zxcvbn_score: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 8,
            max_chars: 256,
            min_zxcvbn_score: 3,
        }
    }
}

impl PasswordPolicy {
    /// Checks `password` against the policy. `email`, when known, is refused
    /// as (part of) the password and given to `zxcvbn` as a user input.
    ///
    /// # Errors
    /// The first rule broken, in the order: [`WeakPassword::TooShort`],
    /// [`WeakPassword::TooLong`], [`WeakPassword::ContainsEmail`],
    /// [`WeakPassword::TooCommon`].
    pub fn check(&self, password: &str, email: Option<&Email>) -> Result<(), WeakPassword> {
        let chars = password.chars().count();
        if chars < self.min_chars {
            return Err(WeakPassword::TooShort {
                min: self.min_chars,
            });
        }
        if chars > self.max_chars {
            return Err(WeakPassword::TooLong {
                max: self.max_chars,
            });
        }
        if let Some(email) = email
            && contains_email(password, email)
        {
            return Err(WeakPassword::ContainsEmail);
        }
        if self.min_zxcvbn_score > 0 && chars <= ZXCVBN_MAX_CHARS {
            let inputs: Vec<&str> = email
                .map(|e| vec![e.as_str(), e.local_part()])
                .unwrap_or_default();
            let score = u8::from(zxcvbn::zxcvbn(password, &inputs).score());
            if score < self.min_zxcvbn_score {
                return Err(WeakPassword::TooCommon);
            }
        }
        Ok(())
    }
}

/// True when `password` equals or contains the address, equals its local
/// part, or contains a local part of at least [`MIN_LOCAL_PART_CHARS`]
/// characters. Case-insensitive ([`Email`] is already lower-case).
fn contains_email(password: &str, email: &Email) -> bool {
    let password = password.to_lowercase();
    let local = email.local_part();
    password.contains(email.as_str())
        || password == local
        || (local.chars().count() >= MIN_LOCAL_PART_CHARS && password.contains(local))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap()
    }

    #[test]
    fn defaults() {
        let p = PasswordPolicy::default();
        assert_eq!((p.min_chars, p.max_chars, p.min_zxcvbn_score), (8, 256, 3));
    }

    #[test]
    fn common_passwords_rejected() {
        let p = PasswordPolicy::default();
        for pw in [
            "password",
            "12345678",
            "qwertyui",
            "iloveyou1",
            "Password1!",
        ] {
            assert_eq!(p.check(pw, None), Err(WeakPassword::TooCommon), "{pw}");
        }
    }

    #[test]
    fn email_based_passwords_rejected() {
        let p = PasswordPolicy::default();
        let alice = email("alice@example.com");
        for pw in [
            "alice2024",
            "ALICE@example.com",
            "alice@example.com",
            "my-Alice-is-long",
            "xx alice@example.com xx",
        ] {
            assert_eq!(
                p.check(pw, Some(&alice)),
                Err(WeakPassword::ContainsEmail),
                "{pw}"
            );
        }
        // A short local part is refused only as the whole password.
        let bob = email("bob@example.com");
        let only_length = PasswordPolicy {
            min_chars: 3,
            min_zxcvbn_score: 0,
            ..PasswordPolicy::default()
        };
        assert_eq!(
            only_length.check("BOB", Some(&bob)),
            Err(WeakPassword::ContainsEmail)
        );
        assert_eq!(only_length.check("kabob-grill", Some(&bob)), Ok(()));
    }

    #[test]
    fn email_is_a_zxcvbn_input() {
        // Strong on their own, weak once zxcvbn knows the user's address:
        // the local part in l33t or reversed passes the substring check but
        // not zxcvbn's user-input dictionary.
        let p = PasswordPolicy::default();
        let e = email("zorblax.quimth@example.com");
        for pw in ["z0rbl4x.qu1mth", "htmiuq.xalbroz"] {
            assert_eq!(p.check(pw, None), Ok(()), "{pw}");
            assert_eq!(p.check(pw, Some(&e)), Err(WeakPassword::TooCommon), "{pw}");
        }
    }

    #[test]
    fn length_limits() {
        let p = PasswordPolicy::default();
        assert_eq!(
            p.check("Xk9#vQ2", None),
            Err(WeakPassword::TooShort { min: 8 })
        );
        assert_eq!(
            p.check(&"a".repeat(257), None),
            Err(WeakPassword::TooLong { max: 256 })
        );
        assert_eq!(p.check("", None), Err(WeakPassword::TooShort { min: 8 }));
    }

    #[test]
    fn length_is_counted_in_chars() {
        let only_length = PasswordPolicy {
            min_zxcvbn_score: 0,
            ..PasswordPolicy::default()
        };
        // 8 chars but 15 bytes: accepted.
        assert_eq!("ééééééé1".len(), 15);
        assert_eq!(only_length.check("ééééééé1", None), Ok(()));
        // 7 chars but 14 bytes: too short.
        assert_eq!(
            only_length.check("ééééééé", None),
            Err(WeakPassword::TooShort { min: 8 })
        );
        // 256 chars of 4 bytes each: within the limit.
        assert_eq!(only_length.check(&"🔑".repeat(256), None), Ok(()));
        assert_eq!(
            only_length.check(&"🔑".repeat(257), None),
            Err(WeakPassword::TooLong { max: 256 })
        );
    }

    #[test]
    fn strong_passwords_accepted() {
        let p = PasswordPolicy::default();
        let alice = email("alice@example.com");
        for pw in [
            "correct horse battery staple",
            "Tr0ub4dor&3-xylophone-meadow",
            "ĉevaloj manĝas ŝtonojn",
        ] {
            assert_eq!(p.check(pw, None), Ok(()), "{pw}");
            assert_eq!(p.check(pw, Some(&alice)), Ok(()), "{pw}");
        }
    }

    #[test]
    fn long_passphrase_is_fast() {
        let p = PasswordPolicy::default();
        let pw: String = "many-words-in-a-long-phrase "
            .repeat(8)
            .chars()
            .take(200)
            .collect();
        assert_eq!(pw.chars().count(), 200);
        let start = Instant::now();
        assert_eq!(p.check(&pw, None), Ok(()));
        assert!(start.elapsed() < Duration::from_millis(50));
        // Just over the zxcvbn cut-off: accepted without scoring.
        assert_eq!(p.check(&"a".repeat(ZXCVBN_MAX_CHARS + 1), None), Ok(()));
    }

    #[test]
    fn messages_never_echo_the_password() {
        let p = PasswordPolicy::default();
        let alice = email("alice@example.com");
        // Each hits a different rule: short, common, email, long.
        for pw in ["hunter2", "qwertyuiop", "alice2024", &"s3cr3t".repeat(50)] {
            let err = p.check(pw, Some(&alice)).unwrap_err();
            assert!(!err.to_string().contains(pw), "{err}");
        }
        assert_eq!(
            WeakPassword::TooShort { min: 8 }.to_string(),
            "password must be at least 8 characters"
        );
        assert_eq!(
            WeakPassword::ContainsEmail.to_string(),
            "password must not contain your email address"
        );
        assert_eq!(
            WeakPassword::TooCommon.to_string(),
            "password is too common or easy to guess"
        );
    }
}
