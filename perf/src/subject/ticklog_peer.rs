//! Peer: ticklog 0.1 — per-thread binary ring + rdtsc on the calling
//! thread; its drain thread (which spins, never sleeps) decodes, formats
//! and writes text lines. The record is the same one, as a text line:
//! `{timestamp} {level} request handled user_id=.. latency=.. route=..`.
//!
//! Set up as its documentation does, with its fastest options: the level
//! ceiling and the backpressure policy are compile-time (`configure!`
//! turns them into macros the log calls expand), INFO; `Backpressure::Drop`
//! (its default) for the latency scenario, `Block` for throughput (chosen by
//! a const generic, so each is a constant in its call). The sink is its
//! `FileSink` set-up — a 64 KiB `BufWriter<File>` — over a writer that
//! counts lines (ticklog has no barrier and counts no drops). Its rings are
//! fixed at 1 MiB per thread; the line pattern drops the default's
//! `{file}:{line}`.
//!
//! `configure!` cannot be used as such outside a crate root: the macros it
//! defines are `#[macro_export]`ed from inside a block, which a submodule
//! cannot name (`macro_expanded_macro_exports_accessed_by_absolute_paths`).
//! So this module defines the same two macros itself and calls the
//! run-time function `configure!` expands to
//! (`ticklog::__private::__configure_rt`, hidden and semver-exempt: the
//! dependency is pinned to =0.1.2 for that reason).
//!
//! ticklog has no runtime level filter: the DEBUG call under its INFO
//! ceiling compiles to nothing, so its disabled figure is the empty loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::{Finished, Logger, Setup, settle_lines};

// What `ticklog::configure!` would define: the two macros its log calls
// expand to find the level ceiling and the backpressure policy. configure!
// defines them with `#[macro_export]` inside a block, where only the
// crate root can name them; defined here, before the log calls, the calls
// of this module find them. `BLOCK` is the const parameter of the `impl`
// the calls are in.
macro_rules! __ticklog_max_level {
    () => {
        ticklog::Level::Info
    };
}
macro_rules! __ticklog_backpressure {
    () => {
        if BLOCK {
            ticklog::Backpressure::Block
        } else {
            ticklog::Backpressure::Drop
        }
    };
}

/// The line pattern: the timestamp, the level and the message.
pub const PATTERN: &str = "{timestamp} {level} {message}";

pub struct Ticklog<const BLOCK: bool> {
    guard: ticklog::Guard,
    lines: Arc<AtomicU64>,
}

impl<const BLOCK: bool> Ticklog<BLOCK> {
    pub fn new(setup: &super::Setup) -> Result<Ticklog<BLOCK>, String> {
        let (out, lines) = super::counted_file(setup)?;
        // `configure!`'s run-time part, as it expands (its compile-time
        // part is the two macros above): the sink, UTC, no drain affinity,
        // the pattern. Once per process.
        let guard = ticklog::__private::__configure_rt(
            Box::new(ticklog::WriterSink::new(out)),
            0,
            None,
            PATTERN,
        )
        .map_err(|e| format!("ticklog: {e}"))?;
        Ok(Ticklog { guard, lines })
    }
}

/// Which ticklog a scenario gets: `Block` for throughput, `Drop` otherwise.
pub fn blocking(setup: &Setup) -> bool {
    setup.overflow == crate::profile::OverflowKind::Block
}

impl<const BLOCK: bool> Logger for Ticklog<BLOCK> {
    #[inline(always)]
    fn log(&self, user_id: u64, latency: f64, route: &str) {
        ticklog::info!(
            "request handled user_id={} latency={} route={}",
            user_id,
            latency,
            route
        );
    }

    #[inline(always)]
    fn log_disabled(&self, user_id: u64, latency: f64, route: &str) {
        ticklog::debug!(
            "request handled user_id={} latency={} route={}",
            user_id,
            latency,
            route
        );
    }

    /// ticklog counts no drops; they are computed from the file afterwards.
    fn dropped(&self) -> Option<u64> {
        None
    }

    /// Allocates this thread's ring (the warm-up's calls did already).
    fn prefault(&self, _route: &str) -> u64 {
        let _ = ticklog::warm_up();
        0
    }

    /// The drain flushes its sink each time it catches up: waits until the
    /// lines reach `calls` or stop moving for 20 ms.
    fn settle(&self, calls: u64) {
        settle_lines(&self.lines, calls);
    }

    /// Waits as `settle` does, then drops the guard (a final pass over the
    /// rings, a flush, the drain thread joined).
    fn finish(self, calls: u64) -> Result<Finished, String> {
        settle_lines(&self.lines, calls);
        let drained_at = Instant::now();
        drop(self.guard);
        let lines = self.lines.load(Ordering::Acquire);
        Ok(Finished {
            drained_at,
            extra_lines: 0,
            dropped: None,
            stats: Some(serde_json::json!({
                "lines_written": lines,
                "backpressure": if BLOCK { "block" } else { "drop" },
                "ring_bytes": 1 << 20,
                "pattern": PATTERN,
            })),
            consumed: None,
        })
    }
}
