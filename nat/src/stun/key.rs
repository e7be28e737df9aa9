//! Short-term credentials (RFC 8489 §9.1) made from a 32-byte secret.
//!
//! Tessel members share a secret derived from the network key; outsiders
//! do not have it. From the secret `s`:
//!
//! - **password** (the HMAC key of MESSAGE-INTEGRITY and
//!   MESSAGE-INTEGRITY-SHA256): the 64 lowercase hex digits of
//!   `BLAKE3-derive("tessel 2026 stun password", s)`, as ASCII;
//! - **USERNAME**: `tessel-` followed by the first 16 hex digits of
//!   `BLAKE3-derive("tessel 2026 stun username", s)`. It names the key
//!   without revealing it, so a node tells a request keyed for another
//!   network from a forged one before computing any HMAC, and it is the same
//!   for every member, so it says nothing about which member asks.

use std::fmt;
use zeroize::Zeroizing;

use stun_rs::HMACKey;

/// Context string of the password derivation.
const PASSWORD_CONTEXT: &str = "tessel 2026 stun password";
/// Context string of the USERNAME derivation.
const USERNAME_CONTEXT: &str = "tessel 2026 stun username";
/// USERNAME prefix.
const USERNAME_PREFIX: &str = "tessel-";

/// The credentials of one network: the HMAC key and the USERNAME.
#[derive(Clone)]
pub struct IntegrityKey {
    hmac: HMACKey,
    username: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl IntegrityKey {
    /// The credentials made from `secret` (see the module documentation).
    pub fn new(secret: &[u8; 32]) -> Self {
        // Wiped once the HMAC key is made (stun-rs keeps its own copy in it).
        let password = Zeroizing::new(hex(&*Zeroizing::new(blake3::derive_key(
            PASSWORD_CONTEXT,
            secret,
        ))));
        let username = format!(
            "{USERNAME_PREFIX}{}",
            hex(&blake3::derive_key(USERNAME_CONTEXT, secret)[..8])
        );
        // Hex digits are always a valid OpaqueString.
        let hmac = HMACKey::new_short_term(&password).expect("hex is a valid password");
        Self { hmac, username }
    }

    /// The USERNAME sent with requests.
    pub fn username(&self) -> &str {
        &self.username
    }

    pub(super) fn hmac(&self) -> &HMACKey {
        &self.hmac
    }
}

impl fmt::Debug for IntegrityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IntegrityKey({})", self.username)
    }
}
