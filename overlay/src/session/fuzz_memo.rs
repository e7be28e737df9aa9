//! Fuzz builds only: X25519 results remembered per (scalar, point).
//!
//! Node-level fuzz targets start two seeded nodes and let them handshake
//! before every input; with fixed seeds those handshakes multiply the same
//! scalars by the same points every time, and the ladder would bound the
//! target at about a hundred inputs a second. The function is pure, so a
//! lookup returns exactly what the multiplication would. Release builds
//! never set `cfg(fuzzing)` (scripts/check-no-fuzzing-cfg.sh).

use std::cell::RefCell;
use std::collections::HashMap;

/// Results kept before the table starts over (a fuzz input can make up
/// points, so the table must not grow without end).
const CAPACITY: usize = 4096;

thread_local! {
    static KNOWN: RefCell<HashMap<([u8; 32], [u8; 32]), [u8; 32]>> =
        RefCell::new(HashMap::new());
}

/// The remembered X25519 of `private` and `public`, else `compute()`'s,
/// remembered.
pub(crate) fn x25519(
    private: &[u8; 32],
    public: &[u8; 32],
    compute: impl FnOnce() -> [u8; 32],
) -> [u8; 32] {
    let key = (*private, *public);
    if let Some(out) = KNOWN.with(|k| k.borrow().get(&key).copied()) {
        return out;
    }
    let out = compute();
    KNOWN.with(|k| {
        let mut k = k.borrow_mut();
        if k.len() >= CAPACITY {
            k.clear();
        }
        k.insert(key, out);
    });
    out
}
