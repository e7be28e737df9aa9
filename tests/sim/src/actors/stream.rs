//! A reliable ordered byte stream carried as datagrams that may be lost or
//! reordered: segments with sequence numbers, cumulative acknowledgements,
//! and retransmission of what is unacknowledged after a timeout. Sans-IO.

use std::collections::BTreeMap;

/// Largest segment payload.
pub const SEGMENT: usize = 1200;
/// How long a segment waits for its acknowledgement before it is sent again.
pub const RTO_MS: u64 = 200;

/// The sending half.
#[derive(Debug, Default)]
pub struct Tx {
    next: u64,
    /// Unacknowledged segments: payload and when last sent.
    unacked: BTreeMap<u64, (Vec<u8>, u64)>,
}

impl Tx {
    /// Cuts `bytes` into segments sent at `now`; returns them.
    pub fn write(&mut self, bytes: &[u8], now: u64) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        for chunk in bytes.chunks(SEGMENT) {
            let seq = self.next;
            self.next += 1;
            self.unacked.insert(seq, (chunk.to_vec(), now));
            out.push((seq, chunk.to_vec()));
        }
        out
    }

    /// Every segment below `next` arrived.
    pub fn ack(&mut self, next: u64) {
        self.unacked = self.unacked.split_off(&next);
    }

    /// Segments due for retransmission at `now` (their send time is reset).
    pub fn due(&mut self, now: u64) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        for (&seq, (bytes, sent)) in &mut self.unacked {
            if *sent + RTO_MS <= now {
                *sent = now;
                out.push((seq, bytes.clone()));
            }
        }
        out
    }

    /// Whether anything waits for an acknowledgement.
    pub fn idle(&self) -> bool {
        self.unacked.is_empty()
    }
}

/// The receiving half.
#[derive(Debug, Default)]
pub struct Rx {
    next: u64,
    early: BTreeMap<u64, Vec<u8>>,
}

impl Rx {
    /// Takes a segment; returns the bytes now in order, and the cumulative
    /// acknowledgement to send back.
    pub fn segment(&mut self, seq: u64, bytes: Vec<u8>) -> (Vec<u8>, u64) {
        if seq >= self.next {
            self.early.insert(seq, bytes);
        }
        let mut ready = Vec::new();
        while let Some(b) = self.early.remove(&self.next) {
            ready.extend_from_slice(&b);
            self.next += 1;
        }
        (ready, self.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorders_drops_duplicates_and_retransmits() {
        let mut tx = Tx::default();
        let mut rx = Rx::default();
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let segs = tx.write(&data, 0);
        assert_eq!(segs.len(), 5);
        // Deliver 4, 2, 0 (1 and 3 lost), and 0 again.
        let mut got = Vec::new();
        for i in [4, 2, 0, 0] {
            let (b, _) = rx.segment(segs[i].0, segs[i].1.clone());
            got.extend(b);
        }
        assert_eq!(got, data[..SEGMENT]);
        tx.ack(1);
        assert!(tx.due(RTO_MS - 1).is_empty());
        let again = tx.due(RTO_MS);
        assert_eq!(
            again.iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        for (seq, b) in again {
            let (b, ack) = rx.segment(seq, b);
            got.extend(b);
            tx.ack(ack);
        }
        assert_eq!(got, data);
        assert!(tx.idle());
    }
}
