//! Test only (`test-hooks`): spoils the next message frame this node
//! writes on an engine stream, to show that the receiver drops and counts
//! it. Set with the control request `engine-tamper forge|alter|replay`.

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
