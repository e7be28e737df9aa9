//! Checksummed text for keys and IDs: `PREFIX` + base32 (lowercase, no padding)
//! of the payload followed by a 4-byte BLAKE3 checksum over prefix and payload.
//!
//! A typo changes the checksum, so it is reported as an error instead of
//! silently naming a different key or network.

use data_encoding::BASE32_NOPAD;

/// Length of the checksum appended to every encoded payload.
const CHECKSUM_LEN: usize = 4;

/// Why a piece of key text was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// The text does not start with the expected prefix.
    #[error("expected text starting with `{expected}`")]
    WrongPrefix {
        /// The prefix that was expected.
        expected: &'static str,
    },
    /// The text holds characters outside the base32 alphabet.
    #[error("invalid characters (only a-z and 2-7 are allowed after the prefix)")]
    BadEncoding,
    /// The text has a number of characters that no key has.
    #[error("wrong number of characters (one missing or extra?)")]
    BadTextLength,
    /// The decoded text has the wrong length.
    #[error("wrong length: expected {expected} bytes, found {found}")]
    WrongLength {
        /// Expected payload length in bytes.
        expected: usize,
        /// Decoded payload length in bytes.
        found: usize,
    },
    /// The checksum does not match: most likely a typo.
    #[error("checksum mismatch (a typo or a truncated copy?)")]
    BadChecksum,
}

fn checksum(prefix: &str, payload: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut h = blake3::Hasher::new_derive_key("tessel 2026 text checksum");
    h.update(prefix.as_bytes());
    h.update(payload);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&h.finalize().as_bytes()[..CHECKSUM_LEN]);
    out
}

/// Encodes `payload` as `prefix` + base32(payload ‖ checksum).
pub fn encode(prefix: &'static str, payload: &[u8]) -> String {
    let mut buf = Vec::with_capacity(payload.len() + CHECKSUM_LEN);
    buf.extend_from_slice(payload);
    buf.extend_from_slice(&checksum(prefix, payload));
    let mut s = String::from(prefix);
    s.push_str(&BASE32_NOPAD.encode(&buf).to_ascii_lowercase());
    s
}

/// Decodes text made by [`encode`] into exactly `N` bytes.
///
/// # Errors
/// Returns a [`TextError`] naming what is wrong with the text.
pub fn decode<const N: usize>(prefix: &'static str, text: &str) -> Result<[u8; N], TextError> {
    let payload = decode_checked(prefix, text, Some(N))?;
    let mut out = [0u8; N];
    out.copy_from_slice(&payload);
    Ok(out)
}

/// Decodes text made by [`encode`] whose payload has any length up to
/// `max` bytes (signed records, for example).
///
/// # Errors
/// Returns a [`TextError`] naming what is wrong with the text.
pub fn decode_vec(prefix: &'static str, text: &str, max: usize) -> Result<Vec<u8>, TextError> {
    let body = text.trim();
    // Each base32 character carries 5 bits: refuse before decoding.
    if body.len() > prefix.len() + (max + CHECKSUM_LEN) * 8 / 5 + 1 {
        return Err(TextError::BadTextLength);
    }
    decode_checked(prefix, body, None)
}

fn decode_checked(
    prefix: &'static str,
    text: &str,
    len: Option<usize>,
) -> Result<Vec<u8>, TextError> {
    let body = text
        .trim()
        .strip_prefix(prefix)
        .ok_or(TextError::WrongPrefix { expected: prefix })?;
    let raw = BASE32_NOPAD
        .decode(body.to_ascii_uppercase().as_bytes())
        .map_err(|e| match e.kind {
            data_encoding::DecodeKind::Length | data_encoding::DecodeKind::Trailing => {
                TextError::BadTextLength
            }
            _ => TextError::BadEncoding,
        })?;
    let found = raw.len().saturating_sub(CHECKSUM_LEN);
    match len {
        Some(expected) if found != expected || raw.len() < CHECKSUM_LEN => {
            return Err(TextError::WrongLength { expected, found });
        }
        None if raw.len() < CHECKSUM_LEN => return Err(TextError::BadTextLength),
        _ => {}
    }
    let (payload, sum) = raw.split_at(found);
    if checksum(prefix, payload) != sum {
        return Err(TextError::BadChecksum);
    }
    Ok(payload.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_length_round_trip_and_limit() {
        let text = encode("r-", &[9u8; 100]);
        assert_eq!(decode_vec("r-", &text, 100), Ok(vec![9u8; 100]));
        assert_eq!(decode_vec("r-", &text, 50), Err(TextError::BadTextLength));
        let mut typo: Vec<char> = text.chars().collect();
        typo[5] = if typo[5] == 'a' { 'b' } else { 'a' };
        let typo: String = typo.into_iter().collect();
        assert_eq!(decode_vec("r-", &typo, 100), Err(TextError::BadChecksum));
        assert_eq!(decode_vec("r-", "r-", 100), Err(TextError::BadTextLength));
    }

    #[test]
    fn round_trip() {
        let text = encode("x-", &[7u8; 32]);
        assert_eq!(decode::<32>("x-", &text), Ok([7u8; 32]));
    }

    #[test]
    fn every_single_character_typo_is_caught() {
        let text = encode("x-", &[0x5a; 32]);
        let alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        for i in 2..text.len() {
            for c in alphabet.chars() {
                let mut t: Vec<char> = text.chars().collect();
                if t[i] == c {
                    continue;
                }
                t[i] = c;
                let t: String = t.into_iter().collect();
                assert!(decode::<32>("x-", &t).is_err(), "typo at {i} accepted");
            }
        }
    }

    #[test]
    fn wrong_prefix_and_length() {
        let text = encode("x-", &[1u8; 32]);
        assert_eq!(
            decode::<32>("y-", &text),
            Err(TextError::WrongPrefix { expected: "y-" })
        );
        assert!(matches!(
            decode::<32>("x-", &text[..text.len() - 8]),
            Err(TextError::WrongLength { .. } | TextError::BadTextLength)
        ));
    }
}
