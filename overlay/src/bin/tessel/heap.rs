//! The C allocator's settings for a long-running node.
//!
//! glibc's malloc serves a large block from its own mapping, but raises that
//! threshold to the size of each such block freed, up to 32 MiB. After the
//! first TCP socket of the userspace stack closes, every later socket's
//! buffers (megabytes each, zeroed) then come from the heap, where zeroing
//! writes every page: an idle connection held its whole buffer resident. A
//! fixed threshold keeps large blocks in mappings of their own: their pages
//! are resident only once used, and go back to the system when freed.

/// Blocks from this size up get a mapping of their own (glibc's default
/// starting point).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 << 10;

/// Fixes the allocator's mapping threshold (see the module documentation).
/// Call before any thread starts.
pub(crate) fn settle() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        #[allow(unsafe_code)]
        // SAFETY: mallopt only changes the allocator's parameters; it is
        // called before any other thread exists.
        // A refusal (0) leaves glibc's default: more memory, nothing wrong.
        let _ = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
    }
}
