//! Authenticated encryption of secrets at rest (TOTP secrets), with key ids
//! so the server key can be rotated without re-encrypting everything at once.
//!
//! A sealed value is text: `v1.<key_id>.<base64url-no-pad(nonce || ciphertext || tag)>`,
//! encrypted with AES-256-GCM under a random 96-bit nonce. The caller's
//! `context` (e.g. `"totp:<namespace>:<user_id>"`) is bound as associated
//! data, so a sealed value copied to another user or purpose does not open.

use std::fmt;
use std::sync::Arc;

use aes_gcm::aead::{Aead as _, Nonce, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::token::{RandomError, random_bytes, try_random_bytes};

/// Version prefix of the sealed format produced by [`SecretBox::seal`].
const VERSION: &str = "v1";
/// AES-GCM nonce length in bytes (96 bits, the size GCM is designed for).
const NONCE_LEN: usize = 12;
/// AES-GCM tag length in bytes.
const TAG_LEN: usize = 16;
/// Longest accepted key id, in characters.
pub const MAX_KEY_ID_LEN: usize = 32;

/// Failures of key handling, sealing and opening. Messages never contain
/// key material, plaintext or the sealed input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A key id is empty, too long or uses characters outside
    /// `[A-Za-z0-9_-]`.
    #[error("invalid key id: must be 1 to 32 characters of A-Z a-z 0-9 _ -")]
    InvalidKeyId,
    /// Encoded key material is not 32 bytes of standard, padded base64.
    #[error("invalid key: must be 32 bytes encoded as standard base64")]
    InvalidKey,
    /// The same key id was given twice to [`SecretBox::new`].
    #[error("duplicate key id {0}")]
    DuplicateKeyId(KeyId),
    /// The sealed value names a key this [`SecretBox`] does not hold.
    #[error("sealed value names an unknown key")]
    UnknownKey,
    /// The sealed value is not in the `v1.<key_id>.<payload>` format.
    #[error("malformed sealed value")]
    Malformed,
    /// Authentication failed: wrong context, wrong key or tampered data.
    /// AES-GCM cannot tell these apart, by design.
    #[error("decryption failed")]
    Decrypt,
    /// Encryption failed (only possible for plaintexts beyond AES-GCM's
    /// 64 GiB limit).
    #[error("encryption failed")]
    Encrypt,
    /// The OS random number generator failed while drawing a nonce.
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// Identifies a [`SecretKey`] inside sealed values: 1 to 32 characters of
/// `[A-Za-z0-9_-]`. Not secret; it is written in clear into every sealed
/// value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// Validates a key id.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKeyId`] when `id` is empty, longer than
    /// [`MAX_KEY_ID_LEN`] or contains other characters than `[A-Za-z0-9_-]`.
    pub fn new(id: &str) -> Result<Self, CryptoError> {
        if is_valid_key_id(id) {
            Ok(Self(id.to_owned()))
        } else {
            Err(CryptoError::InvalidKeyId)
        }
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 256-bit AES key. Its `Debug` output is redacted.
pub struct SecretKey([u8; 32]);

impl SecretKey {
    /// Draws a new key from the OS CSPRNG.
    ///
    /// Aborts the process if the OS generator fails (see
    /// [`crate::token::random_bytes`]): there is no safe fallback for key
    /// material.
    pub fn generate() -> Self {
        Self(random_bytes::<32>())
    }

    /// Wraps existing key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key as standard base64 with padding (44 characters), the format
    /// of the key file.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Reads a key written by [`SecretKey::to_base64`]. Surrounding ASCII
    /// whitespace is ignored, so a key file may end with a newline.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] when the text is not standard padded
    /// base64 or does not decode to exactly 32 bytes.
    pub fn from_base64(encoded: &str) -> Result<Self, CryptoError> {
        let decoded = STANDARD
            .decode(encoded.trim_ascii())
            .map_err(|_| CryptoError::InvalidKey)?;
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self(bytes))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// The keys of a [`SecretBox`]; the first entry is the current key.
struct Keyring {
    keys: Vec<(KeyId, Aes256Gcm)>,
    current: KeyId,
}

/// Seals and opens secrets with AES-256-GCM. Encrypts with the current key
/// and opens values sealed under any key it holds, so keys can be rotated:
/// move the old key to `older`, and re-seal lazily where
/// [`SecretBox::needs_reseal`] says so.
///
/// Cheap to clone (the keys are shared behind an [`Arc`]).
#[derive(Clone)]
pub struct SecretBox {
    inner: Arc<Keyring>,
}

impl SecretBox {
    /// Builds a box that seals with `current` and also opens values sealed
    /// under any key in `older`.
    ///
    /// # Errors
    /// [`CryptoError::DuplicateKeyId`] when two keys share an id.
    pub fn new(
        current: (KeyId, SecretKey),
        older: Vec<(KeyId, SecretKey)>,
    ) -> Result<Self, CryptoError> {
        let current_id = current.0.clone();
        let mut keys: Vec<(KeyId, Aes256Gcm)> = Vec::with_capacity(older.len().saturating_add(1));
        for (id, key) in std::iter::once(current).chain(older) {
            if keys.iter().any(|(known, _)| *known == id) {
                return Err(CryptoError::DuplicateKeyId(id));
            }
            let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(key.0));
            keys.push((id, cipher));
        }
        Ok(Self {
            inner: Arc::new(Keyring {
                keys,
                current: current_id,
            }),
        })
    }

    /// The id of the key new values are sealed with.
    pub fn current_key_id(&self) -> &KeyId {
        &self.inner.current
    }

    /// Encrypts `plaintext` under the current key with a fresh random nonce,
    /// binding `context` as associated data. Returns
    /// `v1.<key_id>.<base64url-no-pad(nonce || ciphertext || tag)>`.
    ///
    /// # Errors
    /// [`CryptoError::Random`] when the OS random generator fails;
    /// [`CryptoError::Encrypt`] for plaintexts beyond AES-GCM's limit.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<String, CryptoError> {
        let (id, cipher) = self.inner.keys.first().ok_or(CryptoError::UnknownKey)?;
        // Random nonces are safe for far more messages than a store of TOTP
        // secrets will ever seal under one key (NIST's 2^32 bound).
        let nonce_bytes = try_random_bytes::<NONCE_LEN>()?;
        let nonce = Nonce::<Aes256Gcm>::from(nonce_bytes);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Encrypt)?;
        let mut payload = Vec::with_capacity(NONCE_LEN.saturating_add(sealed.len()));
        payload.extend_from_slice(&nonce_bytes);
        payload.extend_from_slice(&sealed);
        Ok(format!(
            "{VERSION}.{id}.{}",
            URL_SAFE_NO_PAD.encode(payload)
        ))
    }

    /// Decrypts a value produced by [`SecretBox::seal`] with the key it
    /// names, checking that it was sealed for `context`.
    ///
    /// # Errors
    /// [`CryptoError::Malformed`] when the text is not in the sealed format;
    /// [`CryptoError::UnknownKey`] when it names a key this box does not
    /// hold; [`CryptoError::Decrypt`] when the context differs or the value
    /// was tampered with.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, CryptoError> {
        let (id, encoded) = parse_header(sealed).ok_or(CryptoError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| CryptoError::Malformed)?;
        if payload.len() < NONCE_LEN.saturating_add(TAG_LEN) {
            return Err(CryptoError::Malformed);
        }
        let (nonce_bytes, ciphertext) = payload
            .split_at_checked(NONCE_LEN)
            .ok_or(CryptoError::Malformed)?;
        let nonce =
            Nonce::<Aes256Gcm>::try_from(nonce_bytes).map_err(|_| CryptoError::Malformed)?;
        let cipher = self
            .inner
            .keys
            .iter()
            .find(|(known, _)| known.as_str() == id)
            .map(|(_, cipher)| cipher)
            .ok_or(CryptoError::UnknownKey)?;
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Decrypt)
    }

    /// True when `sealed` is well-formed and was sealed under a key other
    /// than the current one, i.e. should be re-sealed after a rotation.
    /// Malformed values give `false`; [`SecretBox::open`] reports them.
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        parse_header(sealed).is_some_and(|(id, _)| id != self.inner.current.as_str())
    }
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only ids: the ciphers hold expanded key material.
        let ids: Vec<&str> = self.inner.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("SecretBox")
            .field("current", &self.inner.current.as_str())
            .field("key_ids", &ids)
            .finish()
    }
}

