//! Packets on an intertile TCP stream: each is a big-endian `u16` length and
//! that many bytes. A length of 0 is a keepalive, sent when the link has
//! been idle for [`KEEPALIVE`]; a length above 255 means the stream is
//! corrupt and is closed.

use std::io;
use std::time::Duration;

use tessel_tile_link::wire::MAX_PACKET_LEN;
use tokio::io::{AsyncRead, AsyncReadExt};

/// A link that has been idle this long sends a keepalive.
pub(super) const KEEPALIVE: Duration = Duration::from_secs(1);

/// A link that has received nothing (not even a keepalive) for this long is
/// down: the neighbour died or its overlay path broke.
pub(super) const LINK_TIMEOUT: Duration = Duration::from_secs(4);

/// The keepalive frame.
pub(super) const KEEPALIVE_FRAME: [u8; 2] = [0, 0];

/// Appends `packet` with its length prefix to `out`.
pub(super) fn encode(packet: &[u8], out: &mut Vec<u8>) {
    // Packets are at most 255 bytes (the tile checked them).
    out.extend_from_slice(&(packet.len() as u16).to_be_bytes());
    out.extend_from_slice(packet);
}

/// Reads the next frame: `Ok(None)` for a keepalive, `Ok(Some(packet))`
/// for a packet.
///
/// # Errors
/// End of stream, an I/O error, or a length above 255 (`InvalidData`).
pub(super) async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    r.read_exact(&mut len).await?;
    let len = usize::from(u16::from_be_bytes(len));
    if len == 0 {
        return Ok(None);
    }
    if len > MAX_PACKET_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("intertile frame of {len} bytes (at most {MAX_PACKET_LEN})"),
        ));
    }
    let mut packet = vec![0u8; len];
    r.read_exact(&mut packet).await?;
    Ok(Some(packet))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_bad_lengths_fail() {
        let mut bytes = Vec::new();
        encode(&[0xa2, 1, 2], &mut bytes);
        bytes.extend_from_slice(&KEEPALIVE_FRAME);
        encode(&[0xc0], &mut bytes);
        bytes.extend_from_slice(&[1, 0]);
        let mut r = &bytes[..];
        assert_eq!(read_frame(&mut r).await.unwrap(), Some(vec![0xa2, 1, 2]));
        assert_eq!(read_frame(&mut r).await.unwrap(), None);
        assert_eq!(read_frame(&mut r).await.unwrap(), Some(vec![0xc0]));
        let e = read_frame(&mut r).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let mut short = &[0u8, 3, 1][..];
        assert!(read_frame(&mut short).await.is_err());
    }
}
