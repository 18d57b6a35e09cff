//! Whether export is failing, for the writer's notices: exporters record
//! each batch's outcome here (the export thread cannot log: it is muted),
//! and the writer turns a run of failures into a WARN line in the JSON
//! output (at most one per interval) and its end into an INFO line.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

static OK_BATCHES: AtomicU64 = AtomicU64::new(0);
static FAILED_BATCHES: AtomicU64 = AtomicU64::new(0);
static FAILED_LOGS: AtomicU64 = AtomicU64::new(0);
static FAILED_SPANS: AtomicU64 = AtomicU64::new(0);
static DELIVERED_LOGS: AtomicU64 = AtomicU64::new(0);
static DELIVERED_SPANS: AtomicU64 = AtomicU64::new(0);
/// The last batch's outcome.
static LAST_OK: AtomicBool = AtomicBool::new(true);
/// The last failure's description (at most [`MAX_ERROR`] bytes).
static LAST_ERROR: Mutex<String> = Mutex::new(String::new());
const MAX_ERROR: usize = 512;

/// A batch of `logs` log records and `spans` spans was delivered (to the
/// collector; for `MemoryExporter`, stored).
pub(crate) fn delivered(logs: u64, spans: u64) {
    DELIVERED_LOGS.fetch_add(logs, Relaxed);
    DELIVERED_SPANS.fetch_add(spans, Relaxed);
    OK_BATCHES.fetch_add(1, Relaxed);
    LAST_OK.store(true, Relaxed);
}

/// A batch of `logs` log records and `spans` spans was given up; `error`
/// says why.
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) fn failed(logs: u64, spans: u64, error: &str) {
    {
        let mut last = LAST_ERROR.lock().unwrap_or_else(|e| e.into_inner());
        last.clear();
        last.push_str(&error[..error.floor_char_boundary(MAX_ERROR)]);
    }
    FAILED_LOGS.fetch_add(logs, Relaxed);
    FAILED_SPANS.fetch_add(spans, Relaxed);
    FAILED_BATCHES.fetch_add(1, Relaxed);
    LAST_OK.store(false, Relaxed);
}

/// The totals so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Health {
    pub ok_batches: u64,
    pub failed_batches: u64,
    pub failed_logs: u64,
    pub failed_spans: u64,
    pub delivered_logs: u64,
    pub delivered_spans: u64,
    /// The last batch was delivered.
    pub last_ok: bool,
}

pub(crate) fn now() -> Health {
    Health {
        failed_batches: FAILED_BATCHES.load(Relaxed),
        ok_batches: OK_BATCHES.load(Relaxed),
        failed_logs: FAILED_LOGS.load(Relaxed),
        failed_spans: FAILED_SPANS.load(Relaxed),
        delivered_logs: DELIVERED_LOGS.load(Relaxed),
        delivered_spans: DELIVERED_SPANS.load(Relaxed),
        last_ok: LAST_OK.load(Relaxed),
    }
}

/// The last failure's description.
pub(crate) fn last_error() -> String {
    LAST_ERROR.lock().unwrap_or_else(|e| e.into_inner()).clone()
}
