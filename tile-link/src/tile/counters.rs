//! Per-direction counters of the neighbour model.

/// What happened on one direction's link. Every packet that is not passed
/// on is counted in exactly one of the `rx_*` drop counters or in
/// `tx_refused`/`tx_flushed`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Times the neighbour became present.
    pub connects: u64,
    /// Times the neighbour went away.
    pub disconnects: u64,
    /// Packets handed to the link.
    pub tx_packets: u64,
    /// Bytes handed to the link.
    pub tx_bytes: u64,
    /// Sends refused (no credit, absent, invalid, queue full).
    pub tx_refused: u64,
    /// Queued packets discarded because the neighbour went away (the
    /// sender sees the disconnect TEP or presence change).
    pub tx_flushed: u64,
    /// Packets received from the link, before any check.
    pub rx_packets: u64,
    /// Bytes received from the link, before any check.
    pub rx_bytes: u64,
    /// MFM packets (MFMT=1) passed to the MFM channel.
    pub rx_mfm: u64,
    /// Service packets passed to their bound service.
    pub rx_service: u64,
    /// Standard local packets passed to the MFM channel, by type.
    pub rx_local: [u64; 32],
    /// Dropped: empty, too long, not standard, reserved bits, null service.
    pub rx_malformed: u64,
    /// Dropped: OVRN or EROR set by the sender (only a link sets them).
    pub rx_flags_set: u64,
    /// Dropped: Tile Event Packets arriving over the link.
    pub rx_tep: u64,
    /// Of `rx_tep`, those whose event was illegal (0x00) or reserved.
    pub rx_tep_bad_event: u64,
    /// Dropped: service packets for a service nobody bound.
    pub rx_unbound: u64,
    /// Dropped: MFM or local packets while no MFM channel is open.
    pub rx_no_mfm: u64,
    /// Dropped: packets reported while the neighbour was absent.
    pub rx_absent: u64,
    /// Overruns the host reported (it could not take a packet in).
    pub rx_overruns: u64,
}

impl Counters {
    /// All packets received and dropped, whatever the reason.
    pub fn rx_dropped(&self) -> u64 {
        self.rx_malformed
            + self.rx_flags_set
            + self.rx_tep
            + self.rx_unbound
            + self.rx_no_mfm
            + self.rx_absent
    }
}
