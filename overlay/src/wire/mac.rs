//! The MAC on unencrypted messages: the first 16 bytes of keyed BLAKE3 over
//! everything before it. Its key derives from the network key and, where the
//! recipient is known, the recipient's node ID, so non-members can neither
//! produce nor verify it and a message cannot be reflected to another member.

/// Bytes of every MAC.
pub const MAC_LEN: usize = 16;

/// A MAC key.
#[derive(Clone)]
pub struct MacKey([u8; 32]);

impl MacKey {
    /// The key for messages to any member (the recipient is not known yet).
    pub fn for_any(network_mac_key: &[u8; 32]) -> Self {
        Self(*network_mac_key)
    }

    /// The key for messages to the member `recipient` (a node ID's bytes).
    pub fn for_recipient(network_mac_key: &[u8; 32], recipient: &[u8; 32]) -> Self {
        Self(*blake3::keyed_hash(network_mac_key, recipient).as_bytes())
    }

    /// The key of tags that only the two ends of one pair of members can
    /// make: this key (for messages to the recipient) bound to `shared`,
    /// the X25519 of the two members' static keys.
    pub fn for_pair(&self, shared: &[u8; 32]) -> Self {
        let mut h = blake3::Hasher::new_keyed(&self.0);
        h.update(b"tessel pair tag v1");
        h.update(shared);
        Self(*h.finalize().as_bytes())
    }

    /// Computes the MAC of `msg`.
    pub fn compute(&self, msg: &[u8]) -> [u8; MAC_LEN] {
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&blake3::keyed_hash(&self.0, msg).as_bytes()[..MAC_LEN]);
        out
    }

    /// Checks, in constant time, that the last `MAC_LEN` bytes of `datagram`
    /// are the MAC of the bytes before them.
    pub fn verify(&self, datagram: &[u8]) -> bool {
        if datagram.len() < MAC_LEN {
            return false;
        }
        let (body, mac) = datagram.split_at(datagram.len() - MAC_LEN);
        let expected = self.compute(body);
        // Fuzzing cannot guess MACs; let it past to reach the code behind.
        cfg!(fuzzing) || constant_time_eq(&expected, mac)
    }

    /// Writes the MAC of everything before the last `MAC_LEN` bytes into them.
    pub fn seal(&self, datagram: &mut [u8]) {
        let split = datagram.len() - MAC_LEN;
        let mac = self.compute(&datagram[..split]);
        datagram[split..].copy_from_slice(&mac);
    }
}

impl Drop for MacKey {
    fn drop(&mut self) {
        // Derived from the network key: as secret as it.
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Whether `a` and `b` are equal, in time that does not depend on where they
/// differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_verify_and_tamper() {
        let k = MacKey::for_recipient(&[1; 32], &[2; 32]);
        let mut m = vec![7u8; 40];
        k.seal(&mut m);
        assert!(k.verify(&m));
        m[3] ^= 1;
        assert!(!k.verify(&m));
        assert!(!MacKey::for_any(&[1; 32]).verify(&m));
        assert!(!k.verify(&m[..5]));
    }

    #[test]
    fn pair_keys_differ_by_secret_and_by_recipient() {
        let to_b = MacKey::for_recipient(&[1; 32], &[2; 32]);
        let to_c = MacKey::for_recipient(&[1; 32], &[3; 32]);
        let m = [9u8; 40];
        let tag = to_b.for_pair(&[5; 32]).compute(&m);
        assert_eq!(tag, to_b.for_pair(&[5; 32]).compute(&m));
        assert_ne!(tag, to_b.for_pair(&[6; 32]).compute(&m));
        assert_ne!(tag, to_c.for_pair(&[5; 32]).compute(&m));
    }
}
