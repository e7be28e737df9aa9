//! Network membership: the network key is the secret that admits members.
//! From it derive a public network ID (safe to print), the Noise PSK, the key
//! of the MACs that make members invisible to outsiders, and the address
//! prefix.
//!
//! A key made by `tessel network new` is epoch 0, and its network ID is a
//! hash of its secret. `tessel network rotate` makes the next key of the same
//! network ([`NetworkKey::rotated`]): a new secret, the same network ID (so
//! addresses do not move) and the next epoch. Its text form carries the ID
//! and the epoch too, so a new member given it joins the same network.

use std::fmt;

use zeroize::Zeroizing;

use super::text::{self, TextError};

const NETWORK_KEY_PREFIX: &str = "tessel-net-";
const NETWORK_ID_PREFIX: &str = "tessel-netid-";

/// Bytes of a rotated key's text payload: secret, network ID, epoch.
const ROTATED_LEN: usize = 32 + 32 + 4;

/// The secret that admits members to one network.
#[derive(Clone)]
pub struct NetworkKey {
    secret: Zeroizing<[u8; 32]>,
    id: NetworkId,
    epoch: u32,
}

/// The public name of a network: a hash of its key, safe to print.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkId([u8; 32]);

impl NetworkKey {
    /// Builds a key from 32 secret bytes.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let id = NetworkId(blake3::derive_key("tessel 2026 network id", &secret));
        Self {
            secret: Zeroizing::new(secret),
            id,
            epoch: 0,
        }
    }

    /// A key of network `id` at `epoch`, as a key update or a rotated key's
    /// text carries it; `None` for epoch 0 under another ID than the
    /// secret's own (epoch 0 is the key the network was made with).
    pub fn from_parts(secret: [u8; 32], id: [u8; 32], epoch: u32) -> Option<Self> {
        let key = Self {
            secret: Zeroizing::new(secret),
            id: NetworkId(id),
            epoch,
        };
        (epoch > 0 || Self::from_secret(secret).id == key.id).then_some(key)
    }

    /// The next key of this network: `new_secret`, the same network ID,
    /// the next epoch.
    pub fn rotated(&self, new_secret: [u8; 32]) -> Self {
        Self {
            secret: Zeroizing::new(new_secret),
            id: self.id,
            epoch: self.epoch.wrapping_add(1).max(1),
        }
    }

    /// Parses the text form printed by `tessel network new` or
    /// `tessel network rotate`.
    ///
    /// # Errors
    /// Returns an error if the text is malformed or its checksum fails.
    pub fn parse(s: &str) -> Result<Self, TextError> {
        let raw = Zeroizing::new(text::decode_vec(NETWORK_KEY_PREFIX, s, ROTATED_LEN)?);
        let mut secret = Zeroizing::new([0u8; 32]);
        match raw.len() {
            32 => {
                secret.copy_from_slice(&raw);
                Ok(Self::from_secret(*secret))
            }
            ROTATED_LEN => {
                secret.copy_from_slice(&raw[..32]);
                let mut id = [0u8; 32];
                id.copy_from_slice(&raw[32..64]);
                let epoch = u32::from_be_bytes([raw[64], raw[65], raw[66], raw[67]]);
                // A rotated text of epoch 0 is no key anyone made.
                Self::from_parts(*secret, id, epoch)
                    .filter(|k| k.epoch > 0)
                    .ok_or(TextError::WrongLength {
                        expected: 32,
                        found: ROTATED_LEN,
                    })
            }
            found => Err(TextError::WrongLength {
                expected: 32,
                found,
            }),
        }
    }

    /// The text form: `tessel-net-` + base32(secret ‖ checksum) for the key
    /// a network was made with (epoch 0); base32(secret ‖ network ID ‖
    /// epoch u32be ‖ checksum) for a rotated one.
    pub fn to_text(&self) -> Zeroizing<String> {
        if self.epoch == 0 {
            return Zeroizing::new(text::encode(NETWORK_KEY_PREFIX, &self.secret[..]));
        }
        let mut raw = Zeroizing::new(Vec::with_capacity(ROTATED_LEN));
        raw.extend_from_slice(&self.secret[..]);
        raw.extend_from_slice(&self.id.0);
        raw.extend_from_slice(&self.epoch.to_be_bytes());
        Zeroizing::new(text::encode(NETWORK_KEY_PREFIX, &raw))
    }

    /// The secret bytes (to carry the key to members inside a session).
    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// The rotation this key belongs to: 0 for the key the network was
    /// made with, one more with each rotation.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Whether this key replaces `other`: the same network, and a later
    /// epoch, or the same epoch and a higher [order](Self::order) (two
    /// members who rotated at once end on the same key).
    pub fn supersedes(&self, other: &Self) -> bool {
        self.id == other.id && (self.epoch, self.order()) > (other.epoch, other.order())
    }

    /// A public value bound to this key (its secret, network and epoch)
    /// that the network owner signs to allow a rotation to it (managed
    /// mode, see [`super::SignedRotation`]); it reveals nothing of the
    /// secret.
    pub fn commitment(&self) -> [u8; 32] {
        self.derive("tessel 2026 rotation commitment")
    }

    /// A public value that orders two keys of the same epoch.
    pub fn order(&self) -> [u8; 32] {
        self.derive("tessel 2026 rotation order")
    }

    fn derive(&self, context: &str) -> [u8; 32] {
        if self.epoch == 0 {
            return blake3::derive_key(context, &self.secret[..]);
        }
        // A rotated key binds its network and epoch into every derivation.
        let mut h = blake3::Hasher::new_derive_key(context);
        h.update(&self.secret[..]);
        h.update(&self.id.0);
        h.update(&self.epoch.to_be_bytes());
        *h.finalize().as_bytes()
    }

    /// The public network ID (the same for every epoch).
    pub fn id(&self) -> NetworkId {
        self.id
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
        write!(f, "NetworkKey({}, epoch {})", self.id(), self.epoch)
    }
}

