//! Where encoded batches go.
//!
//! Each sink receives whole batches of JSON lines, one `write` call per batch
//! when the sink takes it all. A failed write is counted and retried with
//! exponential backoff from a bounded backlog; it never panics the writer and
//! never holds up the other sinks. A sink that panics is treated as one that
//! failed: the panic is caught and counted, the batch kept for the retry.
//!
//! File sinks can rotate, keep a bounded set of rotated files and compress
//! them ([`FileConfig`], `Builder::file`); see the README's section
//! "Files: rotation, retention, compression".

mod file;
mod memory;
pub(crate) mod rolling;
mod stdio;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use file::FileSink;
pub use memory::MemorySink;
pub use rolling::{
    ByteSize, Compression, DEFAULT_MODE, FileConfig, HumanDuration, ParseError, Rotation, reopen,
};
pub(crate) use rolling::{OnSighup, install_sighup};
pub(crate) use stdio::{NullSink, StderrSink, StdoutSink};

use crate::stats::{Counters, SinkCounters};

/// A destination for batches of JSON lines.
pub trait Sink: Send {
    /// Writes some prefix of `buf`, returning how many bytes were taken.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;
    /// Pushes buffered bytes down to the OS or the device.
    fn flush(&mut self) -> io::Result<()>;
}

/// Default bound of a sink's retry backlog.
pub(crate) const DEFAULT_BACKLOG: usize = 8 << 20;
const BACKOFF_MIN: Duration = Duration::from_millis(1);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// A sink with its retry state.
pub(crate) struct SinkSlot {
    sink: Box<dyn Sink>,
    /// This sink's own figures (`sink_stats()`).
    stats: Arc<SinkCounters>,
    backlog: Vec<u8>,
    backlog_limit: usize,
    retry_at: Option<Instant>,
    backoff: Duration,
}

impl SinkSlot {
    #[cfg(test)]
    pub(crate) fn new(sink: Box<dyn Sink>, backlog_limit: usize) -> SinkSlot {
        SinkSlot::with_stats(sink, backlog_limit, Arc::new(SinkCounters::new("custom")))
    }

    /// A slot whose figures go to `stats`.
    pub(crate) fn with_stats(
        sink: Box<dyn Sink>,
        backlog_limit: usize,
        stats: Arc<SinkCounters>,
    ) -> SinkSlot {
        SinkSlot {
            sink,
            stats,
            backlog: Vec::new(),
            backlog_limit,
            retry_at: None,
            backoff: BACKOFF_MIN,
        }
    }

