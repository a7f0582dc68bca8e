//! HOTP (RFC 4226) and TOTP (RFC 6238) one-time passwords.
//!
//! Implemented directly on `hmac` + `sha1`/`sha2` so that every step that
//! matters for security (truncation, window handling, constant-time
//! comparison, replay protection) is visible and tested here.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConditionallySelectable as _, ConstantTimeEq as _};

use crate::token::random_bytes;

/// Length in bytes of secrets made by [`generate_secret`] (160 bits, the
/// HMAC-SHA1 output size recommended by RFC 4226 §4).
pub const SECRET_LEN: usize = 20;

/// Shortest secret accepted, in bytes (80 bits). RFC 4226 requires 128 bits
/// and recommends 160, but some deployed issuers use 80-bit secrets, so they
/// are accepted for compatibility when imported.
pub const MIN_SECRET_LEN: usize = 10;

/// Largest accepted [`TotpConfig::skew`]: a wider window makes guessing
/// proportionally easier and makes `verify` loop longer.
pub const MAX_SKEW: u64 = 10;

/// HMAC hash function used by HOTP/TOTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// HMAC-SHA1: the RFC 4226 default and the only one every authenticator
    /// app supports.
    #[default]
    Sha1,
    /// HMAC-SHA256 (RFC 6238).
    Sha256,
    /// HMAC-SHA512 (RFC 6238).
    Sha512,
}

impl Algorithm {
    /// Name as used in `otpauth://` URIs (`SHA1`, `SHA256`, `SHA512`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }
}

/// TOTP parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TotpConfig {
    /// HMAC hash function.
    pub algorithm: Algorithm,
    /// Number of digits in a code, 6..=8.
    pub digits: u32,
    /// Length of a time step in seconds (must be non-zero).
    pub period: u64,
    /// Steps accepted on each side of the current one, to tolerate clock
    /// drift and typing delay (at most [`MAX_SKEW`]).
    pub skew: u64,
}

impl Default for TotpConfig {
    /// SHA1, 6 digits, 30 s, ±1 step: what authenticator apps assume when a
    /// URI does not say otherwise.
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Sha1,
            digits: 6,
            period: 30,
            skew: 1,
        }
    }
}

impl TotpConfig {
    /// Checks that the configuration is usable.
    pub fn validate(&self) -> Result<(), TotpError> {
        check_digits(self.digits)?;
        if self.period == 0 {
            return Err(TotpError::InvalidPeriod);
        }
        if self.skew > MAX_SKEW {
            return Err(TotpError::InvalidSkew(self.skew));
        }
        Ok(())
    }
}

/// Why a secret was rejected. Never contains any of the secret itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidSecretReason {
    /// Nothing left after removing spaces and padding.
    Empty,
    /// A character outside the RFC 4648 base32 alphabet (or misplaced `=`).
    InvalidCharacter,
    /// A base32 length that no byte string encodes to.
    InvalidLength,
    /// Shorter than [`MIN_SECRET_LEN`] bytes.
    TooShort,
}

impl std::fmt::Display for InvalidSecretReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty",
            Self::InvalidCharacter => "not base32",
            Self::InvalidLength => "invalid base32 length",
            Self::TooShort => "shorter than 80 bits",
        })
    }
}

/// Errors from HOTP/TOTP operations. Messages never include secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The secret is unusable (see the reason).
    #[error("invalid TOTP secret: {0}")]
    InvalidSecret(InvalidSecretReason),
    /// Number of digits outside 6..=8.
    #[error("invalid number of OTP digits {0} (must be 6..=8)")]
    InvalidDigits(u32),
    /// A time step of zero seconds.
    #[error("invalid TOTP period: must be at least one second")]
    InvalidPeriod,
    /// A skew larger than [`MAX_SKEW`].
    #[error("invalid TOTP skew {0} (must be at most {MAX_SKEW})")]
    InvalidSkew(u64),
    /// The system clock is before the Unix epoch.
    #[error("system clock is before 1970-01-01")]
    Clock,
}

fn check_digits(digits: u32) -> Result<(), TotpError> {
    if (6..=8).contains(&digits) {
        Ok(())
    } else {
        Err(TotpError::InvalidDigits(digits))
    }
}

