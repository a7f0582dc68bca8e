//! Single-use recovery codes for users who lost their second factor.
//!
//! A code is 80 random bits written as 16 symbols of Crockford base32 in
//! lower case, grouped `xxxx-xxxx-xxxx-xxxx`. Crockford's alphabet leaves
//! out `i`, `l`, `o` and `u`, so a code read aloud or copied from paper
//! cannot be misread; on input those look-alikes are mapped back.

use crate::token::{random_bytes, sha256_hex};

/// Crockford base32 alphabet, lower case (no `i`, `l`, `o`, `u`).
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Random bytes per code (80 bits).
const CODE_BYTES: usize = 10;

/// Symbols per code: 80 bits / 5 bits per symbol.
pub const CODE_SYMBOLS: usize = 16;

/// Symbols between dashes in the display form.
const GROUP: usize = 4;

/// Length of the formatted code, `xxxx-xxxx-xxxx-xxxx`.
pub const CODE_LEN: usize = CODE_SYMBOLS + CODE_SYMBOLS / GROUP - 1;

/// Generates `n` recovery codes, each 80 bits from the OS CSPRNG, formatted
/// `xxxx-xxxx-xxxx-xxxx`. Show them to the user once; store only
/// [`hash_recovery_code`] of each.
pub fn generate_recovery_codes(n: usize) -> Vec<String> {
    (0..n)
        .map(|_| format_code(&encode(random_bytes::<CODE_BYTES>())))
        .collect()
}

/// Writes 80 bits as 16 base32 symbols, most significant first.
fn encode(bytes: [u8; CODE_BYTES]) -> [u8; CODE_SYMBOLS] {
    let mut value = 0u128;
    for b in bytes {
        value = (value << 8) | u128::from(b);
    }
    let mut out = [0u8; CODE_SYMBOLS];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (CODE_SYMBOLS - 1 - i);
        let index = usize::from(((value >> shift) & 0x1f) as u8);
        // index < 32 always; `get` keeps the code free of panicking indexing.
        *slot = ALPHABET.get(index).copied().unwrap_or(b'0');
    }
    out
}

/// Inserts a dash after every 4 symbols.
fn format_code(symbols: &[u8]) -> String {
    let mut out = String::with_capacity(CODE_LEN);
    for (i, &c) in symbols.iter().enumerate() {
        if i > 0 && i % GROUP == 0 {
            out.push('-');
        }
        out.push(char::from(c));
    }
    out
}

/// Maps one typed character to its canonical symbol, if it is one.
fn canonical_symbol(c: char) -> Option<u8> {
    let c = c.to_ascii_lowercase();
    // Crockford decoding: o reads as zero, i and l as one.
    let c = match c {
        'o' => '0',
        'i' | 'l' => '1',
        other => other,
    };
    u8::try_from(c).ok().filter(|b| ALPHABET.contains(b))
}

/// Normalizes a recovery code as typed by a user into the canonical
/// `xxxx-xxxx-xxxx-xxxx` form (what [`generate_recovery_codes`] returns).
///
/// Case-insensitive; whitespace and dashes are ignored anywhere; `o` is read
/// as `0` and `i`/`l` as `1`. Returns `None` unless exactly 16 valid symbols
/// remain.
pub fn normalize_recovery_code(input: &str) -> Option<String> {
    let mut symbols = [0u8; CODE_SYMBOLS];
    let mut count = 0usize;
    for c in input.chars() {
        if c == '-' || c.is_whitespace() {
            continue;
        }
        let symbol = canonical_symbol(c)?;
        // Stops at the 17th symbol, so long input costs nothing extra.
        *symbols.get_mut(count)? = symbol;
        count += 1;
    }
    (count == CODE_SYMBOLS).then(|| format_code(&symbols))
}