impl NetworkId {
    /// The ID with these bytes (as a key update carries it).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

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
    fn epoch_zero_keeps_its_derivations_and_text() {
        let k = NetworkKey::from_secret([9; 32]);
        assert_eq!(k.epoch(), 0);
        assert_eq!(
            k.id().0,
            blake3::derive_key("tessel 2026 network id", &[9; 32])
        );
        assert_eq!(
            *k.noise_psk(),
            blake3::derive_key("tessel 2026 noise psk", &[9; 32])
        );
        // The old text form: 36 bytes of payload and checksum.
        assert_eq!(k.to_text().len(), "tessel-net-".len() + 58);
    }

    #[test]
    fn rotated_key_keeps_the_id_and_round_trips() {
        let k = NetworkKey::from_secret([9; 32]);
        let r = k.rotated([5; 32]);
        assert_eq!((r.id(), r.epoch()), (k.id(), 1));
        // Unlike a fresh key of the same secret.
        let fresh = NetworkKey::from_secret([5; 32]);
        assert_ne!(fresh.id(), r.id());
        assert_ne!(*fresh.mac_key(), *r.mac_key());
        assert_ne!(*k.mac_key(), *r.mac_key());
        let back = NetworkKey::parse(&r.to_text()).unwrap();
        assert_eq!((back.id(), back.epoch()), (r.id(), 1));
        assert_eq!(*back.noise_psk(), *r.noise_psk());
        assert_eq!(*back.stun_secret(), *r.stun_secret());
        let r2 = r.rotated([6; 32]);
        assert_eq!((r2.id(), r2.epoch()), (k.id(), 2));
        assert!(r2.supersedes(&r) && r.supersedes(&k) && r2.supersedes(&k));
        assert!(!k.supersedes(&r) && !r.supersedes(&r));
        // Another network's key supersedes nothing of ours.
        assert!(!NetworkKey::from_secret([1; 32])
            .rotated([2; 32])
            .supersedes(&k));
    }

    #[test]
    fn concurrent_rotations_are_ordered_the_same_way_everywhere() {
        let k = NetworkKey::from_secret([9; 32]);
        let (a, b) = (k.rotated([1; 32]), k.rotated([2; 32]));
        assert_ne!(a.supersedes(&b), b.supersedes(&a));
    }

    #[test]
    fn malformed_rotated_texts_are_refused() {
        let k = NetworkKey::from_secret([9; 32]);
        // Epoch 0 in the rotated form names no key anyone made.
        let mut raw = vec![5u8; 32];
        raw.extend_from_slice(k.id().as_bytes());
        raw.extend_from_slice(&0u32.to_be_bytes());
        assert!(NetworkKey::parse(&text::encode(NETWORK_KEY_PREFIX, &raw)).is_err());
        // Other lengths.
        assert!(NetworkKey::parse(&text::encode(NETWORK_KEY_PREFIX, &[1; 40])).is_err());
        assert!(NetworkKey::parse(&text::encode(NETWORK_KEY_PREFIX, &[1; 69])).is_err());
        assert!(NetworkKey::from_parts([5; 32], *k.id().as_bytes(), 0).is_none());
        assert!(NetworkKey::from_parts([9; 32], *k.id().as_bytes(), 0).is_some());
    }

    #[test]
    fn node_key_text_is_not_a_network_key() {
        let node = super::super::NodeKey::from_seed([1; 32]);
        assert!(NetworkKey::parse(&node.to_text()).is_err());
    }
}
