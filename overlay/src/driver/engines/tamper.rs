//! Test only (`test-hooks`): spoils the next message frame this node
//! writes on an engine stream, to show that the receiver drops and counts
//! it. Set with the control command `engine_tamper` (mode `forge`, `alter` or `replay`).

/// How to spoil the next message frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tamper {
    /// Put another engine's address in `src`.
    Forge,
    /// Flip a byte of the body (before the MAC).
    Alter,
    /// Send the frame twice.
    Replay,
}

/// Frame type of a message (docs/actors.md, "Frame formats").
const MESSAGE: u8 = 4;
/// `src[32] ‖ dst[32] ‖ epoch u64 ‖ seq u64` after the type byte.
const MESSAGE_HEADER: usize = 80;
/// The MAC at the end of a message.
const MAC: usize = 32;

impl Tamper {
    /// Parses `forge`, `alter` or `replay`.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "forge" => Some(Self::Forge),
            "alter" => Some(Self::Alter),
            "replay" => Some(Self::Replay),
            _ => None,
        }
    }

    /// Spoils the last message frame in `bytes`; if there is none, puts
    /// itself back in `slot` for the next write.
    pub(crate) fn apply(self, mut bytes: Vec<u8>, slot: &mut Option<Self>) -> Vec<u8> {
        let mut at = 0;
        let mut last = None;
        while at + 5 <= bytes.len() {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
            let end = at + 4 + len;
            if end > bytes.len() {
                break;
            }
            if bytes[at + 4] == MESSAGE && len > 1 + MESSAGE_HEADER + MAC {
                last = Some((at, end));
            }
            at = end;
        }
        let Some((start, end)) = last else {
            *slot = Some(self);
            return bytes;
        };
        match self {
            Self::Forge => bytes[start + 5] ^= 0x55,
            Self::Alter => bytes[start + 5 + MESSAGE_HEADER] ^= 0x01,
            Self::Replay => {
                let copy = bytes[start..end].to_vec();
                bytes.extend_from_slice(&copy);
            }
        }
        tracing::info!(tamper = ?self, "spoiled an engine message frame");
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame: `len u32 LE ‖ type ‖ body`.
    fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut f = ((body.len() + 1) as u32).to_le_bytes().to_vec();
        f.push(kind);
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn spoils_only_the_last_message_frame() {
        let learn = frame(1, &[9; 200]);
        let message = frame(MESSAGE, &[3; MESSAGE_HEADER + 5 + MAC]);
        let mut bytes = learn.clone();
        bytes.extend_from_slice(&message);
        let mut slot = None;

        let forged = Tamper::Forge.apply(bytes.clone(), &mut slot);
        assert_eq!(forged[..learn.len()], learn[..]);
        assert_eq!(forged[learn.len() + 5], 3 ^ 0x55);
        assert_eq!(forged.len(), bytes.len());

        let altered = Tamper::Alter.apply(bytes.clone(), &mut slot);
        let diff: Vec<usize> = (0..bytes.len())
            .filter(|&i| altered[i] != bytes[i])
            .collect();
        assert_eq!(diff, vec![learn.len() + 5 + MESSAGE_HEADER]);

        let replayed = Tamper::Replay.apply(bytes.clone(), &mut slot);
        assert_eq!(replayed[bytes.len()..], message[..]);
        assert_eq!(slot, None);
    }

    #[test]
    fn waits_for_a_write_with_a_message() {
        let learn = frame(1, &[9; 200]);
        let mut slot = None;
        assert_eq!(Tamper::Alter.apply(learn.clone(), &mut slot), learn);
        assert_eq!(slot, Some(Tamper::Alter));
        // A truncated frame is left alone too.
        assert_eq!(
            Tamper::Replay.apply(learn[..50].to_vec(), &mut slot),
            learn[..50]
        );
    }
}
