//! datapunk-log as a subject.

use datapunk_log::{ClockSource, Guard, Overflow, Stats};

use super::{Finished, Logger, Setup};
use crate::profile::OverflowKind;

pub struct Datapunk {
    guard: Guard,
}

impl Datapunk {
    pub fn new(clock: ClockSource, setup: &Setup) -> Result<Datapunk, String> {
        let ring_capacity = setup
            .ring_capacity
            .unwrap_or(datapunk_log::DEFAULT_RING_CAPACITY);
        let mut b = datapunk_log::builder()
            .json_file(&setup.path)
            .overflow(match setup.overflow {
                OverflowKind::Block => Overflow::Block,
                OverflowKind::Drop => Overflow::Drop,
            })
            .ring_capacity(ring_capacity)
            .clock(clock)
            .filter("info")
            .ignore_env();
        if let Some(n) = setup.batch_bytes {
            b = b.batch_bytes(n);
        }
        let guard = b.init().map_err(|e| format!("datapunk-log init: {e}"))?;
        Ok(Datapunk::with_guard(guard))
    }

    /// The engine `guard` installed, measured as a subject (the reload
    /// scenario configures its own).
    pub fn with_guard(guard: Guard) -> Datapunk {
        Datapunk { guard }
    }
}

/// The enabled call every datapunk-log logger of the harness makes (the
/// latency, throughput and collector scenarios).
#[inline(always)]
pub fn log_info(user_id: u64, latency: f64, route: &str) {
    datapunk_log::info!(user_id, latency, route, "request handled");
}

/// The same call at DEBUG, which the INFO filter rejects.
#[inline(always)]
pub fn log_debug(user_id: u64, latency: f64, route: &str) {
    datapunk_log::debug!(user_id, latency, route, "request handled");
}

impl Logger for Datapunk {
    #[inline(always)]
    fn log(&self, user_id: u64, latency: f64, route: &str) {
        log_info(user_id, latency, route);
    }

    #[inline(always)]
    fn log_disabled(&self, user_id: u64, latency: f64, route: &str) {
        log_debug(user_id, latency, route);
    }

    fn dropped(&self) -> Option<u64> {
        Some(datapunk_log::stats().dropped)
    }

    /// Backs every page of this thread's ring before measuring
    /// (`prepare_thread`): a 64 MiB ring would otherwise take a page fault
    /// every 4 KiB of records on its first lap, inside the timed calls.
    fn prefault(&self, _route: &str) -> u64 {
        datapunk_log::prepare_thread();
        0
    }

    fn settle(&self, _calls: u64) {
        datapunk_log::flush();
    }

    fn finish(self, _calls: u64) -> Result<Finished, String> {
        datapunk_log::flush();
        let drained_at = std::time::Instant::now();
        let s = datapunk_log::stats();
        drop(self.guard);
        if s.produced != s.written + s.dropped {
            return Err(format!(
                "datapunk-log stats do not add up after flush(): {s:?}"
            ));
        }
        Ok(Finished {
            drained_at,
            extra_lines: s.notices,
            consumed: None,
            dropped: Some(s.dropped),
            stats: Some(stats_json(&s)),
        })
    }
}

pub fn stats_json(s: &Stats) -> serde_json::Value {
    serde_json::json!({
        "produced": s.produced,
        "written": s.written,
        "dropped": s.dropped,
        "discarded": s.discarded,
        "truncated": s.truncated,
        "corrupt": s.corrupt,
        "notices": s.notices,
        "bytes": s.bytes,
        "sink_errors": s.sink_errors,
        "sink_lost": s.sink_lost,
        "threads": s.threads,
    })
}
