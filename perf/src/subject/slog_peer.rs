//! Peer: slog + slog-async + slog-json. The record's key-values are
//! serialized into an owned `AsyncRecord` on the calling thread and sent over
//! a bounded channel; the async thread encodes JSON into a 64 KiB `BufWriter`
//! over the file (slog-json writes each token separately, so unbuffered it
//! would make a system call per token).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use slog::Drain;
use slog_async::{AsyncGuard, OverflowStrategy};

use super::{DRAIN_LIMIT, Finished, Logger, Setup};
use crate::profile::OverflowKind;

pub struct Slog {
    logger: slog::Logger,
    guard: AsyncGuard,
    lines: Arc<AtomicU64>,
}

impl Slog {
    pub fn new(setup: &Setup) -> Result<Slog, String> {
        let (out, lines) = super::counted_file(setup)?;
        let json = slog_json::Json::new(out)
            .set_flush(false)
            .add_default_keys()
            .build()
            .fuse();
        let mut b = slog_async::Async::new(json)
            .overflow_strategy(match setup.overflow {
                OverflowKind::Block => OverflowStrategy::Block,
                // Silent drop; drops are counted from the file afterwards.
                OverflowKind::Drop => OverflowStrategy::Drop,
            })
            .thread_name("slog-async".into());
        if let Some(q) = setup.peer_queue {
            b = b.chan_size(q);
        }
        let (drain, guard) = b.build_with_guard();
        // Runtime filtering, as the other subjects do it (slog's compile-time
        // filter would remove DEBUG calls in release builds altogether; the
        // perf crate enables `release_max_level_trace` to keep them).
        let drain = slog::LevelFilter::new(drain.fuse(), slog::Level::Info).fuse();
        let logger = slog::Logger::root(drain, slog::o!());
        Ok(Slog {
            logger,
            guard,
            lines,
        })
    }
}

impl Logger for Slog {
    #[inline(always)]
    fn log(&self, user_id: u64, latency: f64, route: &str) {
        slog::info!(self.logger, "request handled"; "user_id" => user_id, "latency" => latency, "route" => route);
    }

    #[inline(always)]
    fn log_disabled(&self, user_id: u64, latency: f64, route: &str) {
        slog::debug!(self.logger, "request handled"; "user_id" => user_id, "latency" => latency, "route" => route);
    }

    /// slog-async counts no drops (its `DropAndReport` logs them as records
    /// instead); they are computed from the file afterwards.
    fn dropped(&self) -> Option<u64> {
        None
    }

    /// slog-async has no barrier and no queue length: waits until the lines
    /// reaching the file stop moving for 20 ms (up to 64 KiB may stay in the
    /// `BufWriter`).
    fn settle(&self, _calls: u64) {
        let start = Instant::now();
        let mut last = self.lines.load(Ordering::Acquire);
        let mut since = Instant::now();
        while start.elapsed() < DRAIN_LIMIT {
            std::thread::sleep(Duration::from_millis(1));
            let now = self.lines.load(Ordering::Acquire);
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= Duration::from_millis(20) {
                return;
            }
        }
    }

    /// Dropping the guard sends a finish message behind every queued record
    /// and joins the async thread, whose exit drops (and so flushes) the
    /// `BufWriter`.
    fn finish(self, _calls: u64) -> Result<Finished, String> {
        drop(self.guard);
        let drained_at = Instant::now();
        let lines = self.lines.load(Ordering::Acquire);
        drop(self.logger);
        Ok(Finished {
            drained_at,
            extra_lines: 0,
            consumed: None,
            dropped: None,
            stats: Some(serde_json::json!({ "lines_written": lines })),
        })
    }
}
