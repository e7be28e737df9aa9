//! The text form of a signed scope record, `tessel-scoperecord-…`: the
//! record's bytes in the checksummed text encoding of [`crate::identity::text`],
//! as `tessel scope create|grant|readcap|…` print it and `tessel scope add`,
//! `register --grant` and `query --cred` take it.

use tessel_actors::scope::record::MAX_RECORD;
use tessel_actors::scope::Record;

use crate::identity::text::{self, TextError};

/// Prefix of a signed scope record's text form.
pub const RECORD_PREFIX: &str = "tessel-scoperecord-";

/// Why a record's text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordTextError {
    /// Not the text form of a record (prefix, alphabet, checksum, length).
    #[error("not a scope record ({0}); records are tessel-scoperecord-…")]
    Text(TextError),
    /// The bytes are not a record.
    #[error("malformed scope record: {0}")]
    Malformed(String),
    /// The record's signature does not verify.
    #[error("the record's signature does not verify (altered or corrupted)")]
    BadSignature,
    /// The record does not encode (a field over its limit).
    #[error("the record does not encode: {0}")]
    Encode(String),
}

/// A record's text form.
///
/// # Errors
/// A record whose fields are over the wire limits does not encode.
pub fn record_text(r: &Record) -> Result<String, RecordTextError> {
    let b = r
        .to_bytes()
        .map_err(|e| RecordTextError::Encode(e.to_string()))?;
    Ok(text::encode(RECORD_PREFIX, &b))
}

/// Parses a record's text form (surrounding white space is ignored) and
/// checks its signature.
///
/// # Errors
/// Bad text, bytes that are no record, or a signature that does not verify.
pub fn parse_record(s: &str) -> Result<Record, RecordTextError> {
    let b = text::decode_vec(RECORD_PREFIX, s.trim(), MAX_RECORD).map_err(RecordTextError::Text)?;
    let r = Record::parse(&b).map_err(|e| RecordTextError::Malformed(e.to_string()))?;
    if !r.verify_signature() {
        return Err(RecordTextError::BadSignature);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use tessel_actors::ids::Time;
    use tessel_actors::scope::{Body, ScopePath};

    fn record() -> Record {
        let key = SigningKey::from_bytes(&[7; 32]);
        let body = Body::ScopeCreate {
            path: ScopePath::parse("/org").unwrap(),
            owner: [9; 32],
            world_readable: true,
            issued: Time(1_000),
        };
        Record::sign(body, &key).unwrap()
    }

    #[test]
    fn text_round_trips_and_damage_is_refused() {
        let r = record();
        let t = record_text(&r).unwrap();
        assert!(t.starts_with(RECORD_PREFIX));
        assert_eq!(parse_record(&format!(" {t}\n")).unwrap(), r);
        assert!(matches!(
            parse_record("tessel-node-abc"),
            Err(RecordTextError::Text(_))
        ));
        // A record whose signature was made over other bytes.
        let mut bad = r.clone();
        bad.sig[0] ^= 1;
        let t = record_text(&bad).unwrap();
        assert_eq!(parse_record(&t), Err(RecordTextError::BadSignature));
    }
}
