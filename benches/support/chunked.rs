//! Timing in chunks, shared by the hot-path and span benches.

use std::time::{Duration, Instant};

/// Calls per timed chunk: far below what a 64 MiB ring holds.
pub const CHUNK: u64 = 50_000;

/// Runs `call(i)` `iters` times, timing only the calls: the writer catches
/// up (`flush()`) between chunks, off the clock.
pub fn chunked(iters: u64, mut call: impl FnMut(u64)) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let end = (done + CHUNK).min(iters);
        let t = Instant::now();
        for i in done..end {
            call(i);
        }
        total += t.elapsed();
        done = end;
        datapunk_log::flush();
    }
    total
}
