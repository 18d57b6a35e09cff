//! Building and installing the engine.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::clock::{ClockSource, Converter};
use crate::encode::span_table::SpanLines;
use crate::encode::{Format, Stream, resolve};
use crate::engine::{self, Engine, Settings};
use crate::export::{Exporter, Pipeline};
use crate::level::{DirectiveError, Directives, Level, LevelFilter};
use crate::overflow::Overflow;
use crate::record::{MIN_RECORD_LIMIT, SLACK};
use crate::resource::AttrValue;
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
mod layer;
mod reload;

use layer::{Config, EnvLayers, FilterText, SinkSpec, env_layers};

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

/// Configures the engine; [`Builder::init`] installs it.
///
/// The builder writes what it is told into its layer of the engine's one
/// configuration type, which the configuration file, the environment and
/// [`Reload`] share; `init()` puts the layers one over the other (see the
/// README's "Operations: precedence").
pub struct Builder {
    /// What the builder says.
    config: Config,
    use_env: bool,
    /// OTLP from the `OTEL_*` variables (`otlp_if_configured`): under the
    /// builder and the file, and left out when a file is in use (the file
    /// is authoritative over `OTEL_*`).
    #[cfg(feature = "otlp")]
    env_otlp: Option<crate::export::otlp::OtlpConfig>,
    #[cfg_attr(not(feature = "config-file"), allow(dead_code))]
    config_file: Option<PathBuf>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("Builder")
            .field("sinks", &c.sinks)
            .field("overflow", &c.overflow)
            .field("ring_capacity", &c.ring_capacity)
            .field("record_limit", &c.record_limit)
            .field("filter", &c.filter.as_ref().map(|f| &f.text))
            .field("clock", &c.clock)
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
            config: Config::default(),
            use_env: true,
            #[cfg(feature = "otlp")]
            env_otlp: None,
            config_file: None,
        }
    }
}

/// Defaults of the settings no source gives.
const DEFAULT_ORDER_WINDOW: Duration = Duration::from_micros(200);
const DEFAULT_IDLE_POLL: Duration = Duration::from_millis(1);
const DEFAULT_BATCH_BYTES: usize = 256 * 1024;
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

