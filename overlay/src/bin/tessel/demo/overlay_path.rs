//! How the overlay carries traffic between two members, in words, as the
//! watch last saw their pair: for the engine call and the tile update,
//! which ride on the paths the story told.

use super::pairs::PairPath;
use super::plan::MEMBERS;
use super::watch::{name_of, PairState};
use super::world::DemoWorld;

/// `direct`, `relayed through NAME` or `not connected` for the pair of
/// members `a` and `b` (by name, either order).
pub(crate) fn between(world: &DemoWorld, pairs: &[PairState], a: &str, b: &str) -> String {
    let pair = pairs.iter().find(|p| {
        let (x, y) = (MEMBERS[p.a].name, MEMBERS[p.b].name);
        (x == a && y == b) || (x == b && y == a)
    });
    let tcp = |p: &PairState| if p.tcp { " over TCP" } else { "" };
    match pair {
        Some(p) => match &p.track.path {
            PairPath::Direct => format!("direct{}", tcp(p)),
            PairPath::Relayed(via) => format!("relayed through {}{}", name_of(world, via), tcp(p)),
            PairPath::Unconnected => "not connected".to_owned(),
        },
        None => "not connected".to_owned(),
    }
}
