//! Random tokens, SHA-256 hashing and constant-time comparison.
//!
//! Every secret in the system (session tokens, TOTP secrets, recovery codes,
//! password salts) is drawn from the operating system's CSPRNG through this
//! module, so there is exactly one place that decides where randomness comes
//! from.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRng as _;
use rand::rngs::SysRng;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Number of random bytes in a token from [`generate_token`] (256 bits).
pub const TOKEN_BYTES: usize = 32;

/// Length in characters of a token from [`generate_token`]:
/// 32 bytes in unpadded base64 is `ceil(32 * 4 / 3)` = 43 characters.
pub const TOKEN_LEN: usize = 43;

/// The operating system's random number generator failed.
///
/// On Linux this practically only happens when the `getrandom` syscall is
/// blocked (e.g. by a seccomp policy), but it is reported rather than hidden.
#[derive(Debug, thiserror::Error)]
#[error("operating system random number generator failed")]
pub struct RandomError(#[source] rand::rngs::SysError);

/// Fills an `N`-byte array from the OS CSPRNG, reporting failure.
///
/// Use this where a caller can turn an RNG failure into an error response
/// (e.g. password salts).
pub fn try_random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut buf = [0u8; N];
    // SysRng reads the OS generator directly (getrandom(2) on Linux), not a
    // user-space PRNG, so a forked process never repeats another's output.
    SysRng.try_fill_bytes(&mut buf).map_err(RandomError)?;
    Ok(buf)
}

/// Returns `N` bytes from the OS CSPRNG.
///
/// If the OS generator fails the process is **aborted** (after a message on
/// stderr): handing out predictable secrets is worse than stopping, and there
/// is no secure fallback. Call [`try_random_bytes`] where the failure can be
/// reported instead.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    match try_random_bytes::<N>() {
        Ok(bytes) => bytes,
        Err(err) => {
            // Fail closed without a panic: a panic could be caught by the
            // async runtime and the caller might continue with a zeroed
            // buffer in some refactor; abort cannot be ignored.
            eprintln!("authn-core: fatal: {err}");
            std::process::abort()
        }
    }
}

/// Generates a 256-bit random token, base64url-encoded without padding
/// (43 characters, alphabet `A-Z a-z 0-9 - _`), suitable for URLs and cookies.
pub fn generate_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<TOKEN_BYTES>())
}

/// Lowercase hexadecimal SHA-256 of `input` (64 characters).
///
/// Used to store high-entropy tokens: a fast hash is enough because the
/// input cannot be guessed, and it lets the database hold no usable token.
pub fn sha256_hex(input: &[u8]) -> String {
    to_hex(&Sha256::digest(input))
}

/// Lowercase hex encoding; kept inline to avoid a dependency for a few lines.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len().saturating_mul(2));
    for &b in bytes {
        // `b >> 4` and `b & 0x0f` are both < 16, so `get` always succeeds;
        // `get` is used only to keep the code free of panicking indexing.
        for nibble in [b >> 4, b & 0x0f] {
            if let Some(&c) = HEX.get(usize::from(nibble)) {
                out.push(char::from(c));
            }
        }
    }
    out
}

/// Compares two byte strings in time independent of their contents.
///
/// Returns `false` when lengths differ; the length itself is not treated as
/// secret (all our compared values have public, fixed lengths).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // subtle's slice ct_eq already returns false on length mismatch.
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn token_length_and_alphabet() {
        for _ in 0..100 {
            let t = generate_token();
            assert_eq!(t.len(), TOKEN_LEN);
            assert!(
                t.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
                "{t}"
            );
            assert!(!t.contains('='));
        }
    }

    #[test]
    fn token_decodes_to_32_bytes() {
        let t = generate_token();
        let raw = URL_SAFE_NO_PAD.decode(t).unwrap();
        assert_eq!(raw.len(), TOKEN_BYTES);
    }

    #[test]
    fn tokens_are_unique() {
        let set: HashSet<String> = (0..1000).map(|_| generate_token()).collect();
        assert_eq!(set.len(), 1000);
    }

    #[test]
    fn random_bytes_lengths_and_variation() {
        let a: [u8; 16] = random_bytes();
        let b: [u8; 16] = random_bytes();
        assert_ne!(a, b);
        let empty: [u8; 0] = random_bytes();
        assert_eq!(empty.len(), 0);
        let big = try_random_bytes::<64>().unwrap();
        assert!(big.iter().any(|&x| x != 0));
    }

    #[test]
    fn sha256_known_vectors() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hex_encoding() {
        assert_eq!(to_hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(to_hex(&[]), "");
    }

    #[test]
    fn constant_time_eq_cases() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