/// True for 1 to [`MAX_KEY_ID_LEN`] characters of `[A-Za-z0-9_-]`.
fn is_valid_key_id(id: &str) -> bool {
    // The alphabet excludes '.', the separator of the sealed format, so
    // parsing never has to guess where the id ends.
    !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Splits `v1.<key_id>.<payload>` into a validated key id and the encoded
/// payload.
fn parse_header(sealed: &str) -> Option<(&str, &str)> {
    let rest = sealed.strip_prefix(VERSION)?.strip_prefix('.')?;
    let (id, payload) = rest.split_once('.')?;
    is_valid_key_id(id).then_some((id, payload))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const CTX: &str = "totp:default:0190c0de-0000-7000-8000-000000000001";

    fn key_id(id: &str) -> KeyId {
        KeyId::new(id).unwrap()
    }

    fn boxed(id: &str, byte: u8) -> SecretBox {
        SecretBox::new((key_id(id), SecretKey::from_bytes([byte; 32])), vec![]).unwrap()
    }

    #[test]
    fn round_trip_and_format() {
        let b = SecretBox::new((key_id("k1"), SecretKey::generate()), vec![]).unwrap();
        for plaintext in [&b""[..], b"JBSWY3DPEHPK3PXP", &[0u8; 1000]] {
            let sealed = b.seal(plaintext, CTX).unwrap();
            assert!(sealed.starts_with("v1.k1."), "{sealed}");
            let payload = sealed.strip_prefix("v1.k1.").unwrap();
            assert_eq!(
                URL_SAFE_NO_PAD.decode(payload).unwrap().len(),
                NONCE_LEN + plaintext.len() + TAG_LEN
            );
            assert_eq!(b.open(&sealed, CTX).unwrap(), plaintext);
        }
    }

    #[test]
    fn nonces_are_unique() {
        let b = boxed("k1", 7);
        let one = b.seal(b"same", CTX).unwrap();
        let two = b.seal(b"same", CTX).unwrap();
        assert_ne!(one, two);
        let nonce = |s: &str| URL_SAFE_NO_PAD.decode(&s[6..]).unwrap()[..NONCE_LEN].to_vec();
        assert_ne!(nonce(&one), nonce(&two));
    }

    #[test]
    fn wrong_context_fails() {
        let b = boxed("k1", 7);
        let sealed = b.seal(b"secret", "totp:ns:user-a").unwrap();
        for other in ["totp:ns:user-b", "totp:other:user-a", "", "totp:ns:user-a "] {
            assert!(matches!(b.open(&sealed, other), Err(CryptoError::Decrypt)));
        }
    }

    #[test]
    fn wrong_key_with_same_id_fails() {
        let sealed = boxed("k1", 7).seal(b"secret", CTX).unwrap();
        assert!(matches!(
            boxed("k1", 8).open(&sealed, CTX),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn tampering_any_payload_byte_fails() {
        let b = boxed("k1", 7);
        let sealed = b.seal(b"JBSWY3DPEHPK3PXP", CTX).unwrap();
        let payload = URL_SAFE_NO_PAD.decode(&sealed[6..]).unwrap();
        for i in 0..payload.len() {
            for flip in [0x01u8, 0x80] {
                let mut bad = payload.clone();
                bad[i] ^= flip;
                let text = format!("v1.k1.{}", URL_SAFE_NO_PAD.encode(&bad));
                assert!(
                    matches!(b.open(&text, CTX), Err(CryptoError::Decrypt)),
                    "byte {i}"
                );
            }
        }
        // Truncating or extending the payload fails as well.
        let short = format!(
            "v1.k1.{}",
            URL_SAFE_NO_PAD.encode(&payload[..payload.len() - 1])
        );
        assert!(b.open(&short, CTX).is_err());
        let mut long = payload.clone();
        long.push(0);
        let long = format!("v1.k1.{}", URL_SAFE_NO_PAD.encode(&long));
        assert!(b.open(&long, CTX).is_err());
    }

    #[test]
    fn rotation() {
        let old = boxed("2024-01", 1);
        let sealed_old = old.seal(b"old secret", CTX).unwrap();
        assert!(!old.needs_reseal(&sealed_old));

        let rotated = SecretBox::new(
            (key_id("2025-06"), SecretKey::from_bytes([2; 32])),
            vec![(key_id("2024-01"), SecretKey::from_bytes([1; 32]))],
        )
        .unwrap();
        assert_eq!(rotated.current_key_id().as_str(), "2025-06");
        assert_eq!(rotated.open(&sealed_old, CTX).unwrap(), b"old secret");
        assert!(rotated.needs_reseal(&sealed_old));

        let resealed = rotated.seal(b"old secret", CTX).unwrap();
        assert!(resealed.starts_with("v1.2025-06."));
        assert!(!rotated.needs_reseal(&resealed));
        assert_eq!(rotated.open(&resealed, CTX).unwrap(), b"old secret");
        // The old box cannot open values sealed under the new key.
        assert!(matches!(
            old.open(&resealed, CTX),
            Err(CryptoError::UnknownKey)
        ));
        // Clones share the keys.
        assert_eq!(rotated.clone().open(&resealed, CTX).unwrap(), b"old secret");
    }

    #[test]
    fn duplicate_key_ids_rejected() {
        let dup = SecretBox::new(
            (key_id("k1"), SecretKey::from_bytes([1; 32])),
            vec![
                (key_id("k0"), SecretKey::from_bytes([0; 32])),
                (key_id("k1"), SecretKey::from_bytes([2; 32])),
            ],
        );
        assert!(matches!(dup, Err(CryptoError::DuplicateKeyId(id)) if id.as_str() == "k1"));
    }

    #[test]
    fn unknown_key_id() {
        let sealed = boxed("k1", 7).seal(b"secret", CTX).unwrap();
        let b = boxed("k2", 7);
        assert!(matches!(b.open(&sealed, CTX), Err(CryptoError::UnknownKey)));
        assert!(b.needs_reseal(&sealed));
    }

    #[test]
    fn malformed_inputs() {
        let b = boxed("k1", 7);
        let good = b.seal(b"secret", CTX).unwrap();
        let payload = &good[6..];
        let too_short = URL_SAFE_NO_PAD.encode([0u8; NONCE_LEN + TAG_LEN - 1]);
        let cases = [
            String::new(),
            "v1".to_owned(),
            "v1.".to_owned(),
            "v1..".to_owned(),
            "v2.x.y".to_owned(),
            format!("v2.k1.{payload}"),
            format!("V1.k1.{payload}"),
            format!("v1.k1{payload}"),
            format!("v1..{payload}"),
            format!("v1.k.1.{payload}"),
            format!("v1.k\u{e9}.{payload}"),
            format!("v1.{}.{payload}", "a".repeat(33)),
            "v1.k1.".to_owned(),
            "v1.k1.!!!!".to_owned(),
            format!("v1.k1.{payload}="),
            format!("v1.k1.+{}", &payload[1..]),
            format!("v1.k1.{too_short}"),
            format!(" {good}"),
            format!("{good}\n"),
        ];
        for case in &cases {
            let err = b.open(case, CTX).unwrap_err();
            assert!(matches!(err, CryptoError::Malformed), "{case:?}: {err:?}");
            assert!(!err.to_string().contains(case.as_str()) || case.is_empty());
        }
        assert!(!b.needs_reseal(""));
        assert!(!b.needs_reseal("v2.k0.abc"));
    }

    #[test]
    fn errors_do_not_echo_input() {
        let b = boxed("k1", 7);
        let sealed = b.seal(b"secret", CTX).unwrap();
        for (input, ctx) in [(sealed.as_str(), "other"), ("v1.zz.AAAA", CTX)] {
            let msg = b.open(input, ctx).unwrap_err().to_string();
            assert!(!msg.contains(input) && !msg.contains("zz") && !msg.contains(ctx));
        }
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let key = SecretKey::from_bytes([0xAB; 32]);
        let encoded = key.to_base64();
        assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
        let b = SecretBox::new(
            (key_id("cur"), key),
            vec![(key_id("old"), SecretKey::from_bytes([0xCD; 32]))],
        )
        .unwrap();
        let dbg = format!("{b:?} {b:#?}");
        assert!(dbg.contains("cur") && dbg.contains("old"), "{dbg}");
        for needle in ["171", "205", "ab", "AB", "cd", "CD", &encoded[..8]] {
            assert!(!dbg.contains(needle), "{needle} in {dbg}");
        }
    }

    #[test]
    fn key_base64_round_trip_and_validation() {
        let key = SecretKey::generate();
        let text = key.to_base64();
        assert_eq!(text.len(), 44);
        assert!(text.ends_with('='));
        assert_eq!(SecretKey::from_base64(&text).unwrap().0, key.0);
        assert_eq!(
            SecretKey::from_base64(&format!("{text}\n")).unwrap().0,
            key.0
        );
        let k = SecretKey::from_bytes([0xFB; 32]);
        assert!(k.to_base64().contains('+') || k.to_base64().contains('/'));
        for bad in [
            String::new(),
            STANDARD.encode([1u8; 31]),
            STANDARD.encode([1u8; 33]),
            text.trim_end_matches('=').to_owned(),
            URL_SAFE_NO_PAD.encode([0xFB; 32]),
            "not base64 at all!".to_owned(),
        ] {
            assert!(
                matches!(SecretKey::from_base64(&bad), Err(CryptoError::InvalidKey)),
                "{bad:?}"
            );
        }
        // Two generated keys differ.
        assert_ne!(SecretKey::generate().0, SecretKey::generate().0);
    }

    #[test]
    fn key_id_validation() {
        for ok in ["a", "k1", "2025-06_rot", &"Z".repeat(32)] {
            assert_eq!(KeyId::new(ok).unwrap().to_string(), ok);
        }
        for bad in ["", " k1", "k.1", "k/1", "k1\n", "clé", &"a".repeat(33)] {
            assert!(
                matches!(KeyId::new(bad), Err(CryptoError::InvalidKeyId)),
                "{bad:?}"
            );
        }
        assert_eq!(format!("{:?}", key_id("k1")), "KeyId(\"k1\")");
    }
}
