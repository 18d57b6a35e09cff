//! Building and installing the engine.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::clock::{ClockSource, Converter};
use crate::encode::span_table::SpanLines;
use crate::encode::{FORMAT_ENV, Format, Stream, resolve};
use crate::engine::{self, Engine, Settings};
use crate::export::{Exporter, Pipeline};
use crate::level::{DirectiveError, Directives, Level, LevelFilter};
use crate::overflow::Overflow;
use crate::record::{MIN_RECORD_LIMIT, SLACK};
use crate::resource::{AttrValue, Resource, ResourceBuilder};
use crate::sampler::{LogPolicy, LogSampling, Sampler, SamplingConfig, Unsampled};
use crate::signal::SignalFlush;
use crate::sink::{
    DEFAULT_BACKLOG, FileConfig, FileSink, MemorySink, NullSink, Sink, SinkSlot, StderrSink,
    StdoutSink,
};
use crate::stats::SinkCounters;
use crate::writer::{EXPORT_SEND_BYTES, Writer, WriterConfig, WriterSampling};

#[cfg(feature = "config-file")]
mod file;
mod reload;

#[cfg(feature = "config-file")]
pub use file::{ReloadFileError, reload_config_file};
pub use reload::{Reload, ReloadError, reload};

#[cfg(feature = "config-file")]
pub mod otel_file;

/// The environment variable of the periodic "engine stats" record's
/// interval (`60s`; see [`Builder::stats_interval`]).
pub const STATS_INTERVAL_ENV: &str = "DATAPUNK_LOG_STATS_INTERVAL";

/// The environment variable holding filter directives (`info,my_crate::db=debug`).
pub const FILTER_ENV: &str = "DATAPUNK_LOG";

/// Why `init()` failed.
#[derive(Debug)]
pub enum InitError {
    /// An engine is already installed; its structure is fixed after first use.
    AlreadyInitialized,
    /// A filter directive (from the builder or `DATAPUNK_LOG`) is invalid.
    Filter {
        /// Where the directives came from.
        source: &'static str,
        /// What is wrong, naming the bad part.
        error: DirectiveError,
    },
    /// A file sink could not be opened.
    File {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// A setting is out of range.
    Config(String),
    /// An environment variable's value is invalid (`DATAPUNK_LOG_SAMPLING`,
    /// `DATAPUNK_LOG_UNSAMPLED`, `DATAPUNK_LOG_BUFFER`, `DATAPUNK_LOG_REDACT`,
    /// `DATAPUNK_LOG_REDACT_HMAC_KEY`, `DATAPUNK_LOG_REDACT_HMAC_KEY_ID`,
    /// `DATAPUNK_LOG_FORMAT`).
    Env {
        /// The variable.
        variable: &'static str,
        /// What is wrong, naming the bad part.
        error: String,
    },
    /// The writer thread could not be started.
    Spawn(std::io::Error),
    /// The signal handling of `flush_on_signal` could not be set up.
    Signal(std::io::Error),
    /// An exporter's configuration is invalid (an `OTEL_*` variable, an
    /// endpoint), or the export thread could not be started.
    Export(String),
    /// The configuration file (`OTEL_CONFIG_FILE` or
    /// [`Builder::config_file`]) is invalid: the error names the file, the
    /// line and column, and the key.
    #[cfg(feature = "config-file")]
    ConfigFile(otel_file::ConfigFileError),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::AlreadyInitialized => f.write_str("datapunk-log is already initialized"),
            InitError::Filter { source, error } => write!(f, "{source}: {error}"),
            InitError::File { path, error } => {
                write!(f, "cannot open log file {}: {error}", path.display())
            }
            InitError::Config(m) => write!(f, "invalid configuration: {m}"),
            InitError::Env { variable, error } => write!(f, "{variable}: {error}"),
            InitError::Spawn(e) => write!(f, "cannot start the writer thread: {e}"),
            InitError::Signal(e) => write!(f, "cannot set up flush on SIGTERM/SIGINT: {e}"),
            InitError::Export(m) => write!(f, "export: {m}"),
            #[cfg(feature = "config-file")]
            InitError::ConfigFile(e) => write!(f, "configuration file: {e}"),
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Filter { error, .. } => Some(error),
            #[cfg(feature = "config-file")]
            InitError::ConfigFile(e) => Some(e),
            InitError::File { error, .. } | InitError::Spawn(error) | InitError::Signal(error) => {
                Some(error)
            }
            _ => None,
        }
    }
}

enum SinkSpec {
    Stdout,
    Stderr,
    Null,
    File(PathBuf),
    Memory(MemorySink),
    Custom(Box<dyn Sink>),
    /// A file sink with rotation, retention, compression (`Builder::file`).
    Rolling(FileConfig),
}

impl SinkSpec {
    /// The sink's name in `sink_stats()`.
    fn name(&self) -> String {
        match self {
            SinkSpec::Stdout => "stdout".into(),
            SinkSpec::Stderr => "stderr".into(),
            SinkSpec::Null => "null".into(),
            SinkSpec::Memory(_) => "memory".into(),
            SinkSpec::Custom(_) => "custom".into(),
            SinkSpec::File(p) => p.display().to_string(),
            SinkSpec::Rolling(c) => c.path().display().to_string(),
        }
    }
}

