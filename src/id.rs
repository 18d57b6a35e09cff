//! Random 128-bit values for identifiers (correlation ids, instance ids).
//!
//! SipHash with a per-process random key (std's `RandomState`) over a
//! counter, the time and the process id: distinct values without a new
//! dependency. Not for secrets.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

/// A new random 128-bit value; distinct on every call.
pub(crate) fn random_u128() -> u128 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let pid = std::process::id();
    let state = RandomState::new();
    let half = |lane: u8| {
        let mut h = state.build_hasher();
        h.write_u8(lane);
        h.write_u64(n);
        h.write_u128(t);
        h.write_u32(pid);
        h.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}
