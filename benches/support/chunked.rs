//! Timing in chunks, shared by the hot-path, span, sampling and bridges
//! benches.

use std::time::{Duration, Instant};

/// Calls per timed chunk: far below what a 64 MiB ring holds.
pub const CHUNK: u64 = 50_000;

/// Runs `call(i)` `iters` times, timing only the calls: the writer catches
/// up (`flush()`) between chunks, off the clock.
pub fn chunked(iters: u64, call: impl FnMut(u64)) -> Duration {
    chunked_with(iters, CHUNK, call, |_| datapunk_log::flush())
}

/// Runs `call(i)` `iters` times in chunks of `chunk`, timing only the
/// calls; `settle(done)` runs between chunks, off the clock.
#[allow(dead_code)] // Not every bench file that includes this uses it.
pub fn chunked_with(
    iters: u64,
    chunk: u64,
    mut call: impl FnMut(u64),
    mut settle: impl FnMut(u64),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let end = (done + chunk).min(iters);
        let t = Instant::now();
        for i in done..end {
            call(i);
        }
        total += t.elapsed();
        done = end;
        settle(done);
    }
    total
}
