//! The eight directions of a tile, the seed's 3-bit DIR field.
//!
//! The T2 notes name directions by two-letter compass codes (`/dev/tile/ET`)
//! but do not fix which DIR value names which point. Tessel's convention:
//! the values go clockwise from north.
//!
//! | DIR | code | point      | grid step (dx, dy) |
//! |-----|------|------------|--------------------|
//! | 0   | `NT` | north      | ( 0, -1)           |
//! | 1   | `NE` | north-east | (+1, -1)           |
//! | 2   | `ET` | east       | (+1,  0)           |
//! | 3   | `SE` | south-east | (+1, +1)           |
//! | 4   | `ST` | south      | ( 0, +1)           |
//! | 5   | `SW` | south-west | (-1, +1)           |
//! | 6   | `WT` | west       | (-1,  0)           |
//! | 7   | `NW` | north-west | (-1, -1)           |
//!
//! So the opposite of a direction is its value plus four, modulo eight.

use std::fmt;
use std::str::FromStr;

/// One of a tile's eight directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Dir {
    /// North, DIR 0 (`NT`).
    North = 0,
    /// North-east, DIR 1 (`NE`).
    NorthEast = 1,
    /// East, DIR 2 (`ET`).
    East = 2,
    /// South-east, DIR 3 (`SE`).
    SouthEast = 3,
    /// South, DIR 4 (`ST`).
    South = 4,
    /// South-west, DIR 5 (`SW`).
    SouthWest = 5,
    /// West, DIR 6 (`WT`).
    West = 6,
    /// North-west, DIR 7 (`NW`).
    NorthWest = 7,
}

/// Every direction, in DIR order.
pub const ALL: [Dir; 8] = [
    Dir::North,
    Dir::NorthEast,
    Dir::East,
    Dir::SouthEast,
    Dir::South,
    Dir::SouthWest,
    Dir::West,
    Dir::NorthWest,
];

const CODES: [&str; 8] = ["NT", "NE", "ET", "SE", "ST", "SW", "WT", "NW"];

impl Dir {
    /// The direction whose DIR value is the low three bits of `bits`.
    pub fn from_bits(bits: u8) -> Self {
        ALL[usize::from(bits & 0x07)]
    }

    /// The direction with DIR value `value`, if it is below eight.
    pub fn from_value(value: u8) -> Option<Self> {
        ALL.get(usize::from(value)).copied()
    }

    /// The DIR value, 0 to 7.
    pub fn value(self) -> u8 {
        self as u8
    }

    /// The value as an array index.
    pub fn index(self) -> usize {
        usize::from(self.value())
    }

    /// The direction pointing back: a packet sent east arrives from the west.
    pub fn opposite(self) -> Self {
        Self::from_bits(self.value() + 4)
    }

    /// The two-letter code (`NT`, `NE`, `ET`, ...).
    pub fn code(self) -> &'static str {
        CODES[self.index()]
    }

    /// The grid step `(dx, dy)`: x grows eastward, y grows southward.
    pub fn step(self) -> (i8, i8) {
        match self {
            Self::North => (0, -1),
            Self::NorthEast => (1, -1),
            Self::East => (1, 0),
            Self::SouthEast => (1, 1),
            Self::South => (0, 1),
            Self::SouthWest => (-1, 1),
            Self::West => (-1, 0),
            Self::NorthWest => (-1, -1),
        }
    }
}

impl fmt::Display for Dir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A string that names no direction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown direction `{0}` (expected NT, NE, ET, SE, ST, SW, WT, NW or 0-7)")]
pub struct UnknownDir(pub String);

impl FromStr for Dir {
    type Err = UnknownDir;

    /// Accepts the two-letter code in any case, or the DIR value as a digit.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.to_ascii_uppercase();
        if let Some(i) = CODES.iter().position(|c| *c == upper) {
            return Ok(ALL[i]);
        }
        s.parse::<u8>()
            .ok()
            .and_then(Self::from_value)
            .ok_or_else(|| UnknownDir(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_go_clockwise_from_north() {
        for (i, d) in ALL.iter().enumerate() {
            assert_eq!(usize::from(d.value()), i);
            assert_eq!(Dir::from_value(d.value()), Some(*d));
        }
        assert_eq!(Dir::from_value(8), None);
        assert_eq!(Dir::from_bits(0xfa), Dir::East);
        assert_eq!(Dir::East.code(), "ET");
    }

    #[test]
    fn opposite_is_an_involution_and_reverses_the_step() {
        for d in ALL {
            assert_ne!(d.opposite(), d);
            assert_eq!(d.opposite().opposite(), d);
            let (dx, dy) = d.step();
            assert_eq!(d.opposite().step(), (-dx, -dy));
        }
        assert_eq!(Dir::North.opposite(), Dir::South);
        assert_eq!(Dir::NorthEast.opposite(), Dir::SouthWest);
    }

    #[test]
    fn parses_codes_and_digits() {
        assert_eq!("et".parse::<Dir>(), Ok(Dir::East));
        assert_eq!("NW".parse::<Dir>(), Ok(Dir::NorthWest));
        assert_eq!("4".parse::<Dir>(), Ok(Dir::South));
        assert!("8".parse::<Dir>().is_err());
        assert!("east".parse::<Dir>().is_err());
        for d in ALL {
            assert_eq!(d.to_string().parse::<Dir>(), Ok(d));
        }
    }
}
