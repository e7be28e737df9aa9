//! Who the neighbour in each direction is: configured by identity, or
//! derived from a grid position.
//!
//! The identity type is the host's (the daemon uses overlay node IDs); this
//! crate only needs to compare them. A tile may be the neighbour in one
//! direction only: packets from it must have a single arrival direction,
//! so a table naming one tile twice is refused. (A wrapping grid two tiles
//! wide would do that; make it at least three wide.)

use crate::dir::{Dir, ALL};
use crate::grid::{Grid, Pos};

/// Why a neighbour table was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NeighbourError {
    /// One direction configured twice.
    #[error("direction {0} configured twice")]
    DirTwice(Dir),
    /// One neighbour in two directions.
    #[error("the same neighbour in directions {first} and {second}")]
    Duplicate {
        /// The first direction that names it.
        first: Dir,
        /// The second.
        second: Dir,
    },
}

/// The neighbour in each direction, by identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbours<T> {
    by_dir: [Option<T>; 8],
}

impl<T: PartialEq> Neighbours<T> {
    /// A table from explicit `(direction, identity)` entries.
    ///
    /// # Errors
    /// A direction given twice, or an identity in two directions.
    pub fn configured(entries: impl IntoIterator<Item = (Dir, T)>) -> Result<Self, NeighbourError> {
        let mut by_dir: [Option<T>; 8] = Default::default();
        for (dir, id) in entries {
            if by_dir[dir.index()].is_some() {
                return Err(NeighbourError::DirTwice(dir));
            }
            if let Some(first) = ALL
                .into_iter()
                .find(|d| by_dir[d.index()].as_ref() == Some(&id))
            {
                return Err(NeighbourError::Duplicate { first, second: dir });
            }
            by_dir[dir.index()] = Some(id);
        }
        Ok(Self { by_dir })
    }

    /// The table of the tile at `pos` on `grid`, with `id_at` naming the
    /// tile at each position (`None` for a hole in the grid).
    ///
    /// # Errors
    /// An identity in two directions.
    pub fn from_grid(
        grid: &Grid,
        pos: Pos,
        id_at: impl Fn(Pos) -> Option<T>,
    ) -> Result<Self, NeighbourError> {
        Self::configured(
            grid.neighbours(pos)
                .filter_map(|(d, p)| id_at(p).map(|id| (d, id))),
        )
    }

    /// The neighbour in `dir`.
    pub fn get(&self, dir: Dir) -> Option<&T> {
        self.by_dir[dir.index()].as_ref()
    }

    /// The direction of neighbour `id`: where its packets arrive from.
    pub fn dir_of(&self, id: &T) -> Option<Dir> {
        ALL.into_iter()
            .find(|d| self.by_dir[d.index()].as_ref() == Some(id))
    }

    /// The configured directions and their neighbours, in DIR order.
    pub fn iter(&self) -> impl Iterator<Item = (Dir, &T)> + '_ {
        ALL.into_iter()
            .filter_map(|d| self.by_dir[d.index()].as_ref().map(|id| (d, id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_tables_are_checked() {
        let n = Neighbours::configured([(Dir::East, "b"), (Dir::West, "c")]).unwrap();
        assert_eq!(n.get(Dir::East), Some(&"b"));
        assert_eq!(n.get(Dir::North), None);
        assert_eq!(n.dir_of(&"c"), Some(Dir::West));
        assert_eq!(n.dir_of(&"z"), None);
        assert_eq!(n.iter().count(), 2);
        assert_eq!(
            Neighbours::configured([(Dir::East, "b"), (Dir::East, "c")]),
            Err(NeighbourError::DirTwice(Dir::East))
        );
        assert_eq!(
            Neighbours::configured([(Dir::East, "b"), (Dir::South, "b")]),
            Err(NeighbourError::Duplicate {
                first: Dir::East,
                second: Dir::South
            })
        );
    }

    #[test]
    fn grid_tables_follow_positions() {
        let g = Grid::bounded(3, 3);
        let id = |p: Pos| Some(p.y * 3 + p.x);
        let corner = Neighbours::from_grid(&g, Pos { x: 0, y: 0 }, id).unwrap();
        assert_eq!(
            corner.iter().map(|(d, i)| (d, *i)).collect::<Vec<_>>(),
            vec![(Dir::East, 1), (Dir::SouthEast, 4), (Dir::South, 3)]
        );
        // A hole in the grid is no neighbour.
        let holed = Neighbours::from_grid(&g, Pos { x: 1, y: 1 }, |p| {
            (p != Pos { x: 0, y: 0 }).then(|| p.y * 3 + p.x)
        })
        .unwrap();
        assert_eq!(holed.iter().count(), 7);
        assert_eq!(holed.get(Dir::NorthWest), None);
        // Wrapping two wide: east and west are the same tile.
        let narrow = Grid {
            wrap: true,
            ..Grid::bounded(2, 3)
        };
        assert!(matches!(
            Neighbours::from_grid(&narrow, Pos { x: 0, y: 1 }, id),
            Err(NeighbourError::Duplicate { .. })
        ));
    }
}
