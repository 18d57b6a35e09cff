//! What the engine's own threads are: records logged on the export thread
//! (and its runtime's threads) are discarded and counted, so an exporter's
//! own logging never loops back into the export.

use std::cell::Cell;

thread_local! {
    static MUTED: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as the export thread (or one of its runtime's): records
/// captured on it are discarded and counted.
pub(crate) fn mark_export_thread() {
    MUTED.with(|m| m.set(true));
}

/// True on a thread marked by [`mark_export_thread`].
pub(crate) fn is_export_thread() -> bool {
    MUTED.with(|m| m.get())
}
