//! Datagrams for the main UDP socket, gathered into runs that one GSO send
//! carries: consecutive datagrams to one address, all of one size but the
//! last, which may be shorter. Order is kept: a datagram that does not fit
//! the run ends it, and the run is sent before it.

use std::net::SocketAddr;

/// Most datagrams in one run (the kernel's `UDP_MAX_SEGMENTS` is 64 on
/// older kernels).
pub(crate) const MAX_SEGMENTS: usize = 64;
/// Most bytes in one run: what one UDP send can carry, with room for the
/// headers.
pub(crate) const MAX_BYTES: usize = 65_000;

/// One run of datagrams waiting to be sent.
#[derive(Debug, Default)]
pub(crate) struct SendBatch {
    buf: Vec<u8>,
    to: Option<SocketAddr>,
    segment: usize,
    count: usize,
    /// A shorter datagram ended the run.
    closed: bool,
}

impl SendBatch {
    /// Whether `len` bytes to `to` can join the run (always, if it is
    /// empty). `limit` caps the datagrams of a run (1 without GSO).
    pub(crate) fn fits(&self, to: SocketAddr, len: usize, limit: usize) -> bool {
        self.count == 0
            || (self.to == Some(to)
                && !self.closed
                && len <= self.segment
                && len > 0
                && self.count < limit.min(MAX_SEGMENTS)
                && self.buf.len() + len <= MAX_BYTES)
    }

    /// Adds a datagram; the caller checked [`Self::fits`].
    pub(crate) fn push(&mut self, to: SocketAddr, datagram: &[u8]) {
        if self.count == 0 {
            self.buf.clear();
            self.to = Some(to);
            self.segment = datagram.len();
            self.closed = false;
        } else if datagram.len() < self.segment {
            self.closed = true;
        }
        self.buf.extend_from_slice(datagram);
        self.count += 1;
    }

    /// The run, if there is one: its bytes, address and segment size; the
    /// batch is empty after.
    pub(crate) fn take(&mut self) -> Option<(&[u8], SocketAddr, usize)> {
        if self.count == 0 {
            return None;
        }
        self.count = 0;
        Some((&self.buf, self.to?, self.segment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    /// Sends every datagram through a batch as the driver does, and returns
    /// the runs as (address, segment, datagrams).
    fn runs(datagrams: &[(u16, Vec<u8>)], limit: usize) -> Vec<(SocketAddr, usize, Vec<Vec<u8>>)> {
        let mut batch = SendBatch::default();
        let mut out = Vec::new();
        let flush = |b: &mut SendBatch, out: &mut Vec<_>| {
            if let Some((bytes, to, seg)) = b.take() {
                out.push((to, seg, bytes.chunks(seg).map(<[u8]>::to_vec).collect()));
            }
        };
        for (port, d) in datagrams {
            if !batch.fits(addr(*port), d.len(), limit) {
                flush(&mut batch, &mut out);
            }
            batch.push(addr(*port), d);
        }
        flush(&mut batch, &mut out);
        out
    }

    #[test]
    fn equal_datagrams_to_one_address_make_one_run_and_a_short_one_ends_it() {
        let d = |n: usize, b: u8| vec![b; n];
        let got = runs(
            &[
                (1, d(100, 1)),
                (1, d(100, 2)),
                (1, d(40, 3)),
                (1, d(100, 4)),
            ],
            MAX_SEGMENTS,
        );
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].2, vec![d(100, 1), d(100, 2), d(40, 3)]);
        assert_eq!(got[1].2, vec![d(100, 4)]);
    }

    #[test]
    fn another_address_or_a_longer_datagram_starts_a_new_run_in_order() {
        let d = |n: usize, b: u8| vec![b; n];
        let input = [(1, d(50, 1)), (2, d(50, 2)), (2, d(60, 3)), (2, d(60, 4))];
        let got = runs(&input, MAX_SEGMENTS);
        let flat: Vec<(u16, Vec<u8>)> = got
            .iter()
            .flat_map(|(to, _, ds)| ds.iter().map(move |d| (to.port(), d.clone())))
            .collect();
        assert_eq!(flat, input.to_vec(), "order and contents kept");
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn runs_stop_at_the_segment_and_byte_limits() {
        let many: Vec<(u16, Vec<u8>)> = (0..200).map(|i| (1, vec![i as u8; 1500])).collect();
        let got = runs(&many, MAX_SEGMENTS);
        assert!(got.iter().all(|r| r.2.len() * 1500 <= MAX_BYTES));
        assert_eq!(got.iter().map(|r| r.2.len()).sum::<usize>(), 200);
        let small: Vec<(u16, Vec<u8>)> = (0..200).map(|i| (1, vec![i as u8; 10])).collect();
        assert!(runs(&small, MAX_SEGMENTS)
            .iter()
            .all(|r| r.2.len() <= MAX_SEGMENTS));
        assert!(
            runs(&small, 1).iter().all(|r| r.2.len() == 1),
            "no GSO: one per run"
        );
    }
}