/// Configures the engine; [`Builder::init`] installs it.
pub struct Builder {
    /// Each sink, with its own format when it has one.
    sinks: Vec<(SinkSpec, Option<Format>)>,
    /// The format of sinks without their own (`None`: `DATAPUNK_LOG_FORMAT`,
    /// then [`Format::Auto`]).
    format: Option<Format>,
    /// `None`: not set by the builder (the file's, else the default).
    overflow: Option<Overflow>,
    ring_capacity: Option<usize>,
    record_limit: Option<usize>,
    filter: Option<String>,
    use_env: bool,
    clock: ClockSource,
    order_window: Duration,
    idle_poll: Duration,
    batch_bytes: usize,
    sink_backlog: usize,
    shutdown_timeout: Duration,
    panic_hook: bool,
    #[cfg(feature = "log")]
    log_bridge: bool,
    #[cfg(feature = "tracing")]
    tracing_bridge: bool,
    /// Redaction: keys, value patterns, token prefixes, replacement.
    redact: crate::redact::Config,
    flush_on_signal: SignalFlush,
    exporters: Vec<Box<dyn Exporter>>,
    export_overflow: Overflow,
    resource: ResourceBuilder,
    #[cfg(feature = "opentelemetry")]
    otel_interop: bool,
    sampling: Option<SamplingConfig>,
    log_sampling: LogSampling,
    reopen_on_sighup: bool,
    /// The periodic "engine stats" record (`None`: from the environment).
    stats_interval: Option<Duration>,
    /// Span lines: span fields on lines, span-end lines (`None`: from the
    /// environment).
    span_lines: (Option<bool>, Option<bool>),
    /// Which settings the builder set (they win over the file).
    set: Explicit,
    /// The exporter of `otlp_if_configured` (left out when a file is in
    /// use: the file is authoritative over `OTEL_*`).
    env_exporter: Option<Box<dyn Exporter>>,
    #[cfg_attr(not(feature = "config-file"), allow(dead_code))]
    config_file: Option<PathBuf>,
    #[cfg_attr(not(feature = "config-file"), allow(dead_code))]
    reload_on_sighup: bool,
    #[cfg_attr(not(feature = "config-file"), allow(dead_code))]
    watch_config_file: Option<Duration>,
}