fn check_secret(secret: &[u8]) -> Result<(), TotpError> {
    if secret.is_empty() {
        Err(TotpError::InvalidSecret(InvalidSecretReason::Empty))
    } else if secret.len() < MIN_SECRET_LEN {
        Err(TotpError::InvalidSecret(InvalidSecretReason::TooShort))
    } else {
        Ok(())
    }
}

/// HMAC of the big-endian counter followed by RFC 4226 §5.3 dynamic
/// truncation, giving a 31-bit value.
fn truncated_hmac<M: Mac + KeyInit>(secret: &[u8], counter: u64) -> Result<u32, TotpError> {
    // HMAC accepts keys of any length, so this error cannot happen; it is
    // mapped rather than unwrapped to keep library code panic-free.
    let mut mac = <M as KeyInit>::new_from_slice(secret)
        .map_err(|_| TotpError::InvalidSecret(InvalidSecretReason::InvalidLength))?;
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let bytes: &[u8] = &digest;
    // The low 4 bits of the last byte choose where the 4-byte window starts.
    // offset <= 15 and digests are >= 20 bytes, so the window always exists.
    let offset = bytes.last().map_or(0, |b| usize::from(b & 0x0f));
    let window: [u8; 4] = bytes
        .get(offset..offset + 4)
        .and_then(|w| w.try_into().ok())
        .ok_or(TotpError::InvalidSecret(InvalidSecretReason::InvalidLength))?;
    // Mask the top bit so the value is the same whether read signed or not.
    Ok(u32::from_be_bytes(window) & 0x7fff_ffff)
}

/// Computes the RFC 4226 HOTP code for `counter`, zero-padded to `digits`.
///
/// Secrets shorter than [`MIN_SECRET_LEN`] bytes are refused.
pub fn hotp(
    secret: &[u8],
    counter: u64,
    digits: u32,
    algorithm: Algorithm,
) -> Result<String, TotpError> {
    check_digits(digits)?;
    check_secret(secret)?;
    let value = match algorithm {
        Algorithm::Sha1 => truncated_hmac::<Hmac<Sha1>>(secret, counter)?,
        Algorithm::Sha256 => truncated_hmac::<Hmac<Sha256>>(secret, counter)?,
        Algorithm::Sha512 => truncated_hmac::<Hmac<Sha512>>(secret, counter)?,
    };
    let modulus = 10u32.pow(digits); // digits <= 8, so no overflow
    let width = digits as usize;
    Ok(format!("{:0width$}", value % modulus))
}

/// Generates a new random 160-bit TOTP secret from the OS CSPRNG.
pub fn generate_secret() -> Vec<u8> {
    random_bytes::<SECRET_LEN>().to_vec()
}

/// Encodes a secret as unpadded upper-case RFC 4648 base32, the form
/// authenticator apps expect.
pub fn encode_secret(bytes: &[u8]) -> String {
    base32::encode(base32::Alphabet::Rfc4648 { padding: false }, bytes)
}

/// Decodes a base32 secret as typed or pasted by a person.
///
/// Case-insensitive; whitespace anywhere and trailing `=` padding are
/// ignored (apps display secrets in spaced groups). Rejects empty input,
/// characters outside the base32 alphabet, impossible lengths and secrets
/// shorter than [`MIN_SECRET_LEN`] bytes.
pub fn decode_secret(s: &str) -> Result<Vec<u8>, TotpError> {
    let compact: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let unpadded = compact.trim_end_matches('=');
    if unpadded.is_empty() {
        return Err(TotpError::InvalidSecret(InvalidSecretReason::Empty));
    }
    // Checked here (not left to the base32 crate) so the reason is precise
    // and `=` in the middle is refused.
    if !unpadded
        .bytes()
        .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    {
        return Err(TotpError::InvalidSecret(
            InvalidSecretReason::InvalidCharacter,
        ));
    }
    // 1, 3 or 6 trailing symbols cannot come from whole bytes (RFC 4648 §6);
    // the base32 crate would silently drop them.
    if matches!(unpadded.len() % 8, 1 | 3 | 6) {
        return Err(TotpError::InvalidSecret(InvalidSecretReason::InvalidLength));
    }
    let bytes = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, unpadded).ok_or(
        TotpError::InvalidSecret(InvalidSecretReason::InvalidCharacter),
    )?;
    check_secret(&bytes)?;
    Ok(bytes)
}

