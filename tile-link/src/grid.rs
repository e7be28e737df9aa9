//! The grid model: where a tile's neighbour in each direction sits.
//!
//! Tiles sit at integer positions `(x, y)` with `0 <= x < width` and
//! `0 <= y < height`; x grows eastward and y southward (see [`crate::dir`]
//! for each direction's step). A step off the edge has no neighbour unless
//! the grid is configured to wrap, in which case it comes back on the far
//! side (a torus). A grid one tile wide or high never makes a tile its own
//! neighbour.

use crate::dir::{Dir, ALL};

/// A tile's position on the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Column, growing eastward from 0.
    pub x: u16,
    /// Row, growing southward from 0.
    pub y: u16,
}

/// The shape of a rectangular grid of tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// Columns (at least 1).
    pub width: u16,
    /// Rows (at least 1).
    pub height: u16,
    /// Whether steps off one edge come back on the opposite edge.
    pub wrap: bool,
}

impl Grid {
    /// A bounded grid (no wraparound).
    pub fn bounded(width: u16, height: u16) -> Self {
        Self {
            width,
            height,
            wrap: false,
        }
    }

    /// Whether `pos` lies on the grid.
    pub fn contains(&self, pos: Pos) -> bool {
        pos.x < self.width && pos.y < self.height
    }

    /// The position of the neighbour of `pos` in direction `dir`, if any.
    pub fn neighbour(&self, pos: Pos, dir: Dir) -> Option<Pos> {
        if !self.contains(pos) {
            return None;
        }
        let (dx, dy) = dir.step();
        let x = step(pos.x, dx, self.width, self.wrap)?;
        let y = step(pos.y, dy, self.height, self.wrap)?;
        let next = Pos { x, y };
        (next != pos).then_some(next)
    }

    /// Every direction of `pos` that has a neighbour, with its position.
    pub fn neighbours(&self, pos: Pos) -> impl Iterator<Item = (Dir, Pos)> + '_ {
        ALL.into_iter()
            .filter_map(move |d| self.neighbour(pos, d).map(|p| (d, p)))
    }

    /// Every position, row by row.
    pub fn positions(&self) -> impl Iterator<Item = Pos> + '_ {
        (0..self.height).flat_map(move |y| (0..self.width).map(move |x| Pos { x, y }))
    }
}

fn step(v: u16, d: i8, len: u16, wrap: bool) -> Option<u16> {
    let next = i32::from(v) + i32::from(d);
    let len = i32::from(len);
    if (0..len).contains(&next) {
        return u16::try_from(next).ok();
    }
    if wrap {
        u16::try_from(next.rem_euclid(len)).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corner_has_three_neighbours_centre_eight() {
        let g = Grid::bounded(3, 3);
        let corner: Vec<_> = g.neighbours(Pos { x: 0, y: 0 }).collect();
        assert_eq!(
            corner,
            vec![
                (Dir::East, Pos { x: 1, y: 0 }),
                (Dir::SouthEast, Pos { x: 1, y: 1 }),
                (Dir::South, Pos { x: 0, y: 1 }),
            ]
        );
        assert_eq!(g.neighbours(Pos { x: 1, y: 1 }).count(), 8);
        assert_eq!(g.neighbours(Pos { x: 1, y: 0 }).count(), 5);
        assert_eq!(g.neighbour(Pos { x: 3, y: 0 }, Dir::West), None);
    }

    #[test]
    fn neighbour_relation_is_symmetric_through_opposite() {
        for g in [
            Grid::bounded(4, 3),
            Grid {
                wrap: true,
                ..Grid::bounded(4, 3)
            },
        ] {
            for p in g.positions() {
                for (d, q) in g.neighbours(p) {
                    assert_eq!(g.neighbour(q, d.opposite()), Some(p), "{p:?} {d}");
                }
            }
        }
    }

    #[test]
    fn wrapping_grid_comes_back_on_the_far_side() {
        let g = Grid {
            wrap: true,
            ..Grid::bounded(3, 3)
        };
        assert_eq!(
            g.neighbour(Pos { x: 0, y: 0 }, Dir::NorthWest),
            Some(Pos { x: 2, y: 2 })
        );
        assert_eq!(g.neighbours(Pos { x: 0, y: 0 }).count(), 8);
        // A single row never wraps onto itself vertically.
        let row = Grid {
            wrap: true,
            ..Grid::bounded(3, 1)
        };
        assert_eq!(row.neighbour(Pos { x: 0, y: 0 }, Dir::North), None);
    }
}