/// The settings a builder set explicitly, beyond those kept as `Option`s.
#[derive(Clone, Copy, Debug, Default)]
struct Explicit {
    unsampled: bool,
    buffer: bool,
    redaction: bool,
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    otlp: bool,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("sinks", &self.sinks.len())
            .field("overflow", &self.overflow)
            .field("ring_capacity", &self.ring_capacity)
            .field("record_limit", &self.record_limit)
            .field("filter", &self.filter)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// Default ring capacity per thread: 256 KiB.
pub const DEFAULT_RING_CAPACITY: usize = 256 * 1024;
/// Default largest record: 16 KiB (text beyond it is cut and marked).
pub const DEFAULT_RECORD_LIMIT: usize = 16 * 1024;

impl Default for Builder {
    fn default() -> Self {
        Builder {
            sinks: Vec::new(),
            format: None,
            overflow: None,
            ring_capacity: None,
            record_limit: None,
            filter: None,
            use_env: true,
            clock: ClockSource::Precise,
            order_window: Duration::from_micros(200),
            idle_poll: Duration::from_millis(1),
            batch_bytes: 256 * 1024,
            sink_backlog: DEFAULT_BACKLOG,
            shutdown_timeout: Duration::from_secs(5),
            panic_hook: true,
            flush_on_signal: SignalFlush::default(),
            exporters: Vec::new(),
            export_overflow: Overflow::Drop,
            resource: Resource::builder(),
            #[cfg(feature = "opentelemetry")]
            otel_interop: false,
            #[cfg(feature = "log")]
            log_bridge: true,
            #[cfg(feature = "tracing")]
            tracing_bridge: true,
            redact: crate::redact::Config::default(),
            sampling: None,
            log_sampling: LogSampling::default(),
            reopen_on_sighup: false,
            stats_interval: None,
            span_lines: (None, None),
            set: Explicit::default(),
            env_exporter: None,
            config_file: None,
            reload_on_sighup: false,
            watch_config_file: None,
        }
    }
}

impl Builder {
    /// Adds an appending JSON-lines file sink (parent directories are created).
    pub fn json_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.sinks
            .push((SinkSpec::File(path.into()), Some(Format::Json)));
        self
    }
    /// Adds standard output (the default when no sink is given), in the
    /// default format (see [`Builder::format`]).
    pub fn stdout(mut self) -> Self {
        self.sinks.push((SinkSpec::Stdout, None));
        self
    }
    /// Adds standard output in format `f`.
    pub fn stdout_format(mut self, f: Format) -> Self {
        self.sinks.push((SinkSpec::Stdout, Some(f)));
        self
    }
    /// Adds standard error, in the default format.
    pub fn stderr(mut self) -> Self {
        self.sinks.push((SinkSpec::Stderr, None));
        self
    }
    /// Adds standard error in format `f`.
    pub fn stderr_format(mut self, f: Format) -> Self {
        self.sinks.push((SinkSpec::Stderr, Some(f)));
        self
    }
    /// Adds a sink that discards everything (benchmarks).
    pub fn null(mut self) -> Self {
        self.sinks.push((SinkSpec::Null, None));
        self
    }
    /// Adds an in-memory sink; keep a clone to read the lines back.
    pub fn memory(mut self, sink: &MemorySink) -> Self {
        self.sinks.push((SinkSpec::Memory(sink.clone()), None));
        self
    }
    /// Adds an in-memory sink whose lines are in format `f`.
    pub fn memory_format(mut self, sink: &MemorySink, f: Format) -> Self {
        self.sinks.push((SinkSpec::Memory(sink.clone()), Some(f)));
        self
    }
    /// Adds a custom sink.
    pub fn sink(mut self, sink: Box<dyn Sink>) -> Self {
        self.sinks.push((SinkSpec::Custom(sink), None));
        self
    }
    /// Adds a custom sink whose lines are in format `f`.
    pub fn sink_format(mut self, sink: Box<dyn Sink>, f: Format) -> Self {
        self.sinks.push((SinkSpec::Custom(sink), Some(f)));
        self
    }
    /// The format of every sink added without one of its own (default:
    /// `DATAPUNK_LOG_FORMAT` if set, else [`Format::Auto`]: the console
    /// format on a terminal, JSON everywhere else). Files added with
    /// [`Builder::json_file`] are always JSON.
    pub fn format(mut self, f: Format) -> Self {
        self.format = Some(f);
        self
    }
    /// What a call does when its ring is full (default [`Overflow::Block`]).
    pub fn overflow(mut self, o: Overflow) -> Self {
        self.overflow = Some(o);
        self
    }
    /// Bytes of each thread's ring (default 256 KiB, at least 4 KiB).
    pub fn ring_capacity(mut self, bytes: usize) -> Self {
        self.ring_capacity = Some(bytes);
        self
    }
    /// Largest record in bytes (default 16 KiB); longer text is cut and the
    /// record marked `"truncated":true`. Clamped to what the ring can hold.
    pub fn max_record_bytes(mut self, bytes: usize) -> Self {
        self.record_limit = Some(bytes);
        self
    }
    /// Filter directives, such as `info,my_crate::db=debug`. The default is
    /// `info`. `DATAPUNK_LOG`, when set, wins over this (see [`Builder::ignore_env`]).
    pub fn filter(mut self, directives: impl Into<String>) -> Self {
        self.filter = Some(directives.into());
        self
    }
    /// Trace sampling: the sampler and what sits on top of it (see
    /// [`crate::sampler`]). Wins over `OTEL_TRACES_SAMPLER`; the default is
    /// that variable's sampler, else `parent_based(always_on)`.
    pub fn sampling(mut self, config: SamplingConfig) -> Self {
        self.sampling = Some(config);
        self
    }
    /// Shorthand for [`Builder::sampling`] with only a sampler.
    pub fn sampler(self, sampler: Sampler) -> Self {
        self.sampling(SamplingConfig::new(sampler))
    }
    /// Per-call-site log sampling of TRACE, DEBUG, INFO and WARN records:
    /// within each period a call site keeps its first `policy.first`
    /// records, then every `policy.thereafter`-th, each kept one carrying
    /// how many it stands for (`"adjusted_count"`). ERROR and FATAL stay
    /// keep-all (see [`Builder::log_sampling_level`]). Default: keep all.
    /// `DATAPUNK_LOG_SAMPLING`, when set, wins over this; reload with
    /// [`crate::sampler::set_log_policy_below_error`].
    pub fn log_sampling(mut self, policy: LogPolicy) -> Self {
        crate::sampler::set_below_error(&mut self.log_sampling.levels, policy);
        self
    }
    /// The per-call-site policy of one level, ERROR and FATAL included
    /// (the only way to sample them). Reload with
    /// [`crate::sampler::set_log_policy`].
    pub fn log_sampling_level(mut self, level: Level, policy: LogPolicy) -> Self {
        self.log_sampling.levels[level as usize] = Some(policy);
        self
    }
    /// What happens to log records below ERROR inside a trace that was not
    /// sampled: [`Unsampled::Keep`] (the default), [`Unsampled::Drop`], or
    /// [`Unsampled::Buffer`] (held by the writer in the debug buffer and
    /// written only if an ERROR comes in the same trace). Records with no
    /// trace and records of sampled traces are not affected.
    /// `DATAPUNK_LOG_UNSAMPLED`, when set, wins over this; reload with
    /// [`crate::sampler::set_unsampled`].
    pub fn unsampled_logs(mut self, policy: Unsampled) -> Self {
        self.log_sampling.unsampled = policy;
        self.set.unsampled = true;
        self
    }
    /// Bounds of the debug buffer of [`Unsampled::Buffer`]: at most
    /// `records_per_trace` records per trace (the most recent) and `bytes`
    /// in all, oldest traces evicted first (default 64 and 8 MiB). Fixed at
    /// `init()`; `DATAPUNK_LOG_BUFFER`, when set, wins over this.
    pub fn debug_buffer(mut self, records_per_trace: usize, bytes: usize) -> Self {
        self.log_sampling.buffer_records = records_per_trace;
        self.log_sampling.buffer_bytes = bytes;
        self.set.buffer = true;
        self
    }
    /// Least time between two of the writer's "records sampled out" summary
    /// records (default 10 s; one is written only when records were sampled
    /// out since the last, and a last one at shutdown).
    pub fn sampling_summary_interval(mut self, d: Duration) -> Self {
        self.log_sampling.summary_interval = d;
        self
    }
    /// Ignore the environment: `DATAPUNK_LOG`, `DATAPUNK_LOG_SAMPLING`,
    /// `DATAPUNK_LOG_UNSAMPLED`, `DATAPUNK_LOG_BUFFER`, `DATAPUNK_LOG_REDACT`,
    /// `DATAPUNK_LOG_REDACT_HMAC_KEY(_ID)`, `OTEL_TRACES_SAMPLER` and
    /// `OTEL_CONFIG_FILE` (a file given to [`Builder::config_file`] is read
    /// all the same; the `OTEL_*` variables an OTLP exporter reads are read by
    /// `Builder::otlp_if_configured` and `OtlpConfig::from_env` only).
    pub fn ignore_env(mut self) -> Self {
        self.use_env = false;
        self
    }
    /// The timestamp source (default [`ClockSource::Precise`]).
    pub fn clock(mut self, c: ClockSource) -> Self {
        self.clock = c;
        self
    }
    /// How long the writer holds back the newest records so that records of
    /// different threads come out in timestamp order (default 200 µs).
    pub fn order_window(mut self, d: Duration) -> Self {
        self.order_window = d;
        self
    }
    /// How long the idle writer sleeps between looks at the rings (default 1 ms).
    pub fn idle_poll(mut self, d: Duration) -> Self {
        self.idle_poll = d;
        self
    }
    /// Bytes of JSON the writer gathers before it writes a batch (default 256 KiB).
    pub fn batch_bytes(mut self, bytes: usize) -> Self {
        self.batch_bytes = bytes;
        self
    }
    /// Bound of each sink's retry backlog while it fails (default 8 MiB).
    pub fn sink_backlog(mut self, bytes: usize) -> Self {
        self.sink_backlog = bytes;
        self
    }
    /// How long dropping the guard waits for the writer to finish (default 5 s).
    pub fn shutdown_timeout(mut self, d: Duration) -> Self {
        self.shutdown_timeout = d;
        self
    }
    /// What SIGTERM and SIGINT do (Unix only; elsewhere nothing). The
    /// default, [`SignalFlush::Flush`], flushes every queued record (up to
    /// the shutdown timeout), then leaves the process to what would have
    /// happened without the engine: the application's own handler
    /// (`tokio::signal`, `signal-hook`, `ctrlc`) when it has one, the engine
    /// running on so its shutdown is logged and the guard's drop flushes it;
    /// the signal's default action (the process ends by the signal) when it
    /// has none. [`SignalFlush::FlushAndExit`] ends the process after the
    /// flush even when the application handles the signal;
    /// [`SignalFlush::Off`] installs no handler. See the README's "Signals".
    pub fn flush_on_signal(mut self, mode: SignalFlush) -> Self {
        self.flush_on_signal = mode;
        self
    }
    /// Adds an exporter of log records and spans (see [`crate::export`]);
    /// the export thread starts when at least one is configured.
    pub fn exporter(mut self, e: impl Exporter) -> Self {
        self.exporters.push(Box::new(e));
        self
    }
    /// What the writer does when the export side is behind (all its buffers
    /// in use). `Overflow::Drop` (the default): records are not exported,
    /// and counted (`export_dropped_logs`, `export_dropped_spans`); the JSON
    /// output never waits. `Overflow::Block`: the writer waits for a free
    /// buffer (up to 5 s a time, then drops and counts), so export is
    /// lossless as long as the collector keeps up on average; the JSON output
    /// and, once rings fill under `Overflow::Block`, the callers wait with it.
    pub fn export_overflow(mut self, o: Overflow) -> Self {
        self.export_overflow = o;
        self
    }
    /// Exports logs and spans over OTLP, configured by `config` (start
    /// from [`OtlpConfig::from_env`](crate::export::otlp::OtlpConfig::from_env)).
    #[cfg(feature = "otlp")]
    pub fn otlp(self, config: crate::export::otlp::OtlpConfig) -> Result<Self, InitError> {
        let e = crate::export::otlp::OtlpExporter::new(config)
            .map_err(|e| InitError::Export(e.to_string()))?;
        let mut b = self.exporter(e);
        b.set.otlp = true;
        Ok(b)
    }
    /// Exports over OTLP, configured from the `OTEL_*` variables, when one of
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and not empty); does
    /// nothing otherwise. A variable with a bad value is an error.
    ///
    /// When a configuration file is in use (`OTEL_CONFIG_FILE`, or
    /// [`Builder::config_file`]), the `OTEL_*` variables are ignored, as
    /// the OpenTelemetry specification says: the file configures export,
    /// and this does nothing (an exporter built before the file was named
    /// is left out at `init()`).
    #[cfg(feature = "otlp")]
    pub fn otlp_if_configured(mut self) -> Result<Self, InitError> {
        use crate::export::otlp::OtlpConfig;
        if self.file_named() {
            return Ok(self);
        }
        let set = [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.to_string_lossy().trim().is_empty()));
        if !set {
            return Ok(self);
        }
        let cfg = OtlpConfig::from_env().map_err(|e| InitError::Export(e.to_string()))?;
        let e = crate::export::otlp::OtlpExporter::new(cfg)
            .map_err(|e| InitError::Export(e.to_string()))?;
        self.env_exporter = Some(Box::new(e));
        Ok(self)
    }

    /// Whether a configuration file is named (by the builder, or by the
    /// environment unless ignored).
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    fn file_named(&self) -> bool {
        #[cfg(feature = "config-file")]
        {
            self.config_file.is_some()
                || (self.use_env
                    && otel_file::config_file_path(|n| std::env::var(n).ok()).is_some())
        }
        #[cfg(not(feature = "config-file"))]
        false
    }
    /// The service's name (`service.name`), over `OTEL_SERVICE_NAME`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.resource = self.resource.service_name(name);
        self
    }
    /// The service's version (`service.version`).
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.resource = self.resource.service_version(version);
        self
    }
    /// The deployment environment (`deployment.environment.name`).
    pub fn deployment_environment(mut self, env: impl Into<String>) -> Self {
        self.resource = self.resource.deployment_environment(env);
        self
    }
    /// Any resource attribute; the builder wins over `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn resource_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<AttrValue>,
    ) -> Self {
        self.resource = self.resource.attribute(key, value);
        self
    }
    /// Log records made where an OpenTelemetry `Context` with a valid span
    /// is current and no span of this crate is entered take their trace
    /// ids from it (as do spans started there). Off by default: it costs a
    /// thread-local lookup in every log call outside a span.
    #[cfg(feature = "opentelemetry")]
    pub fn opentelemetry_context(mut self, on: bool) -> Self {
        self.otel_interop = on;
        self
    }
    /// Install the `log` bridge (feature `log`, default on): records logged
    /// through the `log` crate become records of this engine, and
    /// `log::max_level` follows the filter directives. When another `log`
    /// logger is already installed, `init()` goes on without the bridge and
    /// writes one WARN record saying so.
    #[cfg(feature = "log")]
    pub fn log_bridge(mut self, on: bool) -> Self {
        self.log_bridge = on;
        self
    }

    /// Install the `tracing` bridge as `tracing`'s global default subscriber
    /// (feature `tracing`, default on): `tracing`'s events become records of
    /// this engine and its spans native spans
    /// (`datapunk_log::bridge::tracing`). When another global subscriber is
    /// already set, `init()` goes on without it and writes one WARN record
    /// saying so; to combine the bridge with layers of your own, turn this
    /// off and add `bridge::tracing::TracingLayer` to your subscriber.
    #[cfg(feature = "tracing")]
    pub fn tracing_bridge(mut self, on: bool) -> Self {
        self.tracing_bridge = on;
        self
    }

    /// Redaction (default on, see [`crate::redact`]): fields whose key
    /// names a secret (`redact::DEFAULT_KEYS`) and secrets found in string
    /// values (`redact::Rule::DEFAULT_PATTERNS`) are replaced in the JSON
    /// output and in every exporter. `false` turns all of it off; `true`
    /// turns on the default keys and patterns where none are on.
    /// `DATAPUNK_LOG_REDACT`, when set, applies over this.
    pub fn redaction(mut self, on: bool) -> Self {
        self.redact.set_all(on);
        self.set.redaction = true;
        self
    }

    /// Replaces the redacted keys (and turns redaction by key on).
    pub fn redact_keys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.redact
            .set_keys(keys.into_iter().map(Into::into).collect());
        self.set.redaction = true;
        self
    }

    /// Adds a key to those redacted (and turns redaction by key on, with
    /// the default keys if it was off).
    pub fn redact_key(mut self, key: impl Into<String>) -> Self {
        self.redact.add_key(key.into());
        self.set.redaction = true;
        self
    }

    /// Turns one rule on or off: a value pattern (`Rule::Email` is off by
    /// default, the others on), or `Rule::Key` (on: the default keys if
    /// none were given).
    pub fn redact_rule(mut self, rule: crate::redact::Rule, on: bool) -> Self {
        self.redact.set(rule, on);
        self.set.redaction = true;
        self
    }

    /// The value patterns in force, exactly these (empty: none).
    /// `Rule::Key` in the list is ignored: redaction by key has its own
    /// options ([`Builder::redact_rule`], [`Builder::redact_keys`]).
    pub fn redact_patterns(mut self, rules: impl IntoIterator<Item = crate::redact::Rule>) -> Self {
        self.redact.set_patterns(rules);
        self.set.redaction = true;
        self
    }

    /// Adds a token prefix to those of `Rule::CloudKey`
    /// (`redact::DEFAULT_TOKEN_PREFIXES`): text that starts with it, not
    /// inside a longer word, followed by at least 8 bytes of
    /// `[A-Za-z0-9_-]`, is a secret. 2 to 32 bytes of `[A-Za-z0-9_.-]`
    /// holding a `_`, `-` or `.` (`init()` checks).
    pub fn redact_token_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.redact.prefixes.push(prefix.into());
        self.set.redaction = true;
        self
    }

    /// Replaces the token prefixes of `Rule::CloudKey`.
    pub fn redact_token_prefixes<I, S>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.redact.prefixes = prefixes.into_iter().map(Into::into).collect();
        self.set.redaction = true;
        self
    }

    /// What a redacted value is written as (default
    /// `redact::Replacement::Mask`).
    pub fn redact_replacement(mut self, replacement: crate::redact::Replacement) -> Self {
        self.redact.replacement = replacement;
        self.set.redaction = true;
        self
    }

    /// Redacted values are written as keyed hashes,
    /// `hmac-sha256:<key_id>:<32 hex digits>` (`redact::Replacement::Hmac`):
    /// equal values stay equal, so records still correlate. `key_id`: 1 to
    /// 32 bytes of `[A-Za-z0-9._-]`; `key`: at least 16 bytes (`init()`
    /// checks). Take the key from a secret store, never from a file in the
    /// repository; `DATAPUNK_LOG_REDACT_HMAC_KEY`, when set, wins over it.
    #[cfg(feature = "redact-hmac")]
    pub fn redact_hmac_key(self, key_id: impl Into<String>, key: impl Into<Vec<u8>>) -> Self {
        self.redact_replacement(crate::redact::Replacement::Hmac {
            key_id: key_id.into(),
            key: key.into(),
        })
    }

    /// Install a panic hook that flushes before unwinding (default on; the
    /// previous hook runs after it).
    pub fn panic_hook(mut self, on: bool) -> Self {
        self.panic_hook = on;
        self
    }

    /// Each line written inside a span carries the span's name and fields:
    /// JSON `"span":{"name":"charge_card","amount":12.5}` (the innermost
    /// span; attributes recorded on it later appear on later lines), the
    /// console format `charge_card{amount=12.5}:` before the target.
    /// Default off; unset, `DATAPUNK_LOG_SPAN_FIELDS` decides
    /// ([`crate::SPAN_FIELDS_ENV`]). Spans then write their start record
    /// when they start, with or without an exporter (the writer learns
    /// their names from it); a log call is unchanged. See the README,
    /// "Spans on lines", for the bounds.
    pub fn span_fields(mut self, on: bool) -> Self {
        self.span_lines.0 = Some(on);
        self
    }

    /// A line for each ended span, in every sink's format: its name and
    /// fields, ids, `start_timestamp`, `duration_ns`, `otel.status_code`,
    /// `otel.status_description` and the last recorded exception. Default
    /// off; unset, `DATAPUNK_LOG_SPAN_ENDS` decides
    /// ([`crate::SPAN_ENDS_ENV`]).
    pub fn span_ends(mut self, on: bool) -> Self {
        self.span_lines.1 = Some(on);
        self
    }

    /// The writer writes an INFO record of the engine's figures (target
    /// `datapunk_log::stats`, message `engine stats`: records produced,
    /// written, dropped, sampled out; bytes; sink errors and lost lines;
    /// file rotations, deletions and the compression backlog; the export
    /// queue's depth, drops and failures) at most once per `every`. Default
    /// off; `DATAPUNK_LOG_STATS_INTERVAL` (`60s`, `5m`) when unset here.
    pub fn stats_interval(mut self, every: Duration) -> Self {
        self.stats_interval = Some(every);
        self
    }

    fn resolved_stats_interval(&self) -> Result<Option<Duration>, InitError> {
        if let Some(d) = self.stats_interval {
            return Ok(Some(d).filter(|d| !d.is_zero()));
        }
        if !self.use_env {
            return Ok(None);
        }
        match std::env::var(STATS_INTERVAL_ENV) {
            Ok(v) if !v.trim().is_empty() => {
                crate::sampler::logs::parse_duration_ns(STATS_INTERVAL_ENV, v.trim())
                    .map(|ns| Some(Duration::from_nanos(ns)).filter(|d| !d.is_zero()))
                    .map_err(|error| InitError::Env {
                        variable: STATS_INTERVAL_ENV,
                        error,
                    })
            }
            _ => Ok(None),
        }
    }

    fn directives(&self) -> Result<Directives, InitError> {
        if self.use_env
            && let Ok(env) = std::env::var(FILTER_ENV)
        {
            return Directives::parse(&env).map_err(|error| InitError::Filter {
                source: FILTER_ENV,
                error,
            });
        }
        match &self.filter {
            Some(f) => Directives::parse(f).map_err(|error| InitError::Filter {
                source: "filter",
                error,
            }),
            None => Ok(Directives::new(LevelFilter::INFO)),
        }
    }

    /// Installs the engine and starts the writer thread. Fails if an engine is
    /// already installed, a directive is invalid, or a file cannot be opened.
    pub fn init(mut self) -> Result<Guard, InitError> {
        if engine::get().is_some() {
            return Err(InitError::AlreadyInitialized);
        }
        // The configuration file, where the builder left a setting open.
        #[cfg(feature = "config-file")]
        let in_force = match self.load_config_file()? {
            Some((path, (file, warnings))) => {
                let pinned = self.pinned();
                let plan = file::Plan::of(&file);
                let notes = self.apply_plan(plan, &file.origin)?;
                Some((path, file, warnings, notes, pinned))
            }
            None => None,
        };
        #[cfg(feature = "config-file")]
        let file_in_use = in_force.is_some();
        #[cfg(not(feature = "config-file"))]
        let file_in_use = false;
        if file_in_use {
            // The file is authoritative over the `OTEL_*` variables.
            self.env_exporter = None;
        }
        if let Some(e) = self.env_exporter.take() {
            self.exporters.push(e);
        }
        let ring_capacity = self.ring_capacity.unwrap_or(DEFAULT_RING_CAPACITY);
        let overflow = self.overflow.unwrap_or(Overflow::Block);
        if ring_capacity < 4096 {
            return Err(InitError::Config(format!(
                "ring_capacity must be at least 4096 bytes, got {ring_capacity}"
            )));
        }
        if self.batch_bytes == 0 {
            return Err(InitError::Config("batch_bytes must be positive".into()));
        }
        let directives = self.directives()?;
        let stats_interval = self.resolved_stats_interval()?;
        let mut log_sampling = self.log_sampling.clone();
        let mut redact = self.redact.clone();
        if self.use_env {
            log_sampling
                .apply_env(|name| std::env::var(name).ok())
                .map_err(|(variable, error)| InitError::Env { variable, error })?;
            redact
                .apply_env(|name| std::env::var(name).ok())
                .map_err(|(variable, error)| InitError::Env { variable, error })?;
        }
        let (sf, se) = self.span_lines;
        let span_lines = SpanLines::resolve(sf, se, |k| {
            self.use_env.then(|| std::env::var(k).ok()).flatten()
        })
        .map_err(|(variable, error)| InitError::Env { variable, error })?;
        let redactor = redact
            .build()
            .map_err(|e| InitError::Config(format!("redaction: {e}")))?;
        let record_limit = self.record_limit.unwrap_or(DEFAULT_RECORD_LIMIT).clamp(
            MIN_RECORD_LIMIT,
            (ring_capacity / 2)
                .saturating_sub(SLACK)
                .max(MIN_RECORD_LIMIT),
        );
        if record_limit + SLACK > ring_capacity {
            return Err(InitError::Config(format!(
                "ring_capacity {ring_capacity} is too small for records of {record_limit} bytes"
            )));
        }
        let default_format = match self.format {
            Some(f) => f,
            None if self.use_env => match std::env::var(FORMAT_ENV) {
                Ok(v) => v
                    .parse()
                    .map_err(|e: crate::encode::FormatError| InitError::Env {
                        variable: FORMAT_ENV,
                        error: e.to_string(),
                    })?,
                Err(_) => Format::Auto,
            },
            None => Format::Auto,
        };
        let mut specs = self.sinks;
        if specs.is_empty() {
            specs.push((SinkSpec::Stdout, None));
        }
        let mut sinks = Vec::with_capacity(specs.len());
        let mut sink_stats = Vec::with_capacity(specs.len());
        for (s, format) in specs {
            let stream = match s {
                SinkSpec::Stdout => Stream::Stdout,
                SinkSpec::Stderr => Stream::Stderr,
                _ => Stream::Other,
            };
            let stats = std::sync::Arc::new(SinkCounters::new(s.name()));
            let sink: Box<dyn Sink> = match s {
                SinkSpec::Stdout => Box::new(StdoutSink),
                SinkSpec::Stderr => Box::new(StderrSink),
                SinkSpec::Null => Box::new(NullSink),
                SinkSpec::Memory(m) => Box::new(m),
                SinkSpec::Custom(c) => c,
                SinkSpec::File(path) => {
                    match FileSink::build(FileConfig::new(&path), stats.clone()) {
                        Ok(f) => Box::new(f),
                        Err(error) => return Err(InitError::File { path, error }),
                    }
                }
                SinkSpec::Rolling(config) => {
                    config.check().map_err(InitError::Config)?;
                    let path = config.path().to_path_buf();
                    match FileSink::build(config, stats.clone()) {
                        Ok(f) => Box::new(f),
                        Err(error) => return Err(InitError::File { path, error }),
                    }
                }
            };
            let format = resolve(format.unwrap_or(default_format), stream, |k| {
                std::env::var(k).ok()
            });
            sink_stats.push(stats.clone());
            sinks.push((SinkSlot::with_stats(sink, self.sink_backlog, stats), format));
        }
        let settings = Settings {
            ring_capacity,
            record_limit,
            overflow,
        };
        if self.flush_on_signal != SignalFlush::Off {
            // Before the engine exists; until then a signal finds nothing to
            // flush and does what it would have done without the handler. A
            // failed `init()` leaves the handler (which changes nothing) and
            // its thread for the next one.
            crate::signal::install(self.flush_on_signal, self.shutdown_timeout)
                .map_err(InitError::Signal)?;
        }
        if self.reopen_on_sighup {
            crate::sink::install_sighup(crate::sink::OnSighup::Reopen).map_err(|e| {
                InitError::Config(format!("reopen_on_sighup: cannot handle SIGHUP: {e}"))
            })?;
        }
        #[cfg(feature = "config-file")]
        if self.reload_on_sighup {
            crate::sink::install_sighup(crate::sink::OnSighup::Reload(file::reload_from_trigger))
                .map_err(|e| {
                InitError::Config(format!("reload_on_sighup: cannot handle SIGHUP: {e}"))
            })?;
        }
        // The capture clock is chosen before the engine is visible, so no record
        // is stamped by one clock and converted as another.
        let conv = Converter::install(self.clock);
        // Before any record is written or exported: call sites work out
        // which of their fields are redacted once, at their first use.
        crate::redact::install(redact.keys.as_deref());
        reload::set_redaction(redact.clone());
        let idle_poll = match self.clock {
            ClockSource::Coarse => self.idle_poll.min(Duration::from_micros(100)),
            ClockSource::Precise => self.idle_poll,
        };
        // The engine's threads start before the engine is installed, so a
        // failure to start one leaves nothing behind and a later `init()`
        // can succeed.
        let spans = self.exporters.iter().any(|e| e.wants_spans());
        let (pipeline, export) = if self.exporters.is_empty() {
            (None, None)
        } else {
            let resource = if file_in_use {
                // The file's attributes are under the builder's already.
                self.resource.build_with(|_| None)
            } else {
                self.resource.build_from_env()
            };
            match Pipeline::start(
                self.exporters,
                resource,
                EXPORT_SEND_BYTES,
                self.export_overflow,
            ) {
                Ok((pipeline, pipe)) => (Some(pipeline), Some(pipe)),
                Err(e) => {
                    return Err(InitError::Export(format!(
                        "cannot start the export thread: {e}"
                    )));
                }
            }
        };
        let stop_export = |pipeline: Option<Pipeline>| {
            if let Some(p) = pipeline {
                p.shutdown(Duration::from_secs(1));
            }
        };
        let writer_config = WriterConfig {
            sinks,
            order_window: self.order_window,
            idle_poll,
            batch_bytes: self.batch_bytes,
            export,
            sampling: WriterSampling {
                buffer_records: log_sampling.buffer_records,
                buffer_bytes: log_sampling.buffer_bytes,
                buffer_now: log_sampling.unsampled == Unsampled::Buffer,
                summary_interval: log_sampling.summary_interval,
            },
            span_lines,
            stats_interval,
        };
        // The writer waits for its engine; without one (init failed after
        // the spawn) it ends, dropping its sinks.
        let (engine_tx, engine_rx) = std::sync::mpsc::sync_channel::<&'static Engine>(1);
        let handle = crate::thread_role::spawn("datapunk-log-writer", move || {
            if let Ok(engine) = engine_rx.recv() {
                Writer::new(engine, writer_config, conv).run();
            }
        });
        let handle = match handle {
            Ok(h) => h,
            Err(e) => {
                stop_export(pipeline);
                return Err(InitError::Spawn(e));
            }
        };
        let Some(engine) = engine::install(Engine::new(settings, directives, redactor)) else {
            // Another init() won the race: this one's threads end.
            drop(engine_tx);
            stop_export(pipeline);
            return Err(InitError::AlreadyInitialized);
        };
        let _ = engine.counters.sinks.set(sink_stats);
        if let Some(p) = pipeline {
            let _ = engine.export.set(p);
            crate::span::set_recording(spans);
        }
        if span_lines.fields {
            crate::span::set_recording_starts();
        } else if span_lines.any() {
            crate::span::set_recording(true);
        }
        #[cfg(feature = "opentelemetry")]
        crate::context::set_interop(self.otel_interop);
        let (env_sampler, sampler_warning) = match (&self.sampling, self.use_env) {
            (None, true) if !file_in_use => crate::sampler::env::from_env(),
            _ => (None, None),
        };
        crate::sampler::install(
            self.sampling
                .or(env_sampler.map(SamplingConfig::new))
                .unwrap_or_default(),
        );
        log_sampling.install();
        // Cannot fail: the writer holds the receiver until it gets this.
        let _ = engine_tx.send(engine);
        let _ = engine.writer.set(handle.thread().clone());
        if self.panic_hook {
            install_panic_hook();
        }
        if let Some(w) = sampler_warning {
            crate::warn!(target: "datapunk_log", "{}", w);
        }
        #[cfg(feature = "config-file")]
        match in_force {
            Some((path, file, warnings, notes, pinned)) => {
                file::emit_warnings(&warnings, &notes);
                file::set_in_force(path.clone(), file, pinned);
                if let Some(every) = self.watch_config_file
                    && let Err(e) = file::watch(path, every)
                {
                    crate::warn!(
                        target: file::TARGET,
                        "watch_config_file: cannot start the watching thread: {}",
                        e
                    );
                }
            }
            None => {
                if self.reload_on_sighup || self.watch_config_file.is_some() {
                    crate::warn!(
                        target: file::TARGET,
                        "reload_on_sighup / watch_config_file: no configuration file is in use (OTEL_CONFIG_FILE or Builder::config_file): nothing to reload"
                    );
                }
            }
        }
        #[cfg(feature = "log")]
        if self.log_bridge {
            match ::log::set_logger(&crate::bridge::log::LOG_BRIDGE) {
                Ok(()) => ::log::set_max_level(crate::bridge::log::log_filter(
                    engine.directives.load().max_level(),
                )),
                Err(_) => crate::warn!(
                    target: "datapunk_log",
                    "another `log` logger is installed: records logged through `log` do not reach datapunk-log (the `log` bridge is off)"
                ),
            }
        }
        #[cfg(feature = "tracing")]
        if self.tracing_bridge {
            let dispatch = tracing_core::Dispatch::new(crate::bridge::tracing::subscriber());
            if tracing_core::dispatcher::set_global_default(dispatch).is_err() {
                crate::warn!(
                    target: "datapunk_log",
                    "another `tracing` subscriber is the global default: events and spans of `tracing` do not reach datapunk-log unless its layer is added to that subscriber (the `tracing` bridge is off)"
                );
            }
        }
        // The directives are known now: `tracing` recomputes its level hint
        // (a subscriber set before `init()` had none).
        #[cfg(feature = "tracing")]
        tracing_core::callsite::rebuild_interest_cache();

        Ok(Guard {
            handle: Some(handle),
            timeout: self.shutdown_timeout,
        })
    }

    /// Adds a JSON-lines file sink with rotation, retention and compression
    /// (see [`FileConfig`]; its figures are in [`crate::sink_stats`]).
    /// `init()` fails on an invalid setting, or when the file cannot be
    /// opened.
    pub fn file(mut self, config: FileConfig) -> Self {
        self.sinks
            .push((SinkSpec::Rolling(config), Some(Format::Json)));
        self
    }

    /// On SIGHUP, every file sink reopens its path before its next write
    /// ([`crate::reopen`]): for `logrotate` and the like, which move the
    /// file away and then signal. Off by default (SIGHUP then does whatever
    /// it did before, by default ending the process). Once on, the handler
    /// stays for the life of the process. Unix only; elsewhere it does
    /// nothing.
    pub fn reopen_on_sighup(mut self, on: bool) -> Self {
        self.reopen_on_sighup = on;
        self
    }

    /// Reads the OpenTelemetry configuration file at `path` at `init()`
    /// (feature `config-file`), even with [`Builder::ignore_env`]; without
    /// it, `init()` reads the file `OTEL_CONFIG_FILE` names (unless
    /// `ignore_env`). The builder's own settings win over the file's; a
    /// file in use makes `init()` ignore every other `OTEL_*` variable
    /// (they reach the engine only through `${VAR}` substitution in the
    /// file). A bad file makes `init()` fail with
    /// [`InitError::ConfigFile`]; each warning (a part skipped or not
    /// applied) becomes a WARN record of target `datapunk_log::config`.
    /// See the README's "Operations".
    #[cfg(feature = "config-file")]
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    /// On SIGHUP, read the configuration file again and apply its
    /// reloadable parts ([`crate::reload_config_file`]). Off by default.
    /// Works together with [`Builder::reopen_on_sighup`] (one handler
    /// does both: reopen, then reload). Once on, the handler stays for the
    /// life of the process. Unix only; elsewhere it does nothing.
    #[cfg(feature = "config-file")]
    pub fn reload_on_sighup(mut self, on: bool) -> Self {
        self.reload_on_sighup = on;
        self
    }

    /// Look at the configuration file every `interval` (at least 10 ms)
    /// and reload it ([`crate::reload_config_file`]) when its modification
    /// time or size changed. A thread of its own polls the file's
    /// metadata; it ends when the engine stops. Off by default.
    #[cfg(feature = "config-file")]
    pub fn watch_config_file(mut self, interval: Duration) -> Self {
        self.watch_config_file = Some(interval);
        self
    }

    /// The configuration file to apply, loaded: the builder's, else the
    /// one `OTEL_CONFIG_FILE` names (unless `ignore_env`).
    #[cfg(feature = "config-file")]
    #[allow(clippy::type_complexity)]
    fn load_config_file(&self) -> Result<Option<(PathBuf, otel_file::Loaded)>, InitError> {
        let env = |n: &str| std::env::var(n).ok();
        if let Some(p) = &self.config_file {
            return otel_file::OtelFile::from_path(p, env)
                .map(|l| Some((p.clone(), l)))
                .map_err(InitError::ConfigFile);
        }
        if !self.use_env {
            return Ok(None);
        }
        let Some((path, _)) = otel_file::config_file_path(env) else {
            return Ok(None);
        };
        otel_file::OtelFile::from_env(env)
            .map(|l| l.map(|l| (path, l)))
            .map_err(InitError::ConfigFile)
    }

    /// Which reloadable settings the builder or a `DATAPUNK_LOG*` variable
    /// decides (a reload from the file leaves them alone).
    #[cfg(feature = "config-file")]
    fn pinned(&self) -> file::Pinned {
        use crate::sampler::{ERROR_INDEX, SAMPLING_ENV, UNSAMPLED_ENV};
        let env_set =
            |n: &str| self.use_env && std::env::var(n).is_ok_and(|v| !v.trim().is_empty());
        let sampling_env = env_set(SAMPLING_ENV);
        let mut levels = [false; crate::sampler::logs::LEVELS];
        for (l, pinned) in levels.iter_mut().enumerate() {
            *pinned = self.log_sampling.levels[l].is_some() || (sampling_env && l < ERROR_INDEX);
        }
        file::Pinned {
            filter: self.filter.is_some() || (self.use_env && std::env::var(FILTER_ENV).is_ok()),
            sampling: self.sampling.is_some(),
            redaction: self.set.redaction,
            levels,
            unsampled: self.set.unsampled || env_set(UNSAMPLED_ENV),
            use_env: self.use_env,
        }
    }

    /// Applies the file's plan where the builder set nothing; returns the
    /// notes (WARN records to write once the engine runs).
    #[cfg(feature = "config-file")]
    fn apply_plan(&mut self, plan: file::Plan, origin: &str) -> Result<Vec<String>, InitError> {
        if self.filter.is_none()
            && let Some(d) = &plan.filter
        {
            self.filter = Some(d.to_string());
        }
        self.ring_capacity = self.ring_capacity.or(plan.ring_capacity);
        self.record_limit = self.record_limit.or(plan.record_limit);
        self.overflow = self.overflow.or(plan.overflow);
        if self.sinks.is_empty() {
            for s in plan.sinks {
                self.sinks.push(match s {
                    file::FileSinkSpec::Stdout(f) => (SinkSpec::Stdout, f),
                    file::FileSinkSpec::Stderr(f) => (SinkSpec::Stderr, f),
                    file::FileSinkSpec::File(c, f) => (SinkSpec::Rolling(c), Some(f)),
                });
            }
        }
        if !self.set.redaction
            && let Some(r) = &plan.redaction
        {
            file::apply_redaction(r, &mut self.redact).map_err(|e| {
                InitError::Config(format!("{origin}: distribution.datapunk_log.{e}"))
            })?;
        }
        for (mine, theirs) in self.log_sampling.levels.iter_mut().zip(plan.levels) {
            if mine.is_none() {
                *mine = theirs;
            }
        }
        if !self.set.unsampled
            && let Some(u) = plan.unsampled
        {
            self.log_sampling.unsampled = u;
        }
        if !self.set.buffer {
            if let Some(n) = plan.buffer_records {
                self.log_sampling.buffer_records = n;
            }
            if let Some(n) = plan.buffer_bytes {
                self.log_sampling.buffer_bytes = n;
            }
        }
        if self.sampling.is_none() {
            self.sampling = plan.sampler.map(SamplingConfig::new);
        }
        self.resource = std::mem::take(&mut self.resource).under(plan.resource);
        #[cfg(feature = "otlp")]
        if !self.set.otlp
            && let Some(cfg) = plan.otlp
        {
            let e = crate::export::otlp::OtlpExporter::new(cfg)
                .map_err(|e| InitError::Export(format!("{origin}: {e}")))?;
            self.exporters.push(Box::new(e));
        }
        Ok(plan.notes)
    }
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(e) = engine::get().filter(|e| e.is_running()) {
            e.flush_all(Duration::from_secs(5));
        }
        previous(info);
    }));
}

/// Keeps the engine running; dropping it flushes everything and stops the
/// writer (waiting up to the shutdown timeout).
#[must_use = "dropping the guard stops the engine"]
#[derive(Debug)]
pub struct Guard {
    handle: Option<std::thread::JoinHandle<()>>,
    timeout: Duration,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Some(e) = engine::get() else { return };
        let deadline = crate::clock::deadline_in(self.timeout);
        if e.shutdown(self.timeout)
            && let Some(h) = self.handle.take()
        {
            let _ = h.join();
        }
        if let Some(p) = e.export.get() {
            crate::span::set_recording(false);
            p.shutdown(deadline.saturating_duration_since(std::time::Instant::now()));
        }
    }
}
