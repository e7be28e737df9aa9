//! Network membership: the network key is the secret that admits members.
//! From it derive a public network ID (safe to print), the Noise PSK, the key
//! of the MACs that make members invisible to outsiders, and the address
//! prefix.

use std::fmt;

use zeroize::Zeroizing;

use super::text::{self, TextError};

const NETWORK_KEY_PREFIX: &str = "tessel-net-";
const NETWORK_ID_PREFIX: &str = "tessel-netid-";

/// The secret that admits members to one network.
#[derive(Clone)]
pub struct NetworkKey {
    secret: Zeroizing<[u8; 32]>,
}

/// The public name of a network: a hash of its key, safe to print.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkId([u8; 32]);

impl NetworkKey {
    /// Builds a key from 32 secret bytes.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        Self {
            secret: Zeroizing::new(secret),
        }
    }

    /// Parses the text form printed by `tessel network new`.
    ///
    /// # Errors
    /// Returns an error if the text is malformed or its checksum fails.
    pub fn parse(s: &str) -> Result<Self, TextError> {
        Ok(Self::from_secret(text::decode::<32>(
            NETWORK_KEY_PREFIX,
            s,
        )?))
    }

    /// The text form: `tessel-net-` + base32(secret ‖ checksum).
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(text::encode(NETWORK_KEY_PREFIX, &self.secret[..]))
    }

    fn derive(&self, context: &str) -> [u8; 32] {
        blake3::derive_key(context, &self.secret[..])
    }

    /// The public network ID.
    pub fn id(&self) -> NetworkId {
        NetworkId(self.derive("tessel 2026 network id"))
    }

    /// The Noise pre-shared key mixed into every handshake.
    pub fn noise_psk(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.derive("tessel 2026 noise psk"))
    }

    /// The key of the MACs on unencrypted messages (hello, handshakes).
    pub fn mac_key(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.derive("tessel 2026 mac key"))
    }

    /// The secret of the STUN short-term credentials between members
    /// (MESSAGE-INTEGRITY on Binding requests and responses).
    pub fn stun_secret(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.derive("tessel 2026 stun key"))
    }
}

impl fmt::Debug for NetworkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetworkKey({})", self.id())
    }
}

impl NetworkId {
    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for NetworkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // 16 bytes are plenty to tell networks apart when printed.
        f.write_str(&text::encode(NETWORK_ID_PREFIX, &self.0[..16]))
    }
}

impl fmt::Debug for NetworkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetworkId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_and_derivations_differ() {
        let k = NetworkKey::from_secret([9; 32]);
        let back = NetworkKey::parse(&k.to_text()).unwrap();
        assert_eq!(back.id(), k.id());
        assert_ne!(*k.noise_psk(), *k.mac_key());
        assert_ne!(*k.stun_secret(), *k.mac_key());
        assert_ne!(k.id().0, *k.noise_psk());
        assert_ne!(NetworkKey::from_secret([8; 32]).id(), k.id());
    }

    #[test]
    fn node_key_text_is_not_a_network_key() {
        let node = super::super::NodeKey::from_seed([1; 32]);
        assert!(NetworkKey::parse(&node.to_text()).is_err());
    }
}