impl Builder {
    /// Adds an appending JSON-lines file sink (parent directories are created).
    pub fn json_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config
            .sinks
            .push((SinkSpec::File(path.into()), Some(Format::Json)));
        self
    }
    /// Adds standard output (the default when no sink is given), in the
    /// default format (see [`Builder::format`]).
    pub fn stdout(mut self) -> Self {
        self.config.sinks.push((SinkSpec::Stdout, None));
        self
    }
    /// Adds standard output in format `f`.
    pub fn stdout_format(mut self, f: Format) -> Self {
        self.config.sinks.push((SinkSpec::Stdout, Some(f)));
        self
    }
    /// Adds standard error, in the default format.
    pub fn stderr(mut self) -> Self {
        self.config.sinks.push((SinkSpec::Stderr, None));
        self
    }
    /// Adds standard error in format `f`.
    pub fn stderr_format(mut self, f: Format) -> Self {
        self.config.sinks.push((SinkSpec::Stderr, Some(f)));
        self
    }
    /// Adds a sink that discards everything (benchmarks).
    pub fn null(mut self) -> Self {
        self.config.sinks.push((SinkSpec::Null, None));
        self
    }
    /// Adds an in-memory sink; keep a clone to read the lines back.
    pub fn memory(mut self, sink: &MemorySink) -> Self {
        self.config
            .sinks
            .push((SinkSpec::Memory(sink.clone()), None));
        self
    }
    /// Adds an in-memory sink whose lines are in format `f`.
    pub fn memory_format(mut self, sink: &MemorySink, f: Format) -> Self {
        self.config
            .sinks
            .push((SinkSpec::Memory(sink.clone()), Some(f)));
        self
    }
    /// Adds a custom sink.
    pub fn sink(mut self, sink: Box<dyn Sink>) -> Self {
        self.config.sinks.push((SinkSpec::Custom(sink), None));
        self
    }
    /// Adds a custom sink whose lines are in format `f`.
    pub fn sink_format(mut self, sink: Box<dyn Sink>, f: Format) -> Self {
        self.config.sinks.push((SinkSpec::Custom(sink), Some(f)));
        self
    }
    /// The format of every sink added without one of its own (default:
    /// `DATAPUNK_LOG_FORMAT` if set, else [`Format::Auto`]: the console
    /// format on a terminal, JSON everywhere else). Files added with
    /// [`Builder::json_file`] are always JSON.
    pub fn format(mut self, f: Format) -> Self {
        self.config.format = Some(f);
        self
    }
    /// What a call does when its ring is full (default [`Overflow::Block`]).
    pub fn overflow(mut self, o: Overflow) -> Self {
        self.config.overflow = Some(o);
        self
    }
    /// Bytes of each thread's ring (default 256 KiB, at least 4 KiB).
    pub fn ring_capacity(mut self, bytes: usize) -> Self {
        self.config.ring_capacity = Some(bytes);
        self
    }
    /// Largest record in bytes (default 16 KiB); longer text is cut and the
    /// record marked `"truncated":true`. Clamped to what the ring can hold.
    pub fn max_record_bytes(mut self, bytes: usize) -> Self {
        self.config.record_limit = Some(bytes);
        self
    }
    /// Filter directives, such as `info,my_crate::db=debug`. The default is
    /// `info`. `DATAPUNK_LOG`, when set, wins over this (see [`Builder::ignore_env`]).
    pub fn filter(mut self, directives: impl Into<String>) -> Self {
        self.config.filter = Some(FilterText {
            text: directives.into(),
            source: "filter",
        });
        self
    }
    /// Trace sampling: the sampler and what sits on top of it (see
    /// [`crate::sampler`]). Wins over `OTEL_TRACES_SAMPLER`; the default is
    /// that variable's sampler, else `parent_based(always_on)`.
    pub fn sampling(mut self, config: SamplingConfig) -> Self {
        self.config.sampling = Some(config);
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
        crate::sampler::set_below_error(&mut self.config.log_levels, policy);
        self
    }
    /// The per-call-site policy of one level, ERROR and FATAL included
    /// (the only way to sample them). Reload with
    /// [`crate::sampler::set_log_policy`].
    pub fn log_sampling_level(mut self, level: Level, policy: LogPolicy) -> Self {
        self.config.log_levels[level as usize] = Some(policy);
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
        self.config.unsampled = Some(policy);
        self
    }
    /// Bounds of the debug buffer of [`Unsampled::Buffer`]: at most
    /// `records_per_trace` records per trace (the most recent) and `bytes`
    /// in all, oldest traces evicted first (default 64 and 8 MiB). Fixed at
    /// `init()`; `DATAPUNK_LOG_BUFFER`, when set, wins over this.
    pub fn debug_buffer(mut self, records_per_trace: usize, bytes: usize) -> Self {
        self.config.buffer_records = Some(records_per_trace);
        self.config.buffer_bytes = Some(bytes);
        self
    }
    /// Least time between two of the writer's "records sampled out" summary
    /// records (default 10 s; one is written only when records were sampled
    /// out since the last, and a last one at shutdown).
    pub fn sampling_summary_interval(mut self, d: Duration) -> Self {
        self.config.summary_interval = Some(d);
        self
    }
    /// Ignore the environment: the operator variables (`DATAPUNK_LOG`,
    /// `DATAPUNK_LOG_SAMPLING`, `_UNSAMPLED`, `_BUFFER`, `_REDACT`,
    /// `_REDACT_HMAC_KEY(_ID)`), the defaults the environment gives
    /// (`DATAPUNK_LOG_FORMAT`, `_STATS_INTERVAL`, `_SPAN_FIELDS`,
    /// `_SPAN_ENDS`), `OTEL_TRACES_SAMPLER(_ARG)` and `OTEL_CONFIG_FILE` (a
    /// file given to [`Builder::config_file`] is read all the same; the
    /// `OTEL_*` variables an OTLP exporter reads are read by
    /// `Builder::otlp_if_configured` and `OtlpConfig::from_env` only, and
    /// the resource's `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` when
    /// no file is in use).
    pub fn ignore_env(mut self) -> Self {
        self.use_env = false;
        self
    }
    /// The timestamp source (default [`ClockSource::Precise`]).
    pub fn clock(mut self, c: ClockSource) -> Self {
        self.config.clock = Some(c);
        self
    }
    /// How long the writer holds back the newest records so that records of
    /// different threads come out in timestamp order (default 200 µs).
    pub fn order_window(mut self, d: Duration) -> Self {
        self.config.order_window = Some(d);
        self
    }
    /// How long the idle writer sleeps between looks at the rings (default 1 ms).
    pub fn idle_poll(mut self, d: Duration) -> Self {
        self.config.idle_poll = Some(d);
        self
    }
    /// Bytes of JSON the writer gathers before it writes a batch (default 256 KiB).
    pub fn batch_bytes(mut self, bytes: usize) -> Self {
        self.config.batch_bytes = Some(bytes);
        self
    }
    /// Bound of each sink's retry backlog while it fails (default 8 MiB).
    pub fn sink_backlog(mut self, bytes: usize) -> Self {
        self.config.sink_backlog = Some(bytes);
        self
    }
    /// How long dropping the guard waits for the writer to finish (default 5 s).
    pub fn shutdown_timeout(mut self, d: Duration) -> Self {
        self.config.shutdown_timeout = Some(d);
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
        self.config.flush_on_signal = Some(mode);
        self
    }
    /// Adds an exporter of log records and spans (see [`crate::export`]);
    /// the export thread starts when at least one is configured.
    pub fn exporter(mut self, e: impl Exporter) -> Self {
        self.config.exporters.push(Box::new(e));
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
        self.config.export_overflow = Some(o);
        self
    }
    /// Exports logs and spans over OTLP, configured by `config` (start
    /// from [`OtlpConfig::from_env`](crate::export::otlp::OtlpConfig::from_env)).
    /// An invalid configuration is an error here. Wins over the
    /// configuration file's processors and over
    /// [`Builder::otlp_if_configured`].
    #[cfg(feature = "otlp")]
    pub fn otlp(self, config: crate::export::otlp::OtlpConfig) -> Result<Self, InitError> {
        let mut b = self;
        b.config.otlp = Some(checked_otlp(config)?);
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
    /// is left out at `init()`). [`Builder::otlp`] wins over it.
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
        self.env_otlp = Some(checked_otlp(cfg)?);
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
        self.config.resource = std::mem::take(&mut self.config.resource).service_name(name);
        self
    }
    /// The service's version (`service.version`).
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.config.resource = std::mem::take(&mut self.config.resource).service_version(version);
        self
    }
    /// The deployment environment (`deployment.environment.name`).
    pub fn deployment_environment(mut self, env: impl Into<String>) -> Self {
        self.config.resource =
            std::mem::take(&mut self.config.resource).deployment_environment(env);
        self
    }
    /// Any resource attribute; the builder wins over `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn resource_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<AttrValue>,
    ) -> Self {
        self.config.resource = std::mem::take(&mut self.config.resource).attribute(key, value);
        self
    }
    /// Log records made where an OpenTelemetry `Context` with a valid span
    /// is current and no span of this crate is entered take their trace
    /// ids from it (as do spans started there). Off by default: it costs a
    /// thread-local lookup in every log call outside a span.
    #[cfg(feature = "opentelemetry")]
    pub fn opentelemetry_context(mut self, on: bool) -> Self {
        self.config.otel_interop = Some(on);
        self
    }
    /// Install the `log` bridge (feature `log`, default on): records logged
    /// through the `log` crate become records of this engine, and
    /// `log::max_level` follows the filter directives. When another `log`
    /// logger is already installed, `init()` goes on without the bridge and
    /// writes one WARN record saying so.
    #[cfg(feature = "log")]
    pub fn log_bridge(mut self, on: bool) -> Self {
        self.config.log_bridge = Some(on);
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
        self.config.tracing_bridge = Some(on);
        self
    }

    /// Redaction (default on, see [`crate::redact`]): fields whose key
    /// names a secret (`redact::DEFAULT_KEYS`) and secrets found in string
    /// values (`redact::Rule::DEFAULT_PATTERNS`) are replaced in the JSON
    /// output and in every exporter. `false` turns all of it off; `true`
    /// turns on the default keys and patterns where none are on.
    /// `DATAPUNK_LOG_REDACT`, when set, applies over this.
    pub fn redaction(mut self, on: bool) -> Self {
        self.config.redaction.decide(move |c| c.set_all(on));
        self
    }

    /// Replaces the redacted keys (and turns redaction by key on).
    pub fn redact_keys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let keys: Vec<String> = keys.into_iter().map(Into::into).collect();
        self.config
            .redaction
            .decide(move |c| c.set_keys(keys.clone()));
        self
    }

    /// Adds a key to those redacted (and turns redaction by key on, with
    /// the default keys if it was off).
    pub fn redact_key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        self.config
            .redaction
            .decide(move |c| c.add_key(key.clone()));
        self
    }

    /// Turns one rule on or off: a value pattern (`Rule::Email` is off by
    /// default, the others on), or `Rule::Key` (on: the default keys if
    /// none were given).
    pub fn redact_rule(mut self, rule: crate::redact::Rule, on: bool) -> Self {
        self.config.redaction.decide(move |c| c.set(rule, on));
        self
    }

    /// The value patterns in force, exactly these (empty: none).
    /// `Rule::Key` in the list is ignored: redaction by key has its own
    /// options ([`Builder::redact_rule`], [`Builder::redact_keys`]).
    pub fn redact_patterns(mut self, rules: impl IntoIterator<Item = crate::redact::Rule>) -> Self {
        let rules: Vec<crate::redact::Rule> = rules.into_iter().collect();
        self.config
            .redaction
            .decide(move |c| c.set_patterns(rules.iter().copied()));
        self
    }

    /// Adds a token prefix to those of `Rule::CloudKey`
    /// (`redact::DEFAULT_TOKEN_PREFIXES`): text that starts with it, not
    /// inside a longer word, followed by at least 8 bytes of
    /// `[A-Za-z0-9_-]`, is a secret. 2 to 32 bytes of `[A-Za-z0-9_.-]`
    /// holding a `_`, `-` or `.` (`init()` checks).
    pub fn redact_token_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.config
            .redaction
            .decide(move |c| c.prefixes.push(prefix.clone()));
        self
    }

    /// Replaces the token prefixes of `Rule::CloudKey`.
    pub fn redact_token_prefixes<I, S>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let prefixes: Vec<String> = prefixes.into_iter().map(Into::into).collect();
        self.config
            .redaction
            .decide(move |c| c.prefixes = prefixes.clone());
        self
    }

    /// What a redacted value is written as (default
    /// `redact::Replacement::Mask`).
    pub fn redact_replacement(mut self, replacement: crate::redact::Replacement) -> Self {
        self.config
            .redaction
            .decide(move |c| c.replacement = replacement.clone());
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
        self.config.panic_hook = Some(on);
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
        self.config.span_fields = Some(on);
        self
    }

    /// A line for each ended span, in every sink's format: its name and
    /// fields, ids, `start_timestamp`, `duration_ns`, `otel.status_code`,
    /// `otel.status_description` and the last recorded exception. Default
    /// off; unset, `DATAPUNK_LOG_SPAN_ENDS` decides
    /// ([`crate::SPAN_ENDS_ENV`]).
    pub fn span_ends(mut self, on: bool) -> Self {
        self.config.span_ends = Some(on);
        self
    }

    /// The writer writes an INFO record of the engine's figures (target
    /// `datapunk_log::stats`, message `engine stats`: records produced,
    /// written, dropped, sampled out; bytes; sink errors and lost lines;
    /// file rotations, deletions and the compression backlog; the export
    /// queue's depth, drops and failures) at most once per `every`. Default
    /// off; `DATAPUNK_LOG_STATS_INTERVAL` (`60s`, `5m`) when unset here.
    pub fn stats_interval(mut self, every: Duration) -> Self {
        self.config.stats_interval = Some(every);
        self
    }

    /// Installs the engine and starts the writer thread. Fails if an engine is
    /// already installed, a directive is invalid, or a file cannot be opened.
    pub fn init(self) -> Result<Guard, InitError> {
        if engine::get().is_some() {
            return Err(InitError::AlreadyInitialized);
        }
        let Builder {
            config: builder,
            use_env,
            #[cfg(feature = "otlp")]
            env_otlp,
            config_file,
        } = self;
        // The layers: operator variables > builder > file > environment's
        // defaults > defaults (see the `layer` module).
        let EnvLayers {
            operator,
            mut fallback,
        } = if use_env {
            env_layers(|n| std::env::var(n).ok())?
        } else {
            EnvLayers {
                operator: Config::default(),
                fallback: Config::default(),
            }
        };
        #[cfg(feature = "config-file")]
        let loaded = load_config_file(config_file.as_deref(), use_env)?;
        #[cfg(not(feature = "config-file"))]
        let _ = config_file;
        #[cfg(feature = "config-file")]
        let file_in_use = loaded.is_some();
        #[cfg(not(feature = "config-file"))]
        let file_in_use = false;
        #[cfg(feature = "config-file")]
        let (from_file, notes) = match &loaded {
            Some((_, f, _)) => file::layer(f),
            None => (Config::default(), Vec::new()),
        };
        #[cfg(not(feature = "config-file"))]
        let from_file = Config::default();
        // What a reload of the file leaves alone.
        #[cfg(feature = "config-file")]
        let pinned = operator.reloadable().over(builder.reloadable());
        // The `OTEL_*` variables, silenced by a file in use (the
        // specification: the file is authoritative).
        let mut sampler_warning = None;
        if !file_in_use {
            #[cfg(feature = "otlp")]
            {
                fallback.otlp = env_otlp;
            }
            if use_env && builder.sampling.is_none() {
                let (sampler, warning) = crate::sampler::env::from_env();
                fallback.sampling = sampler.map(SamplingConfig::new);
                sampler_warning = warning;
            }
        }
        let c = operator.over(builder).over(from_file).over(fallback);

        let ring_capacity = c.ring_capacity.unwrap_or(DEFAULT_RING_CAPACITY);
        let overflow = c.overflow.unwrap_or(Overflow::Block);
        if ring_capacity < 4096 {
            return Err(InitError::Config(format!(
                "ring_capacity must be at least 4096 bytes, got {ring_capacity}"
            )));
        }
        let batch_bytes = c.batch_bytes.unwrap_or(DEFAULT_BATCH_BYTES);
        if batch_bytes == 0 {
            return Err(InitError::Config("batch_bytes must be positive".into()));
        }
        let directives = match &c.filter {
            Some(f) => Directives::parse(&f.text).map_err(|error| InitError::Filter {
                source: f.source,
                error,
            })?,
            None => Directives::new(LevelFilter::INFO),
        };
        let stats_interval = c.stats_interval.filter(|d| !d.is_zero());
        let defaults = LogSampling::default();
        let log_sampling = LogSampling {
            levels: c.log_levels,
            unsampled: c.unsampled.unwrap_or(defaults.unsampled),
            buffer_records: c.buffer_records.unwrap_or(defaults.buffer_records),
            buffer_bytes: c.buffer_bytes.unwrap_or(defaults.buffer_bytes),
            summary_interval: c.summary_interval.unwrap_or(defaults.summary_interval),
        };
        let span_lines = SpanLines {
            fields: c.span_fields.unwrap_or(false),
            ends: c.span_ends.unwrap_or(false),
        };
        let redact = c
            .redaction
            .apply(crate::redact::Config::default())
            .map_err(InitError::Config)?;
        let redactor = redact
            .build()
            .map_err(|e| InitError::Config(format!("redaction: {e}")))?;
        let record_limit = c.record_limit.unwrap_or(DEFAULT_RECORD_LIMIT).clamp(
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
        let default_format = c.format.unwrap_or(Format::Auto);
        let sink_backlog = c.sink_backlog.unwrap_or(DEFAULT_BACKLOG);
        let mut specs = c.sinks;
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
            sinks.push((SinkSlot::with_stats(sink, sink_backlog, stats), format));
        }
        let settings = Settings {
            ring_capacity,
            record_limit,
            overflow,
        };
        let flush_on_signal = c.flush_on_signal.unwrap_or_default();
        let shutdown_timeout = c.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);
        if flush_on_signal != SignalFlush::Off {
            // Before the engine exists; until then a signal finds nothing to
            // flush and does what it would have done without the handler. A
            // failed `init()` leaves the handler (which changes nothing) and
            // its thread for the next one.
            crate::signal::install(flush_on_signal, shutdown_timeout).map_err(InitError::Signal)?;
        }
        if c.reopen_on_sighup == Some(true) {
            crate::sink::install_sighup(crate::sink::OnSighup::Reopen).map_err(|e| {
                InitError::Config(format!("reopen_on_sighup: cannot handle SIGHUP: {e}"))
            })?;
        }
        #[cfg(feature = "config-file")]
        let reload_on_sighup = c.reload_on_sighup == Some(true);
        #[cfg(feature = "config-file")]
        if reload_on_sighup {
            crate::sink::install_sighup(crate::sink::OnSighup::Reload(file::reload_from_trigger))
                .map_err(|e| {
                InitError::Config(format!("reload_on_sighup: cannot handle SIGHUP: {e}"))
            })?;
        }
        // The capture clock is chosen before the engine is visible, so no record
        // is stamped by one clock and converted as another.
        let clock = c.clock.unwrap_or(ClockSource::Precise);
        let conv = Converter::install(clock);
        // Before any record is written or exported: call sites work out
        // which of their fields are redacted once, at their first use.
        crate::redact::install(redact.keys.as_deref());
        reload::set_redaction(redact.clone());
        let idle_poll = c.idle_poll.unwrap_or(DEFAULT_IDLE_POLL);
        let idle_poll = match clock {
            ClockSource::Coarse => idle_poll.min(Duration::from_micros(100)),
            ClockSource::Precise => idle_poll,
        };
        #[allow(unused_mut)]
        let mut exporters = c.exporters;
        #[cfg(feature = "otlp")]
        if let Some(cfg) = c.otlp {
            let e = crate::export::otlp::OtlpExporter::new(cfg)
                .map_err(|e| InitError::Export(e.to_string()))?;
            exporters.push(Box::new(e));
        }
        // The engine's threads start before the engine is installed, so a
        // failure to start one leaves nothing behind and a later `init()`
        // can succeed.
        let spans = exporters.iter().any(|e| e.wants_spans());
        let (pipeline, export) = if exporters.is_empty() {
            (None, None)
        } else {
            let resource = if file_in_use {
                // The file's attributes are under the builder's already.
                c.resource.build_with(|_| None)
            } else {
                c.resource.build_from_env()
            };
            match Pipeline::start(
                exporters,
                resource,
                EXPORT_SEND_BYTES,
                c.export_overflow.unwrap_or(Overflow::Drop),
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
            order_window: c.order_window.unwrap_or(DEFAULT_ORDER_WINDOW),
            idle_poll,
            batch_bytes,
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
        crate::context::set_interop(c.otel_interop.unwrap_or(false));
        crate::sampler::install(c.sampling.unwrap_or_default());
        log_sampling.install();
        // Cannot fail: the writer holds the receiver until it gets this.
        let _ = engine_tx.send(engine);
        let _ = engine.writer.set(handle.thread().clone());
        if c.panic_hook.unwrap_or(true) {
            install_panic_hook();
        }
        if let Some(w) = sampler_warning {
            crate::warn!(target: "datapunk_log", "{}", w);
        }
        #[cfg(feature = "config-file")]
        match loaded {
            Some((path, file, warnings)) => {
                file::emit_warnings(&warnings, &notes);
                file::set_in_force(path.clone(), file, pinned);
                if let Some(every) = c.watch_config_file
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
                if reload_on_sighup || c.watch_config_file.is_some() {
                    crate::warn!(
                        target: file::TARGET,
                        "reload_on_sighup / watch_config_file: no configuration file is in use (OTEL_CONFIG_FILE or Builder::config_file): nothing to reload"
                    );
                }
            }
        }
        #[cfg(feature = "log")]
        if c.log_bridge.unwrap_or(true) {
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
        if c.tracing_bridge.unwrap_or(true) {
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
            timeout: shutdown_timeout,
        })
    }

    /// Adds a JSON-lines file sink with rotation, retention and compression
    /// (see [`FileConfig`]; its figures are in [`crate::sink_stats`]).
    /// `init()` fails on an invalid setting, or when the file cannot be
    /// opened.
    pub fn file(mut self, config: FileConfig) -> Self {
        self.config
            .sinks
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
        self.config.reopen_on_sighup = Some(on);
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
        self.config.reload_on_sighup = Some(on);
        self
    }

    /// Look at the configuration file every `interval` (at least 10 ms)
    /// and reload it ([`crate::reload_config_file`]) when its modification
    /// time or size changed. A thread of its own polls the file's
    /// metadata; it ends when the engine stops. Off by default.
    #[cfg(feature = "config-file")]
    pub fn watch_config_file(mut self, interval: Duration) -> Self {
        self.config.watch_config_file = Some(interval);
        self
    }
}