/// SHA-256 hex of a normalized code, for storage and lookup.
///
/// A fast unsalted hash is enough here (unlike passwords): 80 random bits
/// cannot be brute-forced offline, and determinism lets the code be found
/// by an indexed lookup.
pub fn hash_recovery_code(normalized: &str) -> String {
    sha256_hex(normalized.as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn is_format(code: &str) -> bool {
        code.len() == CODE_LEN
            && code.char_indices().all(|(i, c)| {
                if i % 5 == 4 {
                    c == '-'
                } else {
                    ALPHABET.contains(&(c as u8))
                }
            })
    }

    #[test]
    fn count_and_format() {
        assert!(generate_recovery_codes(0).is_empty());
        let codes = generate_recovery_codes(10);
        assert_eq!(codes.len(), 10);
        for code in &codes {
            assert_eq!(CODE_LEN, 19);
            assert!(is_format(code), "{code}");
            assert!(!code.contains(['i', 'l', 'o', 'u']));
        }
    }

    #[test]
    fn unique() {
        let set: HashSet<String> = generate_recovery_codes(1000).into_iter().collect();
        assert_eq!(set.len(), 1000);
    }

    #[test]
    fn encoding_uses_all_80_bits() {
        assert_eq!(encode([0; 10]), *b"0000000000000000");
        assert_eq!(encode([0xff; 10]), *b"zzzzzzzzzzzzzzzz");
        // 0x00..01 -> last symbol 1; top bit set -> first symbol 16 = 'g'.
        let mut one = [0u8; 10];
        one[9] = 1;
        assert_eq!(encode(one), *b"0000000000000001");
        let mut top = [0u8; 10];
        top[0] = 0x80;
        assert_eq!(encode(top), *b"g000000000000000");
    }

    #[test]
    fn normalization_round_trips() {
        for code in generate_recovery_codes(50) {
            assert_eq!(normalize_recovery_code(&code).as_deref(), Some(&*code));
            let upper = code.to_uppercase();
            assert_eq!(normalize_recovery_code(&upper).as_deref(), Some(&*code));
            let bare = code.replace('-', "");
            assert_eq!(normalize_recovery_code(&bare).as_deref(), Some(&*code));
            let spaced = format!("  {} ", code.replace('-', " "));
            assert_eq!(normalize_recovery_code(&spaced).as_deref(), Some(&*code));
        }
    }

    #[test]
    fn look_alikes_mapped() {
        assert_eq!(
            normalize_recovery_code("OoIl-LiOo-abcd-efgh").as_deref(),
            Some("0011-1100-abcd-efgh")
        );
        assert_eq!(
            normalize_recovery_code("AB CD\tEF-GH\nJK--MN PQRS").as_deref(),
            Some("abcd-efgh-jkmn-pqrs")
        );
    }

    #[test]
    fn bad_inputs_rejected() {
        for bad in [
            "",
            "----",
            "abcd-efgh-jkmn-pqr",       // 15 symbols
            "abcd-efgh-jkmn-pqrst",     // 17 symbols
            "abcd-efgh-jkmn-pqru",      // u is not in the alphabet
            "abcd-efgh-jkmn-pqr!",      // punctuation
            "abcd_efgh_jkmn_pqrs",      // underscores are not separators
            "abcd-efgh-jkmn-pqré",      // non-ASCII
            "abcd-efgh-jkmn-pqrs-abcd", // too long
        ] {
            assert_eq!(normalize_recovery_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hash_is_stable() {
        let h = hash_recovery_code("abcd-efgh-jkmn-pqrs");
        assert_eq!(h, hash_recovery_code("abcd-efgh-jkmn-pqrs"));
        assert_eq!(h, sha256_hex(b"abcd-efgh-jkmn-pqrs"));
        assert_eq!(h.len(), 64);
        assert_ne!(h, hash_recovery_code("abcd-efgh-jkmn-pqrt"));
        // Whatever the user typed, the normalized form hashes the same.
        let typed = normalize_recovery_code("ABCD EFGH JKMN PQRS").unwrap();
        assert_eq!(hash_recovery_code(&typed), h);
    }
}
