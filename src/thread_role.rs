//! What the engine's own threads are: records logged on the writer, the
//! export thread (and its runtime's threads) are discarded and counted, so a
//! sink's or an exporter's own logging (or a crate's they are built on)
//! never loops back into the engine, nor blocks the writer on its own ring.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;

/// Spawns of the engine's threads still to fail (for tests of `init()`'s
/// failure paths; see [`fail_next_spawns`]).
static FAIL_SPAWNS: AtomicU32 = AtomicU32::new(0);

/// Makes the next `n` spawns of the engine's own threads (the writer, the
/// export thread) fail as an exhausted system would: for tests of what a
/// failed `init()` leaves behind.
#[doc(hidden)]
pub fn fail_next_spawns(n: u32) {
    FAIL_SPAWNS.store(n, Ordering::SeqCst);
}

/// Spawns one of the engine's threads, named `name`.
pub(crate) fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<JoinHandle<T>> {
    let injected = FAIL_SPAWNS
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if injected {
        return Err(std::io::Error::other("thread spawn failed (injected)"));
    }
    std::thread::Builder::new().name(name.into()).spawn(f)
}

thread_local! {
    static MUTED: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as one of the engine's (the writer, the export thread
/// or one of its runtime's): records captured on it are discarded and
/// counted.
pub(crate) fn mute_this_thread() {
    MUTED.with(|m| m.set(true));
}

/// True on a thread marked by [`mute_this_thread`].
pub(crate) fn is_muted_thread() -> bool {
    MUTED.with(|m| m.get())
}
