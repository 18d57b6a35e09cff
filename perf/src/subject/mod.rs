//! The loggers under test ("subjects").
//!
//! Every subject logs the same record — the message "request handled" with
//! `user_id: u64`, `latency: f64` and `route: &str` — into a file, from one
//! producer thread, through its own background thread: JSON lines, except
//! ticklog (text lines, see [`Output`]) and the floor (no file: a 64-byte
//! capture its drain thread pops and checks). A
//! subject is a [`SubjectKind`] (what a profile names) and a type
//! implementing [`Logger`]; the scenarios are generic over `Logger`, so each
//! call is monomorphized and inlined into the timed loop exactly as in an
//! application (no dynamic dispatch added by the harness).
//!
//! To add a peer: a variant here, a module implementing [`Logger`], an arm
//! in [`with_logger`].

pub mod datapunk;
mod floor;
pub use floor::DRAIN_PERIOD as FLOOR_DRAIN_PERIOD;
mod slog_peer;
mod ticklog_peer;
mod tracing_peer;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::profile::OverflowKind;
use crate::scenario::ScenarioKind;

/// A subject a profile can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubjectKind {
    /// datapunk-log, `ClockSource::Precise` (TSC).
    DatapunkPrecise,
    /// datapunk-log, `ClockSource::Coarse` (writer-refreshed clock).
    DatapunkCoarse,
    /// tracing + tracing-subscriber JSON + tracing-appender non_blocking.
    Tracing,
    /// slog + slog-async + slog-json.
    Slog,
    /// ticklog: per-thread binary ring + rdtsc, text lines (latency and
    /// throughput scenarios).
    Ticklog,
    /// The floor of a capture: one TSC read + a 64-byte push into an rtrb
    /// ring drained every 200 µs (latency scenario only).
    Floor,
    /// The OpenTelemetry SDK (span and OTLP scenarios only).
    OtelSdk,
    /// tracing + tracing-opentelemetry into the OpenTelemetry SDK (span
    /// scenario only).
    TracingOtel,
}

/// Every subject, in the order `--list-subjects` prints them.
pub const ALL_SUBJECTS: [SubjectKind; 8] = [
    SubjectKind::DatapunkPrecise,
    SubjectKind::DatapunkCoarse,
    SubjectKind::Tracing,
    SubjectKind::Slog,
    SubjectKind::Ticklog,
    SubjectKind::Floor,
    SubjectKind::OtelSdk,
    SubjectKind::TracingOtel,
];

