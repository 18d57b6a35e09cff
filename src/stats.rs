//! Counters a user can read with [`crate::stats()`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the engine's counters.
///
/// # Accounting
///
/// Every record made by an enabled call (a log call the filter let through,
/// or a span record) on a running engine is *produced*, and is then exactly
/// one of:
///
/// * `written`: encoded and handed to the sinks (replayed records included);
/// * `span_records`: a span record taken by the writer for the exporters;
/// * `dropped`: lost to a full ring under `Overflow::Drop` (or a writer
///   that had stopped);
/// * `sampled_out`: removed by log sampling, at the call (its call site's
///   sampler, or its trace unsampled under `Unsampled::Drop`) or by the
///   writer (it left the debug buffer without an error in its trace);
/// * `buffered`: held in the debug buffer right now;
/// * still queued in a ring, on its way to the writer.
///
/// After [`crate::flush()`] returns (and the calls before it are done),
/// nothing is queued, so
///
/// ```text
/// produced == written + span_records + dropped + sampled_out + buffered
/// ```
///
/// holds exactly (`corrupt` should stay 0). `discarded` counts the calls the
/// engine could not take at all (before `init()`, after shutdown, while the
/// thread's storage was torn down): they are not produced. The writer's own
/// notices (`notices`) are lines, not produced records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records made by enabled calls (after filtering; log sampling's
    /// decisions included): see Accounting above.
    pub produced: u64,
    /// Records the writer encoded and handed to the sinks.
    pub written: u64,
    /// Records lost because a ring was full under `Overflow::Drop`, or because
    /// the writer had stopped while a call waited under `Overflow::Block`.
    pub dropped: u64,
    /// Calls made before `init()`, after shutdown, or while the thread's
    /// thread-local storage was being torn down: counted, never captured.
    pub discarded: u64,
    /// Records whose text was cut to fit the record limit (they are written,
    /// with `"truncated":true`).
    pub truncated: u64,
    /// Byte-string values holding invalid UTF-8, written with U+FFFD in place
    /// of each invalid sequence.
    pub invalid_utf8: u64,
    /// Records that could not be decoded (should stay 0; counted, never fatal).
    pub corrupt: u64,
    /// Fields whose `Value` impl recorded no value (written as `null`) or
    /// more than one (the first kept, the others dropped), so that no later
    /// field lands on the wrong key. Counted on the calling thread, for the
    /// whole process.
    pub misrecorded_values: u64,
    /// Values redacted (written as `[REDACTED]` or as a keyed hash), all
    /// rules: fields whose key names a secret, and secrets found in string
    /// values (see [`crate::redact`]). Counted once per output: a value
    /// written to the JSON sinks and exported counts twice.
    pub redacted: u64,
    /// [`Stats::redacted`] by rule (`key`, `bearer`, `jwt`, `cloud_key`,
    /// `pem`, `url_credentials`, `card`, `email`).
    pub redacted_by_rule: crate::redact::RedactCounts,
    /// Notices the writer emitted itself (drop reports).
    pub notices: u64,
    /// Bytes of JSON encoded for the sinks.
    pub bytes: u64,
    /// Failed sink writes (each is retried with backoff).
    pub sink_errors: u64,
    /// Sink calls that panicked (also counted in `sink_errors`): the panic
    /// is caught, the batch kept for a retry with backoff, and the other
    /// sinks and the engine go on.
    pub sink_panics: u64,
    /// Lines a sink could not take after retries, because its bounded retry
    /// backlog was full.
    pub sink_lost: u64,
    /// Threads with a live ring.
    pub threads: u64,
    /// Log records sampled out, all causes:
    /// `sampled_out_callsite + sampled_out_unsampled + sampled_out_buffer`.
    /// Exact once the calls are done and [`crate::flush()`] returned.
    pub sampled_out: u64,
    /// [`Stats::sampled_out`] per level, indexed by `Level as usize`
    /// (`TRACE = 0` … `FATAL = 5`).
    pub sampled_out_by_level: [u64; 6],
    /// Sampled out by their call site's sampler (first N per period, then
    /// every Mth); per call site: [`crate::sampling_stats`].
    pub sampled_out_callsite: u64,
    /// Sampled out at the call because their trace was not sampled
    /// (`Unsampled::Drop`).
    pub sampled_out_unsampled: u64,
    /// Records of unsampled traces (`Unsampled::Buffer`) that left the debug
    /// buffer without an error in their trace: evicted by its bounds, too
    /// large for it, or still held at shutdown.
    pub sampled_out_buffer: u64,
    /// Records of unsampled traces held in the debug buffer now (produced,
    /// neither written nor sampled out yet).
    pub buffered: u64,
    /// Bytes held in the debug buffer now: its records, each with its
    /// thread's name (at most the buffer's `bytes` bound).
    pub buffered_bytes: u64,
    /// Records written from the debug buffer because an error came in their
    /// trace (`"replayed":true`); counted in `written` too.
    pub replayed: u64,
    /// Span records (start, attributes, events, status, end; a span without
    /// fields that nothing was recorded on is one record) the writer took
    /// from the rings: handed to the export thread when an exporter takes
    /// spans, used for span lines when they are on. Written only while an
    /// exporter that takes spans is configured or span lines are on
    /// (`Builder::span_fields`, `Builder::span_ends`).
    pub span_records: u64,
    /// Span-end lines written (`Builder::span_ends`): lines, like the
    /// notices, not produced records (a span's end is in `span_records`).
    pub span_end_lines: u64,
    /// Spans started while the writer's table of live spans was full
    /// (4096 spans; span lines on): the lines inside them carry their ids
    /// but not the span's name and fields, and their end line has no
    /// fields, start or duration. Nothing is lost.
    pub span_table_full: u64,
    /// Times a span's fields were left out of the lines (span lines on),
    /// counted per span start or attribute record cut: more than 2 KiB of
    /// recorded fields, or a span's piece of a line over 2 KiB.
    pub span_fields_cut: u64,
    /// Log records handed to the exporters: `export_delivered_logs +
    /// export_failed_logs` plus what an exporter holds in a batch not sent
    /// yet (none after [`crate::flush()`]).
    pub exported_logs: u64,
    /// Spans handed to the exporters (the same sum as `exported_logs`).
    pub exported_spans: u64,
    /// Log records the exporters delivered (the OTLP collector accepted
    /// them; `MemoryExporter` stored them). An exporter of your own reports
    /// nothing here.
    pub export_delivered_logs: u64,
    /// Log records whose batch an exporter gave up (failed after its
    /// retries, timed out, or the exporter could not start): told in the
    /// JSON output too, by a WARN line from `datapunk_log::export`.
    pub export_failed_logs: u64,
    /// Spans the exporters delivered (as `export_delivered_logs`).
    pub export_delivered_spans: u64,
    /// Spans whose batch an exporter gave up (as `export_failed_logs`).
    pub export_failed_spans: u64,
    /// Log records not exported because the export side was behind (its
    /// fixed set of buffers was in use). They are still written as JSON.
    pub export_dropped_logs: u64,
    /// Log records queued for the export thread and not yet handed to an
    /// exporter. After a shutdown whose timeout ran out (a collector down
    /// or stalled holds the export thread in a send), these are the records
    /// it never reached: `exported_logs + export_dropped_logs +
    /// export_pending_logs` covers every log record offered to the export
    /// side.
    pub export_pending_logs: u64,
    /// Spans not exported: the export side was behind, or they were the
    /// oldest open spans when more than 65 536 were open at once.
    pub export_dropped_spans: u64,
    /// Span attribute, event, status or end records whose start was dropped.
    pub export_orphans: u64,
    /// File sinks, all of them: rotations done (live file renamed, a new
    /// one created). Per sink: [`crate::sink_stats()`].
    pub file_rotations: u64,
    /// File sinks: rotations put off because the rename failed (the sink
    /// goes on appending to the live file and tries again with backoff).
    pub file_rotate_errors: u64,
    /// File sinks: rotated files deleted by retention.
    pub files_deleted: u64,
    /// File sinks: jobs (compression, retention) queued for the sinks'
    /// file threads and not finished yet (a gauge).
    pub compress_backlog: u64,
    /// File sinks: rotated files left uncompressed because the file
    /// thread's queue was full (retention still applies to them).
    pub compress_skipped: u64,
    /// File sinks: compressions or deletions that failed (the rotated file
    /// is left as it was).
    pub compress_errors: u64,
}

