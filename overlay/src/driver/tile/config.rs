//! What `tessel up --tile …` configures, and the text forms of its
//! arguments.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use ed25519_dalek::{SigningKey, VerifyingKey};
use tessel_tile_link::Dir;

use crate::identity::NodeId;

/// How the daemon hosts a tile.
#[derive(Debug, Clone)]
pub struct TileOptions {
    /// The neighbour in each configured direction (`--tile DIR=NODE_ID`).
    pub neighbours: Vec<Neighbour>,
    /// The managed file directory (`--tile-files DIR`): `live/` and `tmp/`.
    pub files: PathBuf,
    /// Keys whose signatures make files and physics announcements
    /// legitimate (`--tile-trust KEY`).
    pub trusted: Vec<VerifyingKey>,
    /// The command restarted on a change of physics (`--tile-run CMD`); the
    /// file's path is appended as its last argument.
    pub run: Option<String>,
    /// Mean time between background file adverts (`--tile-advert-interval`).
    pub advert_interval: Duration,
}

/// One configured direction: `DIR=NODE_ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbour {
    /// The direction, as seen from this tile.
    pub dir: Dir,
    /// The node in that direction.
    pub node: NodeId,
}

/// A tile argument that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileConfigError {
    /// `--tile` without `=`.
    #[error("`{0}` is not DIR=NODE_ID (e.g. ET=tessel-node-…)")]
    NotAPair(String),
    /// The direction names no compass point.
    #[error("{0}")]
    Dir(#[from] tessel_tile_link::dir::UnknownDir),
    /// The node ID is malformed.
    #[error("bad node ID `{text}`: {reason}")]
    NodeId {
        /// The text given.
        text: String,
        /// Why it is not a node ID.
        reason: String,
    },
    /// A key is not 64 hexadecimal digits, or not a valid ed25519 key.
    #[error("bad tile key `{0}`: expected 64 hexadecimal digits (32 bytes)")]
    Key(String),
    /// The same direction or the same node appears twice.
    #[error("{0}")]
    Duplicate(String),
}

impl FromStr for Neighbour {
    type Err = TileConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (dir, node) = s
            .split_once('=')
            .ok_or_else(|| TileConfigError::NotAPair(s.to_owned()))?;
        let dir: Dir = dir.trim().parse()?;
        let node = NodeId::parse(node.trim()).map_err(|e| TileConfigError::NodeId {
            text: node.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self { dir, node })
    }
}

/// Checks that no direction and no node appears twice (a node must be the
/// neighbour in one direction only, so its packets have one arrival
/// direction).
///
/// # Errors
/// [`TileConfigError::Duplicate`] naming the repeated direction or node.
pub fn check_neighbours(neighbours: &[Neighbour]) -> Result<(), TileConfigError> {
    for (i, a) in neighbours.iter().enumerate() {
        for b in &neighbours[..i] {
            if a.dir == b.dir {
                return Err(TileConfigError::Duplicate(format!(
                    "direction {} is configured twice",
                    a.dir
                )));
            }
            if a.node == b.node {
                return Err(TileConfigError::Duplicate(format!(
                    "node {} is the neighbour in both {} and {}",
                    a.node, b.dir, a.dir
                )));
            }
        }
    }
    Ok(())
}

fn hex32(text: &str) -> Result<[u8; 32], TileConfigError> {
    let t = text.trim();
    let bytes = data_encoding::HEXLOWER_PERMISSIVE
        .decode(t.as_bytes())
        .map_err(|_| TileConfigError::Key(t.to_owned()))?;
    bytes
        .try_into()
        .map_err(|_| TileConfigError::Key(t.to_owned()))
}

/// Parses a trusted key: the ed25519 public key as 64 hexadecimal digits.
///
/// # Errors
/// [`TileConfigError::Key`] if it is not that, or not a curve point.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, TileConfigError> {
    VerifyingKey::from_bytes(&hex32(text)?).map_err(|_| TileConfigError::Key(text.to_owned()))
}

/// The text form of a public key: 64 lowercase hexadecimal digits.
pub fn public_key_text(key: &VerifyingKey) -> String {
    data_encoding::HEXLOWER.encode(key.as_bytes())
}

/// Parses a signing key file's text: the 32-byte ed25519 secret seed as 64
/// hexadecimal digits (surrounding whitespace ignored).
///
/// # Errors
/// [`TileConfigError::Key`] if it is not that.
pub fn parse_signing_key(text: &str) -> Result<SigningKey, TileConfigError> {
    Ok(SigningKey::from_bytes(&hex32(text)?))
}

/// The text form of a signing key file: the seed in hexadecimal, one line.
pub fn signing_key_text(key: &SigningKey) -> String {
    format!("{}\n", data_encoding::HEXLOWER.encode(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::NodeKey;

    #[test]
    fn neighbour_and_keys_parse() {
        let id = NodeKey::from_seed([7; 32]).id();
        let n: Neighbour = format!("et={id}").parse().unwrap();
        assert_eq!(
            n,
            Neighbour {
                dir: Dir::East,
                node: id
            }
        );
        assert!(matches!(
            "ET".parse::<Neighbour>(),
            Err(TileConfigError::NotAPair(_))
        ));
        assert!(matches!(
            format!("XX={id}").parse::<Neighbour>(),
            Err(TileConfigError::Dir(_))
        ));
        assert!(matches!(
            "ET=tessel-node-nope".parse::<Neighbour>(),
            Err(TileConfigError::NodeId { .. })
        ));
        let other = NodeKey::from_seed([8; 32]).id();
        let twice_dir = [
            n,
            Neighbour {
                dir: Dir::East,
                node: other,
            },
        ];
        assert!(check_neighbours(&twice_dir).is_err());
        let twice_node = [
            n,
            Neighbour {
                dir: Dir::West,
                node: id,
            },
        ];
        assert!(check_neighbours(&twice_node).is_err());
        let fine = [
            n,
            Neighbour {
                dir: Dir::West,
                node: other,
            },
        ];
        assert!(check_neighbours(&fine).is_ok());

        let sk = SigningKey::from_bytes(&[3; 32]);
        let back = parse_signing_key(&signing_key_text(&sk)).unwrap();
        assert_eq!(back.as_bytes(), sk.as_bytes());
        let pk = sk.verifying_key();
        assert_eq!(parse_public_key(&public_key_text(&pk)).unwrap(), pk);
        assert!(parse_public_key("abcd").is_err());
    }
}