impl SubjectKind {
    pub fn name(self) -> &'static str {
        match self {
            SubjectKind::DatapunkPrecise => "datapunk-precise",
            SubjectKind::DatapunkCoarse => "datapunk-coarse",
            SubjectKind::Tracing => "tracing",
            SubjectKind::Slog => "slog",
            SubjectKind::Ticklog => "ticklog",
            SubjectKind::Floor => "floor",
            SubjectKind::OtelSdk => "otel-sdk",
            SubjectKind::TracingOtel => "tracing-otel",
        }
    }

    pub fn parse(s: &str) -> Option<SubjectKind> {
        ALL_SUBJECTS.into_iter().find(|k| k.name() == s)
    }

    /// Whether this subject takes part in `scen`.
    pub fn runs(self, scen: ScenarioKind) -> bool {
        use SubjectKind::*;
        match scen {
            ScenarioKind::Latency => {
                matches!(
                    self,
                    DatapunkPrecise | DatapunkCoarse | Tracing | Slog | Ticklog | Floor
                )
            }
            // The floor writes nothing: no records/s figure (see `floor`).
            ScenarioKind::Throughput => {
                matches!(
                    self,
                    DatapunkPrecise | DatapunkCoarse | Tracing | Slog | Ticklog
                )
            }
            ScenarioKind::Spans => {
                matches!(
                    self,
                    DatapunkPrecise | DatapunkCoarse | OtelSdk | TracingOtel
                )
            }
            ScenarioKind::Otlp => matches!(self, DatapunkPrecise | DatapunkCoarse | OtelSdk),
            ScenarioKind::Collector | ScenarioKind::Reload => matches!(self, DatapunkPrecise),
            ScenarioKind::Sampling => matches!(self, DatapunkPrecise | OtelSdk),
        }
    }

    /// What the subject is in `scen`.
    pub fn description_for(self, scen: ScenarioKind) -> &'static str {
        match scen {
            ScenarioKind::Latency | ScenarioKind::Throughput => self.description(),
            ScenarioKind::Spans => crate::spans::description(self),
            ScenarioKind::Otlp => crate::otlp::description(self),
            ScenarioKind::Collector => crate::collector::DESCRIPTION,
            ScenarioKind::Reload => crate::reload::DESCRIPTION,
            ScenarioKind::Sampling => crate::sampling::subject_description(self),
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            SubjectKind::DatapunkPrecise => "datapunk-log, precise clock (TSC), JSON file sink",
            SubjectKind::DatapunkCoarse => {
                "datapunk-log, coarse clock (writer-refreshed), JSON file sink"
            }
            SubjectKind::Tracing => {
                "tracing 0.1 + tracing-subscriber fmt().json() (thread names on) + tracing-appender non_blocking, rolling::never file"
            }
            SubjectKind::Slog => {
                "slog 2 + slog-async + slog-json (default keys), BufWriter<File> 64 KiB on the async thread"
            }
            SubjectKind::Ticklog => {
                "ticklog 0.1 (per-thread 1 MiB binary ring + rdtsc; text lines \"{timestamp} {level} {message}\"), its FileSink set-up (BufWriter<File> 64 KiB) on its spinning drain thread; Backpressure::Drop (latency) / Block (throughput), compile-time INFO ceiling"
            }
            SubjectKind::Floor => {
                "floor: one rdtsc + a 64-byte push into an rtrb ring (ts, u64, f64, route bytes), drained by a thread waking every 200 µs that writes nothing; disabled = a relaxed level load and a branch (latency scenario only)"
            }
            SubjectKind::OtelSdk => {
                "opentelemetry_sdk 0.33 (span, OTLP and sampling scenarios only)"
            }
            SubjectKind::TracingOtel => {
                "tracing 0.1 + tracing-opentelemetry 0.34 into opentelemetry_sdk 0.33 (span scenario only)"
            }
        }
    }

    pub fn is_datapunk(self) -> bool {
        matches!(
            self,
            SubjectKind::DatapunkPrecise | SubjectKind::DatapunkCoarse
        )
    }

    /// Another logger, measured for comparison (not datapunk-log, not the
    /// floor).
    pub fn is_peer(self) -> bool {
        !self.is_datapunk() && self != SubjectKind::Floor
    }

    /// What the subject leaves behind for the harness to verify.
    pub fn output(self) -> Output {
        match self {
            SubjectKind::Ticklog => Output::TextFile,
            SubjectKind::Floor => Output::Consumed,
            _ => Output::JsonFile,
        }
    }
}

/// How a subject's records are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// JSON lines: each sampled line parsed with serde_json.
    JsonFile,
    /// Text lines `<timestamp> <level> request handled user_id=N
    /// latency=F route=S`: each sampled line split and its fields parsed.
    TextFile,
    /// No file: the subject's consumer pops and checks every record and
    /// reports how many ([`Finished::consumed`]).
    Consumed,
}

/// How a scenario configures its subject.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The JSON-lines file (removed first if it exists).
    pub path: PathBuf,
    pub overflow: OverflowKind,
    /// datapunk-log ring bytes (None: library default).
    pub ring_capacity: Option<usize>,
    /// datapunk-log batch bytes (None: library default).
    pub batch_bytes: Option<usize>,
    /// Peers' queue length (None: the peer's default).
    pub peer_queue: Option<usize>,
}

/// What a subject says once everything is in the file.
#[derive(Debug)]
pub struct Finished {
    /// When the last record was in the file (before any shutdown work).
    pub drained_at: Instant,
    /// Lines in the file that are not records of ours (datapunk-log's
    /// drop notices).
    pub extra_lines: u64,
    /// Drops the subject counted itself, when it counts them.
    pub dropped: Option<u64>,
    /// The subject's own counters, when it has any.
    pub stats: Option<serde_json::Value>,
    /// Subjects that write no file ([`Output::Consumed`]): the records
    /// their consumer received, each checked.
    pub consumed: Option<u64>,
}

