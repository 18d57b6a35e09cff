//! Peer: tracing + tracing-subscriber's JSON formatter + tracing-appender's
//! non-blocking writer to a file, as its documentation sets it up. The event
//! is formatted on the calling thread; the worker thread only writes lines.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};

use super::{CountingWriter, DRAIN_LIMIT, Finished, Logger, Setup, wait_until};
use crate::profile::OverflowKind;

pub struct Tracing {
    guard: WorkerGuard,
    errors: ErrorCounter,
    lines: Arc<AtomicU64>,
}

impl Tracing {
    pub fn new(setup: &Setup) -> Result<Tracing, String> {
        let dir = setup.path.parent().ok_or("log path has no directory")?;
        let file = setup.path.file_name().ok_or("log path has no file name")?;
        let lines = Arc::new(AtomicU64::new(0));
        let appender = tracing_appender::rolling::never(dir, file);
        let mut nb = NonBlockingBuilder::default()
            .lossy(setup.overflow == OverflowKind::Drop)
            .thread_name("tracing-appender");
        if let Some(q) = setup.peer_queue {
            nb = nb.buffered_lines_limit(q);
        }
        let (writer, guard) = nb.finish(CountingWriter::new(appender, lines.clone()));
        let errors = writer.error_counter();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_thread_names(true)
            .with_max_level(tracing::Level::INFO)
            .with_writer(writer)
            .finish();
        tracing::subscriber::set_global_default(subscriber).map_err(|e| format!("tracing: {e}"))?;
        Ok(Tracing {
            guard,
            errors,
            lines,
        })
    }

    fn accounted(&self) -> u64 {
        self.lines.load(Ordering::Acquire) + self.errors.dropped_lines() as u64
    }
}

impl Logger for Tracing {
    #[inline(always)]
    fn log(&self, user_id: u64, latency: f64, route: &str) {
        tracing::info!(user_id, latency, route, "request handled");
    }

    #[inline(always)]
    fn log_disabled(&self, user_id: u64, latency: f64, route: &str) {
        tracing::debug!(user_id, latency, route, "request handled");
    }

    fn dropped(&self) -> Option<u64> {
        Some(self.errors.dropped_lines() as u64)
    }

    fn settle(&self, calls: u64) {
        wait_until(DRAIN_LIMIT, || self.accounted() >= calls);
    }

    fn finish(self, calls: u64) -> Result<Finished, String> {
        // Wait for the lines first: the guard's drop gives up after ~1 s and
        // prints to stdout when the queue is still full.
        if !wait_until(DRAIN_LIMIT, || self.accounted() >= calls) {
            return Err(format!(
                "tracing-appender wrote {} of {calls} lines in {DRAIN_LIMIT:?}",
                self.accounted()
            ));
        }
        let drained_at = std::time::Instant::now();
        let dropped = self.errors.dropped_lines() as u64;
        drop(self.guard);
        Ok(Finished {
            drained_at,
            extra_lines: 0,
            consumed: None,
            dropped: Some(dropped),
            stats: Some(serde_json::json!({
                "lines_written": self.lines.load(Ordering::Acquire),
                "dropped_lines": dropped,
            })),
        })
    }
}