/// The figures of one sink, from [`crate::sink_stats()`], in the order the
/// sinks were added to the builder.
///
/// The file figures (`rotations` and after) stay 0 for sinks other than
/// those added with [`crate::Builder::file`] or [`crate::Builder::json_file`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// What the sink is: `stdout`, `stderr`, `null`, `memory`, `custom`, or
    /// the file sink's path.
    pub name: String,
    /// Bytes the sink took (JSON lines, retries included once).
    pub bytes: u64,
    /// Failed writes (each is retried with backoff; also in
    /// [`Stats::sink_errors`]).
    pub write_errors: u64,
    /// Lines lost because the sink's retry backlog was full (also in
    /// [`Stats::sink_lost`]).
    pub lost_lines: u64,
    /// Rotations done.
    pub rotations: u64,
    /// Rotations put off because the rename failed.
    pub rotate_errors: u64,
    /// Rotated files deleted by retention.
    pub files_deleted: u64,
    /// Rotated files compressed.
    pub compressed: u64,
    /// Jobs queued for the file thread, not finished yet (a gauge).
    pub compress_backlog: u64,
    /// Rotated files left uncompressed because the queue was full.
    pub compress_skipped: u64,
    /// Compressions or deletions that failed.
    pub compress_errors: u64,
}

/// The live counters of one sink, shared by its slot in the writer, the
/// sink itself (file sinks) and its file thread.
#[derive(Debug, Default)]
pub(crate) struct SinkCounters {
    pub name: String,
    pub bytes: AtomicU64,
    pub write_errors: AtomicU64,
    pub lost_lines: AtomicU64,
    pub rotations: AtomicU64,
    pub rotate_errors: AtomicU64,
    pub files_deleted: AtomicU64,
    pub compressed: AtomicU64,
    pub compress_backlog: AtomicU64,
    pub compress_skipped: AtomicU64,
    pub compress_errors: AtomicU64,
}