    /// Hands a batch (whole lines) to the sink, or to its backlog while the
    /// sink is failing.
    pub(crate) fn submit(&mut self, batch: &[u8], counters: &Counters) {
        if !self.backlog.is_empty() {
            // The batch would be (partly) lost: see whether the sink is back
            // before discarding anything.
            let full = batch.len() > self.backlog_limit.saturating_sub(self.backlog.len());
            self.retry(counters, full);
        }
        if !self.backlog.is_empty() {
            self.queue(batch, counters);
            return;
        }
        let written = self.write_all(batch, counters);
        if written < batch.len() {
            let rest = &batch[written..];
            // A torn line is completed first, whatever the bound.
            let tail = if written > 0 && batch[written - 1] != b'\n' {
                rest.iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |i| i + 1)
            } else {
                0
            };
            self.backlog.extend_from_slice(&rest[..tail]);
            self.queue(&rest[tail..], counters);
        }
    }

    /// Retries the backlog if its backoff has expired (or `now` is set).
    pub(crate) fn retry(&mut self, counters: &Counters, now: bool) {
        if self.backlog.is_empty() {
            return;
        }
        if !now && self.retry_at.is_some_and(|t| Instant::now() < t) {
            return;
        }
        let backlog = std::mem::take(&mut self.backlog);
        let written = self.write_all(&backlog, counters);
        self.backlog = backlog;
        self.backlog.drain(..written);
    }

    pub(crate) fn flush(&mut self, counters: &Counters) {
        self.retry(counters, true);
        if self.call(counters, |s| s.flush()).is_err() {
            Counters::add(&counters.sink_errors, 1);
            Counters::add(&self.stats.write_errors, 1);
        }
    }

    /// Calls the sink; a panic in it becomes an error (and is counted), so
    /// the writer and the other sinks go on.
    fn call<T>(
        &mut self,
        counters: &Counters,
        f: impl FnOnce(&mut dyn Sink) -> io::Result<T>,
    ) -> io::Result<T> {
        let sink = &mut *self.sink;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(sink))) {
            Ok(r) => r,
            Err(_) => {
                Counters::add(&counters.sink_panics, 1);
                Err(io::Error::other("the sink panicked"))
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn has_backlog(&self) -> bool {
        !self.backlog.is_empty()
    }

    /// Writes as much as the sink takes; on error, schedules a retry.
    fn write_all(&mut self, mut buf: &[u8], counters: &Counters) -> usize {
        let total = buf.len();
        while !buf.is_empty() {
            match self.call(counters, |s| s.write(buf)) {
                Ok(0) => {
                    self.failed(counters);
                    break;
                }
                Ok(n) => {
                    let n = n.min(buf.len());
                    Counters::add(&self.stats.bytes, n as u64);
                    buf = &buf[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.failed(counters);
                    break;
                }
            }
        }
        if buf.is_empty() {
            self.retry_at = None;
            self.backoff = BACKOFF_MIN;
        }
        total - buf.len()
    }

    fn failed(&mut self, counters: &Counters) {
        Counters::add(&counters.sink_errors, 1);
        Counters::add(&self.stats.write_errors, 1);
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    /// Keeps unwritten bytes for a retry. What does not fit the bound is lost
    /// and counted in whole lines; a partly written line is completed first
    /// so the output never holds a torn line.
    fn queue(&mut self, bytes: &[u8], counters: &Counters) {
        let room = self.backlog_limit.saturating_sub(self.backlog.len());
        if bytes.len() <= room {
            self.backlog.extend_from_slice(bytes);
            return;
        }
        // Keep whole lines only.
        let keep = bytes[..room]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        self.backlog.extend_from_slice(&bytes[..keep]);
        let lost = bytes[keep..].iter().filter(|&&b| b == b'\n').count() as u64;
        Counters::add(&counters.sink_lost, lost);
        Counters::add(&self.stats.lost_lines, lost);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, Mutex};

    /// Fails while `fail` is set; takes at most `chunk` bytes a write.
    struct Flaky {
        out: Arc<Mutex<Vec<u8>>>,
        fail: Arc<Mutex<bool>>,
        chunk: usize,
    }

    impl Sink for Flaky {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if *self.fail.lock().unwrap() {
                return Err(io::Error::other("down"));
            }
            let n = buf.len().min(self.chunk);
            self.out.lock().unwrap().extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn failing_sink_keeps_lines_in_order_and_recovers() {
        let out = Arc::new(Mutex::new(Vec::new()));
        let fail = Arc::new(Mutex::new(false));
        let counters = Counters::default();
        let mut slot = SinkSlot::new(
            Box::new(Flaky {
                out: out.clone(),
                fail: fail.clone(),
                chunk: 7,
            }),
            1 << 20,
        );
        slot.submit(b"{\"a\":1}\n", &counters);
        *fail.lock().unwrap() = true;
        slot.submit(b"{\"a\":2}\n", &counters);
        slot.submit(b"{\"a\":3}\n", &counters);
        assert!(slot.has_backlog());
        assert!(counters.sink_errors.load(Ordering::Relaxed) >= 1);
        *fail.lock().unwrap() = false;
        slot.flush(&counters);
        assert!(!slot.has_backlog());
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        let vals: Vec<i64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["a"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(vals, vec![1, 2, 3]);
    }

    #[test]
    fn full_backlog_counts_lost_lines_and_keeps_whole_lines() {
        let out = Arc::new(Mutex::new(Vec::new()));
        let fail = Arc::new(Mutex::new(true));
        let counters = Counters::default();
        let mut slot = SinkSlot::new(
            Box::new(Flaky {
                out: out.clone(),
                fail: fail.clone(),
                chunk: usize::MAX,
            }),
            20,
        );
        slot.submit(b"{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", &counters);
        assert_eq!(counters.sink_lost.load(Ordering::Relaxed), 1);
        *fail.lock().unwrap() = false;
        slot.flush(&counters);
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 2);
        for l in text.lines() {
            serde_json::from_str::<serde_json::Value>(l).unwrap();
        }
    }
}