/// The TOTP time step containing `unix_time`: `floor(unix_time / period)`
/// (RFC 6238 §4.2 with T0 = 0). A `period` of 0 yields 0 instead of
/// dividing by zero; [`TotpConfig::validate`] rejects such configurations.
pub fn step_at(unix_time: u64, period: u64) -> u64 {
    unix_time.checked_div(period).unwrap_or(0)
}

/// The TOTP code valid at `unix_time` (seconds since the Unix epoch).
pub fn code_at(secret: &[u8], unix_time: u64, cfg: &TotpConfig) -> Result<String, TotpError> {
    cfg.validate()?;
    hotp(
        secret,
        step_at(unix_time, cfg.period),
        cfg.digits,
        cfg.algorithm,
    )
}

/// Strips whitespace a user may type or paste (`" 123 456 "`) and checks
/// the shape of the code; `None` means it can never match.
fn normalize_code(code: &str, digits: u32) -> Option<String> {
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let right_len = u32::try_from(compact.len()).is_ok_and(|len| len == digits);
    (right_len && compact.bytes().all(|b| b.is_ascii_digit())).then_some(compact)
}

/// Checks `code` against every step of the window, accepting only steps
/// after `last_used_step` when given.
fn verify_window(
    secret: &[u8],
    code: &str,
    unix_time: u64,
    cfg: &TotpConfig,
    last_used_step: Option<u64>,
) -> Result<Option<u64>, TotpError> {
    cfg.validate()?;
    check_secret(secret)?;
    // Rejecting malformed input early only reveals its shape, which the
    // caller already knows.
    let Some(candidate) = normalize_code(code, cfg.digits) else {
        return Ok(None);
    };
    let current = step_at(unix_time, cfg.period);
    let first = current.saturating_sub(cfg.skew);
    let last = current.saturating_add(cfg.skew);

    let mut found = Choice::from(0);
    let mut matched = 0u64;
    // Every step is computed and compared even after a hit, so the time
    // taken does not tell an attacker which step (if any) matched.
    for step in first..=last {
        let expected = hotp(secret, step, cfg.digits, cfg.algorithm)?;
        // Whether a step is past the last used one is not secret.
        let fresh = last_used_step.is_none_or(|used| step > used);
        let hit = expected.as_bytes().ct_eq(candidate.as_bytes()) & Choice::from(u8::from(fresh));
        // Steps ascend, so on the (1-in-10^digits) chance that two steps
        // share a code the latest wins, which blocks replay of both.
        matched = u64::conditional_select(&matched, &step, hit);
        found |= hit;
    }
    Ok(bool::from(found).then_some(matched))
}

/// Verifies a TOTP `code` at `unix_time`.
///
/// Accepts the codes of steps `current - skew ..= current + skew` and
/// returns `Some(step)`, the matched time-step counter, so the caller can
/// store it and refuse a replay (see [`verify_after`]). Surrounding and
/// inner whitespace in `code` is ignored; a code of the wrong length or with
/// non-digits gives `Ok(None)`. Errors only for an unusable secret or
/// configuration.
pub fn verify(
    secret: &[u8],
    code: &str,
    unix_time: u64,
    cfg: &TotpConfig,
) -> Result<Option<u64>, TotpError> {
    verify_window(secret, code, unix_time, cfg, None)
}

/// Like [`verify`], but refuses any matched step `<= last_used_step`, so a
/// code (or an older one still inside the window) cannot be used twice.
///
/// Store the returned step as the new `last_used_step` atomically with
/// accepting the login.
pub fn verify_after(
    secret: &[u8],
    code: &str,
    unix_time: u64,
    cfg: &TotpConfig,
    last_used_step: Option<u64>,
) -> Result<Option<u64>, TotpError> {
    verify_window(secret, code, unix_time, cfg, last_used_step)
}

/// The current 6-digit SHA1/30 s code for a base32 secret, from the system
/// clock. Mirrors the Python SDK's `compute_totp(secret)` (used by tests and
/// scripts that log in as a user with TOTP enabled).
pub fn compute_totp(secret_base32: &str) -> Result<String, TotpError> {
    let secret = decode_secret(secret_base32)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| TotpError::Clock)?
        .as_secs();
    code_at(&secret, now, &TotpConfig::default())
}