impl SinkCounters {
    pub(crate) fn new(name: impl Into<String>) -> SinkCounters {
        SinkCounters {
            name: name.into(),
            ..SinkCounters::default()
        }
    }

    pub(crate) fn snapshot(&self) -> SinkStats {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SinkStats {
            name: self.name.clone(),
            bytes: r(&self.bytes),
            write_errors: r(&self.write_errors),
            lost_lines: r(&self.lost_lines),
            rotations: r(&self.rotations),
            rotate_errors: r(&self.rotate_errors),
            files_deleted: r(&self.files_deleted),
            compressed: r(&self.compressed),
            compress_backlog: r(&self.compress_backlog),
            compress_skipped: r(&self.compress_skipped),
            compress_errors: r(&self.compress_errors),
        }
    }
}

/// Adds the file sinks' figures to `s`.
pub(crate) fn add_sink_totals(s: &mut Stats, sinks: &[Arc<SinkCounters>]) {
    // Without a snapshot: `stats()` allocates nothing.
    let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
    for c in sinks {
        s.file_rotations += r(&c.rotations);
        s.file_rotate_errors += r(&c.rotate_errors);
        s.files_deleted += r(&c.files_deleted);
        s.compress_backlog += r(&c.compress_backlog);
        s.compress_skipped += r(&c.compress_skipped);
        s.compress_errors += r(&c.compress_errors);
    }
}

/// Counters kept by the writer and the engine.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub written: AtomicU64,
    pub discarded: AtomicU64,
    pub corrupt: AtomicU64,
    pub notices: AtomicU64,
    pub bytes: AtomicU64,
    pub sink_errors: AtomicU64,
    pub sink_panics: AtomicU64,
    pub sink_lost: AtomicU64,
    pub truncated: AtomicU64,
    pub invalid_utf8: AtomicU64,
    pub span_records: AtomicU64,
    pub span_end_lines: AtomicU64,
    pub span_table_full: AtomicU64,
    pub span_fields_cut: AtomicU64,
    /// Debug buffer: records evicted (sampled out), per level.
    pub buffer_evicted: [AtomicU64; crate::sampler::logs::LEVELS],
    /// Debug buffer: records held now (a gauge the writer stores).
    pub buffered: AtomicU64,
    /// Debug buffer: bytes held now (a gauge the writer stores).
    pub buffered_bytes: AtomicU64,
    /// Debug buffer: records replayed.
    pub replayed: AtomicU64,
    /// Each sink's own counters, in the builder's order (set by `init()`).
    pub sinks: std::sync::OnceLock<Vec<Arc<SinkCounters>>>,
}

impl Counters {
    pub(crate) fn add(c: &AtomicU64, n: u64) {
        if n != 0 {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }
}