/// One logger under test, set up for one scenario.
pub trait Logger {
    /// The enabled call: INFO, message + three fields.
    fn log(&self, user_id: u64, latency: f64, route: &str);
    /// The same call at DEBUG, which the filter (INFO) rejects.
    fn log_disabled(&self, user_id: u64, latency: f64, route: &str);
    /// Records dropped so far, when the subject counts them live.
    fn dropped(&self) -> Option<u64>;
    /// Untimed preparation after the generic warm-up (e.g. touching every
    /// page of a ring so page faults do not land in the measurements).
    /// Returns the enabled calls it made.
    fn prefault(&self, _route: &str) -> u64 {
        0
    }
    /// Waits (untimed) until the background thread has caught up with the
    /// `calls` made so far, so the next measurement starts from quiet.
    fn settle(&self, calls: u64);
    /// Waits until every record of the `calls` made is in the file (or was
    /// dropped), noting when that was in [`Finished::drained_at`], and shuts
    /// the subject's pipeline down.
    fn finish(self, calls: u64) -> Result<Finished, String>;
}

/// Sets up `kind` for a scenario and hands it to `f`, monomorphized.
pub fn with_logger<R>(kind: SubjectKind, setup: &Setup, f: impl LoggerFn<R>) -> Result<R, String> {
    remove_if_exists(&setup.path)?;
    if let Some(dir) = setup.path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    match kind {
        SubjectKind::DatapunkPrecise => Ok(f.call(datapunk::Datapunk::new(
            datapunk_log::ClockSource::Precise,
            setup,
        )?)),
        SubjectKind::DatapunkCoarse => Ok(f.call(datapunk::Datapunk::new(
            datapunk_log::ClockSource::Coarse,
            setup,
        )?)),
        SubjectKind::Tracing => Ok(f.call(tracing_peer::Tracing::new(setup)?)),
        SubjectKind::Slog => Ok(f.call(slog_peer::Slog::new(setup)?)),
        SubjectKind::Ticklog if ticklog_peer::blocking(setup) => {
            Ok(f.call(ticklog_peer::Ticklog::<true>::new(setup)?))
        }
        SubjectKind::Ticklog => Ok(f.call(ticklog_peer::Ticklog::<false>::new(setup)?)),
        SubjectKind::Floor => Ok(f.call(floor::Floor::new(setup)?)),
        other => Err(format!("{} is not a logger of JSON files", other.name())),
    }
}

/// A generic function over loggers (closures cannot be generic).
pub trait LoggerFn<R> {
    fn call<L: Logger>(self, logger: L) -> R;
}

fn remove_if_exists(p: &Path) -> Result<(), String> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", p.display())),
    }
}

/// Polls `done` (sleeping 50 µs between looks) until it holds or `limit`
/// passes; false on timeout.
pub(crate) fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// How long `finish` and `settle` wait for a background thread at most.
const DRAIN_LIMIT: Duration = Duration::from_secs(300);

/// For peers with no barrier and no drop count: waits until `lines` (the
/// lines that reached the file) reach `calls`, or stop moving for 20 ms
/// (then the rest were dropped, or sit in a buffer the peer flushes later).
pub(crate) fn settle_lines(lines: &std::sync::atomic::AtomicU64, calls: u64) {
    use std::sync::atomic::Ordering;
    let start = Instant::now();
    let mut last = lines.load(Ordering::Acquire);
    let mut since = Instant::now();
    while start.elapsed() < DRAIN_LIMIT && last < calls {
        std::thread::sleep(Duration::from_millis(1));
        let now = lines.load(Ordering::Acquire);
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= Duration::from_millis(20) {
            return;
        }
    }
}

/// Counts the newlines that reach the file, so the harness knows when a
/// peer's background thread has written everything (peers expose no
/// barrier like `datapunk_log::flush()`). Counting costs the background
/// thread a vectorized byte scan of each write, a few ns per line.
pub(crate) struct CountingWriter<W> {
    inner: W,
    lines: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<W> CountingWriter<W> {
    pub(crate) fn new(inner: W, lines: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Self {
        CountingWriter { inner, lines }
    }
}

/// A peer's output: the run's log file opened for appending, behind a
/// counting writer and a 64 KiB buffer; and its line counter.
pub(crate) type CountedFile = std::io::BufWriter<CountingWriter<std::fs::File>>;

pub(crate) fn counted_file(
    setup: &Setup,
) -> Result<(CountedFile, std::sync::Arc<std::sync::atomic::AtomicU64>), String> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&setup.path)
        .map_err(|e| format!("cannot open {}: {e}", setup.path.display()))?;
    let lines = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let out =
        std::io::BufWriter::with_capacity(64 * 1024, CountingWriter::new(file, lines.clone()));
    Ok((out, lines))
}

impl<W: std::io::Write> std::io::Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let nl = buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        if nl > 0 {
            self.lines
                .fetch_add(nl, std::sync::atomic::Ordering::Release);
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
