//! Owner handovers (managed mode): the network owner retires its key by
//! signing, with it, that a new owner key takes over, and until when
//! certificates it signed still count. The format is in
//! [`crate::wire::owner_handover`]; the text form is `tessel-handover-…`.

use std::fmt;

use super::membership::{sign, verify, MembershipError};
use super::text;
use super::{NetworkId, OwnerId, OwnerKey};
use crate::wire::owner_handover::{self, Fields, Packet};

const PREFIX: &str = "tessel-handover-";

/// A handover whose format was checked (see [`OwnerHandover::verify`]).
#[derive(Clone, PartialEq, Eq)]
pub struct OwnerHandover {
    bytes: Vec<u8>,
}

impl OwnerHandover {
    /// `old` hands `network` over to `new`; certificates `old` signed
    /// count until `grace_end_s` (Unix seconds).
    pub fn sign(old: &OwnerKey, network: &NetworkId, new: &OwnerId, grace_end_s: u64) -> Self {
        let fields = Fields {
            network_id: *network.as_bytes(),
            old_owner: *old.id().as_bytes(),
            new_owner: *new.as_bytes(),
            grace_end: grace_end_s,
        };
        let mut bytes = crate::wire::to_vec(|o| fields.emit_signed_part(o));
        sign(old, owner_handover::SIGNING_CONTEXT, &mut bytes);
        Self { bytes }
    }

    /// Checks the format of handover bytes.
    ///
    /// # Errors
    /// [`MembershipError::Malformed`].
    pub fn parse(bytes: &[u8]) -> Result<Self, MembershipError> {
        Packet::new_checked(bytes)?;
        Ok(Self {
            bytes: bytes.to_vec(),
        })
    }

    fn fields(&self) -> Fields {
        Packet::new_checked(&self.bytes[..])
            .expect("checked when made")
            .fields()
    }

    /// Checks that the old owner it names signed it, for `network`, and
    /// that it names another key to take over.
    ///
    /// # Errors
    /// [`MembershipError::BadSignature`] or [`MembershipError::OtherNetwork`].
    pub fn verify(&self, network: &NetworkId) -> Result<(), MembershipError> {
        let p = Packet::new_checked(&self.bytes[..]).expect("checked when made");
        let f = p.fields();
        if f.old_owner == f.new_owner {
            return Err(MembershipError::BadSignature);
        }
        let Ok(old) = OwnerId::from_bytes(f.old_owner) else {
            return Err(MembershipError::BadSignature);
        };
        if !verify(
            &old,
            owner_handover::SIGNING_CONTEXT,
            p.signed_part(),
            &p.signature(),
        ) {
            return Err(MembershipError::BadSignature);
        }
        if f.network_id != *network.as_bytes() {
            return Err(MembershipError::OtherNetwork);
        }
        Ok(())
    }

    /// The owner key that hands over, as written (checked by `verify`).
    pub fn old_owner(&self) -> [u8; 32] {
        self.fields().old_owner
    }

    /// The owner key that takes over, as written.
    pub fn new_owner(&self) -> [u8; 32] {
        self.fields().new_owner
    }

    /// Until when (Unix seconds) certificates of the old owner count.
    pub fn grace_end_s(&self) -> u64 {
        self.fields().grace_end
    }

    /// The handover's bytes (the inner message that spreads it).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The text form (`tessel-handover-…`).
    pub fn to_text(&self) -> String {
        text::encode(PREFIX, &self.bytes)
    }

    /// Parses the text form.
    ///
    /// # Errors
    /// Damaged text or a malformed handover.
    pub fn from_text(s: &str) -> Result<Self, MembershipError> {
        Self::parse(&text::decode_vec(PREFIX, s, owner_handover::LEN)?)
    }
}

impl fmt::Debug for OwnerHandover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OwnerHandover(grace until {})", self.grace_end_s())
    }
}

/// The owner in force after the handovers of `chain` that apply, in
/// order, to `owner` in `network`: the new owner, and the previous one
/// with the end of its grace (`None` without a handover that applies).
/// Handovers that do not verify or do not start from the owner in force
/// are left out; the ones that apply are returned.
pub fn follow(
    owner: OwnerId,
    network: &NetworkId,
    chain: &[OwnerHandover],
) -> (OwnerId, Option<(OwnerId, u64)>, Vec<OwnerHandover>) {
    let mut current = owner;
    let mut previous = None;
    let mut taken = Vec::new();
    for h in chain {
        if h.old_owner() != *current.as_bytes() || h.verify(network).is_err() {
            continue;
        }
        let Ok(new) = OwnerId::from_bytes(h.new_owner()) else {
            continue;
        };
        previous = Some((current, h.grace_end_s()));
        current = new;
        taken.push(h.clone());
    }
    (current, previous, taken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::NetworkKey;

    #[test]
    fn a_handover_verifies_round_trips_and_every_bit_flip_is_refused() {
        let old = OwnerKey::from_seed([1; 32]);
        let new = OwnerKey::from_seed([2; 32]).id();
        let net = NetworkKey::from_secret([3; 32]).id();
        let h = OwnerHandover::sign(&old, &net, &new, 1_900_000_000);
        assert_eq!(h.verify(&net), Ok(()));
        assert_eq!(h.old_owner(), *old.id().as_bytes());
        assert_eq!(h.new_owner(), *new.as_bytes());
        assert_eq!(h.grace_end_s(), 1_900_000_000);
        assert_eq!(OwnerHandover::from_text(&h.to_text()).unwrap(), h);
        let other_net = NetworkKey::from_secret([9; 32]).id();
        assert_eq!(h.verify(&other_net), Err(MembershipError::OtherNetwork));
        for i in 0..h.as_bytes().len() * 8 {
            let mut b = h.as_bytes().to_vec();
            b[i / 8] ^= 1 << (i % 8);
            if let Ok(x) = OwnerHandover::parse(&b) {
                assert!(x.verify(&net).is_err(), "bit {i}");
            }
        }
    }

    #[test]
    fn follow_takes_a_chain_from_the_owner_and_skips_the_rest() {
        let a = OwnerKey::from_seed([1; 32]);
        let b = OwnerKey::from_seed([2; 32]);
        let c = OwnerKey::from_seed([4; 32]).id();
        let net = NetworkKey::from_secret([3; 32]).id();
        let ab = OwnerHandover::sign(&a, &net, &b.id(), 10);
        let bc = OwnerHandover::sign(&b, &net, &c, 20);
        let (owner, previous, taken) = follow(a.id(), &net, &[ab.clone(), bc.clone()]);
        assert_eq!((owner, previous), (c, Some((b.id(), 20))));
        assert_eq!(taken, vec![ab.clone(), bc.clone()]);
        // Out of order, only the one that starts from the owner applies.
        let (owner, _, taken) = follow(a.id(), &net, &[bc, ab.clone()]);
        assert_eq!((owner, taken), (b.id(), vec![ab]));
        // A handover signed by a key that is not the owner's does nothing.
        let forged = OwnerHandover::sign(&b, &net, &c, 20);
        let (owner, previous, _) = follow(a.id(), &net, &[forged]);
        assert_eq!((owner, previous), (a.id(), None));
    }
}