/// Percent-encodes everything except RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`), so `:`, `@`, `&`, `?`, `/` and spaces in names
/// cannot break the URI's structure.
fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            for nibble in [b >> 4, b & 0x0f] {
                // nibble < 16, so `get` always succeeds.
                if let Some(&c) = HEX.get(usize::from(nibble)) {
                    out.push(char::from(c));
                }
            }
        }
    }
    out
}

/// Builds the `otpauth://totp/...` URI that authenticator apps read from a
/// QR code (Google Authenticator "Key Uri Format").
///
/// `issuer` and `account` are percent-encoded (including any `:`, which
/// would otherwise split the label). The secret is written without spaces
/// or padding, upper-cased. The URI contains the secret: never log it.
pub fn otpauth_uri(issuer: &str, account: &str, secret_base32: &str, cfg: &TotpConfig) -> String {
    let issuer_enc = percent_encode(issuer);
    let secret: String = secret_base32
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    format!(
        "otpauth://totp/{issuer_enc}:{account}?secret={secret}&issuer={issuer_enc}\
         &algorithm={alg}&digits={digits}&period={period}",
        account = percent_encode(account),
        secret = percent_encode(&secret),
        alg = cfg.algorithm.as_str(),
        digits = cfg.digits,
        period = cfg.period,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const SEED_SHA1: &[u8] = b"12345678901234567890";
    const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
    const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    fn cfg8(algorithm: Algorithm) -> TotpConfig {
        TotpConfig {
            algorithm,
            digits: 8,
            ..TotpConfig::default()
        }
    }

    /// RFC 6238 Appendix B, all 18 rows.
    #[test]
    fn rfc6238_appendix_b() {
        let rows: &[(u64, &str, &str, &str)] = &[
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for &(t, sha1, sha256, sha512) in rows {
            assert_eq!(code_at(SEED_SHA1, t, &cfg8(Algorithm::Sha1)).unwrap(), sha1);
            assert_eq!(
                code_at(SEED_SHA256, t, &cfg8(Algorithm::Sha256)).unwrap(),
                sha256
            );
            assert_eq!(
                code_at(SEED_SHA512, t, &cfg8(Algorithm::Sha512)).unwrap(),
                sha512
            );
        }
    }

    /// RFC 4226 Appendix D, counters 0..=9.
    #[test]
    fn rfc4226_appendix_d() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, want) in (0u64..).zip(expected) {
            assert_eq!(hotp(SEED_SHA1, counter, 6, Algorithm::Sha1).unwrap(), want);
        }
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Expected values were computed once, during development, by independent
    /// implementations; the tests never run them. Fixed random keys
    /// (10, 16, 32 and 64 bytes) from `os.urandom`.
    ///   oathtool 2.6.7 (Debian), for every row:
    ///     oathtool --totp=<SHA1|SHA256|SHA512> -d <DIGITS> -N @<TIME> <HEXKEY>
    ///   pyotp (PyPI), for the 16/32/64-byte keys (pyotp refuses keys < 112 bits):
    ///     pyotp.TOTP(base64.b32encode(bytes.fromhex(KEY)).decode(), digits=D,
    ///                digest=hashlib.<alg>).at(TIME)
    ///   Python stdlib hmac + struct (RFC 4226 §5.3 by hand), for the 10-byte key.
    /// All tools agreed on all 28 values.
    #[test]
    fn cross_check_other_implementations() {
        // (hex key, algorithm, digits, unix time, code)
        let cases: &[(&str, Algorithm, u32, u64, &str)] = &CROSS_CHECK;
        for &(key_hex, alg, digits, t, want) in cases {
            let key = unhex(key_hex);
            let cfg = TotpConfig {
                algorithm: alg,
                digits,
                ..TotpConfig::default()
            };
            assert_eq!(
                code_at(&key, t, &cfg).unwrap(),
                want,
                "key len {} {alg:?} {digits} @{t}",
                key.len()
            );
            // The base32 round trip must not change the key.
            assert_eq!(decode_secret(&encode_secret(&key)).unwrap(), key);
        }
    }

    const KEY_10: &str = "c85c46d8eb4da97443e6";
    const KEY_16: &str = "3472595eefdf0d0ff519e84c652f1019";
    const KEY_32: &str = "4528842c68694dc131b25572fc98071fe826ebc2b25d8fe456b1aaaf61dc71f9";
    const KEY_64: &str = concat!(
        "214ae11e76eeed67a3ddffece923087a0d503bf2fa10069268bf30efca21b6fa",
        "31fa9fb59854776cc07df70982c4045905cea0f4d1b07bf9f525d3c7a64edca2"
    );
    /// (hex key, algorithm, digits, unix time, expected code)
    #[rustfmt::skip]
    const CROSS_CHECK: [(&str, Algorithm, u32, u64, &str); 28] = [
        (KEY_10, Algorithm::Sha1, 6, 1700000000, "419882"),
        (KEY_10, Algorithm::Sha1, 8, 1111111111, "99628050"),
        (KEY_10, Algorithm::Sha1, 7, 4102444799, "1448078"),
        (KEY_10, Algorithm::Sha256, 6, 1700000000, "690532"),
        (KEY_10, Algorithm::Sha256, 8, 2000000000, "51341711"),
        (KEY_10, Algorithm::Sha512, 6, 1234567890, "070416"),
        (KEY_10, Algorithm::Sha512, 8, 20000000000, "03764723"),
        (KEY_16, Algorithm::Sha1, 6, 1700000000, "944626"),
        (KEY_16, Algorithm::Sha1, 8, 1111111111, "01603421"),
        (KEY_16, Algorithm::Sha1, 7, 4102444799, "2609183"),
        (KEY_16, Algorithm::Sha256, 6, 1700000000, "750969"),
        (KEY_16, Algorithm::Sha256, 8, 2000000000, "14389628"),
        (KEY_16, Algorithm::Sha512, 6, 1234567890, "311584"),
        (KEY_16, Algorithm::Sha512, 8, 20000000000, "79955535"),
        (KEY_32, Algorithm::Sha1, 6, 1700000000, "168491"),
        (KEY_32, Algorithm::Sha1, 8, 1111111111, "73909616"),
        (KEY_32, Algorithm::Sha1, 7, 4102444799, "5518959"),
        (KEY_32, Algorithm::Sha256, 6, 1700000000, "319278"),
        (KEY_32, Algorithm::Sha256, 8, 2000000000, "03242070"),
        (KEY_32, Algorithm::Sha512, 6, 1234567890, "326837"),
        (KEY_32, Algorithm::Sha512, 8, 20000000000, "52184053"),
        (KEY_64, Algorithm::Sha1, 6, 1700000000, "623405"),
        (KEY_64, Algorithm::Sha1, 8, 1111111111, "23263430"),
        (KEY_64, Algorithm::Sha1, 7, 4102444799, "5606730"),
        (KEY_64, Algorithm::Sha256, 6, 1700000000, "821185"),
        (KEY_64, Algorithm::Sha256, 8, 2000000000, "43097615"),
        (KEY_64, Algorithm::Sha512, 6, 1234567890, "343636"),
        (KEY_64, Algorithm::Sha512, 8, 20000000000, "55999495"),
    ];

    #[test]
    fn verify_window_edges() {
        let cfg = TotpConfig::default();
        let t = 1_700_000_000u64;
        let step = step_at(t, 30);
        for (delta, accepted) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let s = step.checked_add_signed(delta).unwrap();
            let code = hotp(SEED_SHA1, s, 6, Algorithm::Sha1).unwrap();
            let got = verify(SEED_SHA1, &code, t, &cfg).unwrap();
            assert_eq!(got, accepted.then_some(s), "delta {delta}");
        }
    }

    #[test]
    fn verify_skew_zero_and_near_epoch() {
        let cfg = TotpConfig {
            skew: 0,
            ..TotpConfig::default()
        };
        let t = 1_700_000_000u64;
        let prev = hotp(SEED_SHA1, step_at(t, 30) - 1, 6, Algorithm::Sha1).unwrap();
        assert_eq!(verify(SEED_SHA1, &prev, t, &cfg).unwrap(), None);
        // Step 0 with skew 1 must not underflow.
        let c0 = code_at(SEED_SHA1, 5, &TotpConfig::default()).unwrap();
        assert_eq!(
            verify(SEED_SHA1, &c0, 5, &TotpConfig::default()).unwrap(),
            Some(0)
        );
        // Largest step must not overflow.
        let top = hotp(SEED_SHA1, u64::MAX, 6, Algorithm::Sha1).unwrap();
        let cfg1 = TotpConfig {
            period: 1,
            ..TotpConfig::default()
        };
        assert_eq!(
            verify(SEED_SHA1, &top, u64::MAX, &cfg1).unwrap(),
            Some(u64::MAX)
        );
    }

    #[test]
    fn verify_after_refuses_replay() {
        let cfg = TotpConfig::default();
        let t = 1_700_000_000u64;
        let step = step_at(t, 30);
        let code = code_at(SEED_SHA1, t, &cfg).unwrap();
        assert_eq!(
            verify_after(SEED_SHA1, &code, t, &cfg, None).unwrap(),
            Some(step)
        );
        assert_eq!(
            verify_after(SEED_SHA1, &code, t, &cfg, Some(step - 1)).unwrap(),
            Some(step)
        );
        // Same code again after it was used: refused.
        assert_eq!(
            verify_after(SEED_SHA1, &code, t, &cfg, Some(step)).unwrap(),
            None
        );
        // An older code still inside the window, once a newer one was used.
        let prev = hotp(SEED_SHA1, step - 1, 6, Algorithm::Sha1).unwrap();
        assert_eq!(
            verify_after(SEED_SHA1, &prev, t, &cfg, Some(step)).unwrap(),
            None
        );
        // The next step's code is still fine.
        let next = hotp(SEED_SHA1, step + 1, 6, Algorithm::Sha1).unwrap();
        assert_eq!(
            verify_after(SEED_SHA1, &next, t, &cfg, Some(step)).unwrap(),
            Some(step + 1)
        );
    }

    #[test]
    fn bad_codes() {
        let cfg = TotpConfig::default();
        let t = 59;
        let good = code_at(SEED_SHA1, t, &cfg).unwrap();
        assert_eq!(good, "287082");
        for bad in [
            "", "12345", "1234567", "12a456", "28708２", "-28708", "      ",
        ] {
            assert_eq!(verify(SEED_SHA1, bad, t, &cfg).unwrap(), None, "{bad:?}");
        }
        let step = Some(step_at(t, 30));
        assert_eq!(verify(SEED_SHA1, &good, t, &cfg).unwrap(), step);
        assert_eq!(verify(SEED_SHA1, " 287 082 ", t, &cfg).unwrap(), step);
        assert_eq!(verify(SEED_SHA1, "287082\n", t, &cfg).unwrap(), step);
        assert_eq!(verify(SEED_SHA1, "287083", t, &cfg).unwrap(), None);
    }

    #[test]
    fn config_and_secret_errors() {
        assert_eq!(
            hotp(SEED_SHA1, 0, 5, Algorithm::Sha1),
            Err(TotpError::InvalidDigits(5))
        );
        assert_eq!(
            hotp(SEED_SHA1, 0, 9, Algorithm::Sha1),
            Err(TotpError::InvalidDigits(9))
        );
        assert_eq!(
            hotp(b"short", 0, 6, Algorithm::Sha1),
            Err(TotpError::InvalidSecret(InvalidSecretReason::TooShort))
        );
        assert_eq!(
            hotp(b"", 0, 6, Algorithm::Sha1),
            Err(TotpError::InvalidSecret(InvalidSecretReason::Empty))
        );
        let zero_period = TotpConfig {
            period: 0,
            ..TotpConfig::default()
        };
        assert_eq!(
            code_at(SEED_SHA1, 1, &zero_period),
            Err(TotpError::InvalidPeriod)
        );
        assert_eq!(step_at(100, 0), 0);
        let wide = TotpConfig {
            skew: 11,
            ..TotpConfig::default()
        };
        assert_eq!(
            verify(SEED_SHA1, "123456", 1, &wide),
            Err(TotpError::InvalidSkew(11))
        );
        assert_eq!(step_at(59, 30), 1);
        assert_eq!(step_at(60, 30), 2);
    }

    #[test]
    fn secret_generation_and_encoding() {
        let s = generate_secret();
        assert_eq!(s.len(), SECRET_LEN);
        assert_ne!(s, generate_secret());
        let enc = encode_secret(&s);
        assert_eq!(enc.len(), 32);
        assert!(
            enc.bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
        assert_eq!(decode_secret(&enc).unwrap(), s);
        assert_eq!(encode_secret(b"Hello!\xde\xad\xbe\xef"), "JBSWY3DPEHPK3PXP");
    }

    #[test]
    fn decode_secret_is_lenient_on_form() {
        let want = b"Hello!\xde\xad\xbe\xef".to_vec();
        for s in [
            "JBSWY3DPEHPK3PXP",
            "jbswy3dpehpk3pxp",
            "jbsw y3dp ehpk 3pxp",
            " JBSW Y3DP EHPK 3PXP\n",
            "JbSwY3DpEhPk3PxP",
        ] {
            assert_eq!(decode_secret(s).unwrap(), want, "{s:?}");
        }
        // 16 bytes -> 26 symbols + 6 padding.
        let key16 = [7u8; 16];
        let padded = format!("{}======", encode_secret(&key16));
        assert_eq!(padded.len(), 32);
        assert_eq!(decode_secret(&padded).unwrap(), key16);
        assert_eq!(decode_secret(&padded.to_lowercase()).unwrap(), key16);
    }

    #[test]
    fn decode_secret_rejects() {
        use InvalidSecretReason::*;
        let err = |r| Err(TotpError::InvalidSecret(r));
        assert_eq!(decode_secret(""), err(Empty));
        assert_eq!(decode_secret("   "), err(Empty));
        assert_eq!(decode_secret("===="), err(Empty));
        assert_eq!(decode_secret("JBSWY3DPEHPK3PX1"), err(InvalidCharacter));
        assert_eq!(decode_secret("JBSWY3DPEHPK3PX8"), err(InvalidCharacter));
        assert_eq!(decode_secret("JBSWY3DP=EHPK3PXP"), err(InvalidCharacter));
        assert_eq!(decode_secret("JBSWY3DPEHPK3PXÉ"), err(InvalidCharacter));
        assert_eq!(decode_secret("JBSWY3DPEHPK3PX-"), err(InvalidCharacter));
        // 9 bytes = 72 bits: too short.
        assert_eq!(decode_secret(&encode_secret(&[1u8; 9])), err(TooShort));
        assert_eq!(decode_secret("JBSWY3DP"), err(TooShort));
        // 17 symbols: 17 % 8 == 1 is not a valid base32 length.
        assert_eq!(decode_secret("JBSWY3DPEHPK3PXPA"), err(InvalidLength));
        // Exactly 10 bytes is accepted.
        assert_eq!(decode_secret(&encode_secret(&[1u8; 10])).unwrap().len(), 10);
    }

    #[test]
    fn errors_do_not_leak_secret() {
        let secret = "JBSWY3DPEHPK3PX1";
        let e = decode_secret(secret).unwrap_err();
        assert!(!e.to_string().contains("JBSW"));
        assert!(!format!("{e:?}").contains("JBSW"));
    }

    #[test]
    fn otpauth_uri_exact() {
        let uri = otpauth_uri(
            "authn",
            "alice@example.com",
            "JBSWY3DPEHPK3PXP",
            &TotpConfig::default(),
        );
        assert_eq!(
            uri,
            "otpauth://totp/authn:alice%40example.com?secret=JBSWY3DPEHPK3PXP\
             &issuer=authn&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn otpauth_uri_encodes_specials() {
        let cfg = TotpConfig {
            algorithm: Algorithm::Sha256,
            digits: 8,
            period: 60,
            skew: 1,
        };
        let uri = otpauth_uri("Ac:me Co", "bob:x&y=z/é", "jbsw y3dp", &cfg);
        assert_eq!(
            uri,
            "otpauth://totp/Ac%3Ame%20Co:bob%3Ax%26y%3Dz%2F%C3%A9?secret=JBSWY3DP\
             &issuer=Ac%3Ame%20Co&algorithm=SHA256&digits=8&period=60"
        );
        assert_eq!(percent_encode("aZ09-._~"), "aZ09-._~");
    }

    #[test]
    fn compute_totp_matches_code_at() {
        let secret = "JBSWY3DPEHPK3PXP";
        let key = decode_secret(secret).unwrap();
        // Retry if the 30 s boundary is crossed between the two readings.
        for _ in 0..3 {
            let before = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let code = compute_totp(secret).unwrap();
            let expected = code_at(&key, before, &TotpConfig::default()).unwrap();
            if code == expected {
                assert_eq!(code.len(), 6);
                return;
            }
        }
        panic!("compute_totp never matched code_at");
    }

    #[test]
    fn compute_totp_rejects_bad_secret() {
        assert!(matches!(
            compute_totp("not base32!"),
            Err(TotpError::InvalidSecret(_))
        ));
    }
}