/// The configuration file to apply, loaded: `path` (the builder's), else
/// the one `OTEL_CONFIG_FILE` names (when the environment is read).
#[cfg(feature = "config-file")]
fn load_config_file(
    path: Option<&std::path::Path>,
    use_env: bool,
) -> Result<Option<(PathBuf, otel_file::OtelFile, Vec<otel_file::Warning>)>, InitError> {
    let env = |n: &str| std::env::var(n).ok();
    if let Some(p) = path {
        return otel_file::OtelFile::from_path(p, env)
            .map(|(f, w)| Some((p.to_path_buf(), f, w)))
            .map_err(InitError::ConfigFile);
    }
    if !use_env {
        return Ok(None);
    }
    let Some((path, _)) = otel_file::config_file_path(env) else {
        return Ok(None);
    };
    otel_file::OtelFile::from_env(env)
        .map(|l| l.map(|(f, w)| (path, f, w)))
        .map_err(InitError::ConfigFile)
}

/// `config`, once checked (an invalid one is an error at the builder's call).
#[cfg(feature = "otlp")]
fn checked_otlp(
    config: crate::export::otlp::OtlpConfig,
) -> Result<crate::export::otlp::OtlpConfig, InitError> {
    crate::export::otlp::OtlpExporter::new(config.clone())
        .map_err(|e| InitError::Export(e.to_string()))?;
    Ok(config)
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
