//! One [`Config`] for every source of configuration.
//!
//! The builder, the OpenTelemetry configuration file, the environment and a
//! reload each say what they say as a `Config`: every setting is `None`
//! (or empty) where that source is silent. `init()` puts them one over the
//! other ([`Config::over`]: the upper layer wins per setting) and fills what
//! none of them says with the defaults:
//!
//! ```text
//! operator variables (DATAPUNK_LOG, _SAMPLING, _UNSAMPLED, _BUFFER, _REDACT…)
//!   over the builder
//!   over the configuration file
//!   over the environment's defaults (DATAPUNK_LOG_FORMAT, _STATS_INTERVAL,
//!        _SPAN_FIELDS/_ENDS; OTEL_TRACES_SAMPLER and the OTEL_* of the
//!        resource and of OTLP only without a file)
//!   over the defaults
//! ```
//!
//! A reload is a `Config` too: its reloadable parts (filter, trace
//! sampling, log sampling, redaction) are applied to the running engine;
//! a reload of the file computes `pinned.over(file)`, where `pinned` is
//! what the operator variables and the builder decided at `init()`.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::ClockSource;
use crate::encode::Format;
use crate::export::Exporter;
use crate::overflow::Overflow;
use crate::redact::Config as RedactConfig;
use crate::resource::ResourceBuilder;
use crate::sampler::logs::LEVELS;
use crate::sampler::{LogPolicy, SamplingConfig, Unsampled};
use crate::signal::SignalFlush;
use crate::sink::{FileConfig, MemorySink, Sink};

use super::InitError;

/// A sink as configured (built at `init()`).
pub(crate) enum SinkSpec {
    Stdout,
    Stderr,
    Null,
    File(std::path::PathBuf),
    Memory(MemorySink),
    Custom(Box<dyn Sink>),
    /// A file sink with rotation, retention, compression (`Builder::file`).
    Rolling(FileConfig),
}

impl SinkSpec {
    /// The sink's name in `sink_stats()`.
    pub(crate) fn name(&self) -> String {
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

impl std::fmt::Debug for SinkSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SinkSpec::Rolling(c) => f.debug_tuple("Rolling").field(c).finish(),
            other => f.write_str(&other.name()),
        }
    }
}

/// One change of a redaction configuration; the error names what is wrong.
pub(crate) type RedactEdit = Arc<dyn Fn(&mut RedactConfig) -> Result<(), String> + Send + Sync>;

/// A source's redaction: edits applied in order, either over the defaults,
/// replacing whatever the sources below say (`base`: the builder, the
/// file), or over what they say (the operator variables, a reload).
#[derive(Clone, Default)]
pub(crate) struct Redaction {
    pub base: bool,
    pub edits: Vec<RedactEdit>,
}

impl Redaction {
    /// Whether this source says nothing of redaction.
    pub(crate) fn is_empty(&self) -> bool {
        !self.base && self.edits.is_empty()
    }

    /// Adds an edit over the defaults (a source that decides redaction).
    pub(crate) fn decide(&mut self, edit: impl Fn(&mut RedactConfig) + Send + Sync + 'static) {
        self.base = true;
        self.edits.push(Arc::new(move |c| {
            edit(c);
            Ok(())
        }));
    }

    /// Adds an edit over what the sources below say.
    pub(crate) fn amend(
        &mut self,
        edit: impl Fn(&mut RedactConfig) -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.edits.push(Arc::new(edit));
    }

    fn over(self, lower: Redaction) -> Redaction {
        if self.base {
            return self;
        }
        let mut edits = lower.edits;
        edits.extend(self.edits);
        Redaction {
            base: lower.base,
            edits,
        }
    }

    /// The configuration these edits give: over the defaults when `base`,
    /// else over `start`.
    pub(crate) fn apply(&self, start: RedactConfig) -> Result<RedactConfig, String> {
        let mut c = if self.base {
            RedactConfig::default()
        } else {
            start
        };
        for edit in &self.edits {
            edit(&mut c)?;
        }
        Ok(c)
    }
}

impl std::fmt::Debug for Redaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redaction")
            .field("base", &self.base)
            .field("edits", &self.edits.len())
            .finish()
    }
}

/// Filter directives and where they come from (named by a bad directive's
/// error).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FilterText {
    pub text: String,
    pub source: &'static str,
}

/// Every setting of the engine, as one source says it (see the module
/// docs). Reloadable: `filter`, `sampling`, `log_levels`, `unsampled`,
/// `redaction`; the rest is fixed at `init()`.
#[derive(Default)]
pub(crate) struct Config {
    // Reloadable.
    pub filter: Option<FilterText>,
    pub sampling: Option<SamplingConfig>,
    /// Per level (`Level as usize`).
    pub log_levels: [Option<LogPolicy>; LEVELS],
    pub unsampled: Option<Unsampled>,
    pub redaction: Redaction,
    // Fixed at `init()`.
    /// Each sink with its own format, if any; a source with sinks replaces
    /// those of the sources below.
    pub sinks: Vec<(SinkSpec, Option<Format>)>,
    /// The format of sinks without their own.
    pub format: Option<Format>,
    pub overflow: Option<Overflow>,
    pub ring_capacity: Option<usize>,
    pub record_limit: Option<usize>,
    pub buffer_records: Option<usize>,
    pub buffer_bytes: Option<usize>,
    pub summary_interval: Option<Duration>,
    pub stats_interval: Option<Duration>,
    pub span_fields: Option<bool>,
    pub span_ends: Option<bool>,
    /// Per attribute: a key set above wins.
    pub resource: ResourceBuilder,
    /// OpenTelemetry export over OTLP (the builder's `.otlp(cfg)`, the
    /// file's processors, `otlp_if_configured`'s variables).
    #[cfg(feature = "otlp")]
    pub otlp: Option<crate::export::otlp::OtlpConfig>,
    /// Exporters given as objects (the builder's `.exporter(e)`).
    pub exporters: Vec<Box<dyn Exporter>>,
    pub export_overflow: Option<Overflow>,
    pub clock: Option<ClockSource>,
    pub order_window: Option<Duration>,
    pub idle_poll: Option<Duration>,
    pub batch_bytes: Option<usize>,
    pub sink_backlog: Option<usize>,
    pub shutdown_timeout: Option<Duration>,
    pub panic_hook: Option<bool>,
    pub flush_on_signal: Option<SignalFlush>,
    #[cfg(feature = "log")]
    pub log_bridge: Option<bool>,
    #[cfg(feature = "tracing")]
    pub tracing_bridge: Option<bool>,
    #[cfg(feature = "opentelemetry")]
    pub otel_interop: Option<bool>,
    pub reopen_on_sighup: Option<bool>,
    pub reload_on_sighup: Option<bool>,
    pub watch_config_file: Option<Duration>,
}

impl Config {
    /// This source over `lower`: per setting, this one's where it says
    /// something, else `lower`'s.
    pub(crate) fn over(self, lower: Config) -> Config {
        let mut log_levels = self.log_levels;
        for (mine, theirs) in log_levels.iter_mut().zip(lower.log_levels) {
            *mine = mine.or(theirs);
        }
        Config {
            filter: self.filter.or(lower.filter),
            sampling: self.sampling.or(lower.sampling),
            log_levels,
            unsampled: self.unsampled.or(lower.unsampled),
            redaction: self.redaction.over(lower.redaction),
            sinks: first(self.sinks, lower.sinks),
            format: self.format.or(lower.format),
            overflow: self.overflow.or(lower.overflow),
            ring_capacity: self.ring_capacity.or(lower.ring_capacity),
            record_limit: self.record_limit.or(lower.record_limit),
            buffer_records: self.buffer_records.or(lower.buffer_records),
            buffer_bytes: self.buffer_bytes.or(lower.buffer_bytes),
            summary_interval: self.summary_interval.or(lower.summary_interval),
            stats_interval: self.stats_interval.or(lower.stats_interval),
            span_fields: self.span_fields.or(lower.span_fields),
            span_ends: self.span_ends.or(lower.span_ends),
            resource: self.resource.under(lower.resource),
            #[cfg(feature = "otlp")]
            otlp: self.otlp.or(lower.otlp),
            exporters: first(self.exporters, lower.exporters),
            export_overflow: self.export_overflow.or(lower.export_overflow),
            clock: self.clock.or(lower.clock),
            order_window: self.order_window.or(lower.order_window),
            idle_poll: self.idle_poll.or(lower.idle_poll),
            batch_bytes: self.batch_bytes.or(lower.batch_bytes),
            sink_backlog: self.sink_backlog.or(lower.sink_backlog),
            shutdown_timeout: self.shutdown_timeout.or(lower.shutdown_timeout),
            panic_hook: self.panic_hook.or(lower.panic_hook),
            flush_on_signal: self.flush_on_signal.or(lower.flush_on_signal),
            #[cfg(feature = "log")]
            log_bridge: self.log_bridge.or(lower.log_bridge),
            #[cfg(feature = "tracing")]
            tracing_bridge: self.tracing_bridge.or(lower.tracing_bridge),
            #[cfg(feature = "opentelemetry")]
            otel_interop: self.otel_interop.or(lower.otel_interop),
            reopen_on_sighup: self.reopen_on_sighup.or(lower.reopen_on_sighup),
            reload_on_sighup: self.reload_on_sighup.or(lower.reload_on_sighup),
            watch_config_file: self.watch_config_file.or(lower.watch_config_file),
        }
    }

    /// A copy of the reloadable parts (the rest left unsaid).
    #[cfg_attr(not(feature = "config-file"), allow(dead_code))]
    pub(crate) fn reloadable(&self) -> Config {
        Config {
            filter: self.filter.clone(),
            sampling: self.sampling.clone(),
            log_levels: self.log_levels,
            unsampled: self.unsampled,
            redaction: self.redaction.clone(),
            ..Config::default()
        }
    }
}

/// `upper` where it holds anything, else `lower` (lists replace, not merge).
fn first<T>(upper: Vec<T>, lower: Vec<T>) -> Vec<T> {
    if upper.is_empty() { lower } else { upper }
}

/// The environment's two layers (see the module docs).
pub(crate) struct EnvLayers {
    /// `DATAPUNK_LOG`, `_SAMPLING`, `_UNSAMPLED`, `_BUFFER`, `_REDACT`,
    /// `_REDACT_HMAC_KEY(_ID)`: over the builder and the file.
    pub operator: Config,
    /// `DATAPUNK_LOG_FORMAT`, `_STATS_INTERVAL`, `_SPAN_FIELDS`,
    /// `_SPAN_ENDS`: under the builder and the file.
    pub fallback: Config,
}

/// Reads the environment's layers through `var`. A set but blank variable
/// counts as unset, except `DATAPUNK_LOG` and `DATAPUNK_LOG_FORMAT`, which
/// are parsed as they are. A bad value is an error naming the variable.
pub(crate) fn env_layers(var: impl Fn(&str) -> Option<String>) -> Result<EnvLayers, InitError> {
    use crate::redact::{HMAC_KEY_ENV, HMAC_KEY_ID_ENV, REDACT_ENV};
    use crate::sampler::logs::{parse_buffer_env, parse_sampling_env, parse_unsampled_env};
    use crate::sampler::{BUFFER_ENV, SAMPLING_ENV, UNSAMPLED_ENV};
    let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let env_err = |variable: &'static str| move |error: String| InitError::Env { variable, error };
    let mut operator = Config {
        filter: var(super::FILTER_ENV).map(|text| FilterText {
            text,
            source: super::FILTER_ENV,
        }),
        ..Config::default()
    };
    if let Some(v) = get(SAMPLING_ENV) {
        let p = parse_sampling_env(&v).map_err(env_err(SAMPLING_ENV))?;
        crate::sampler::set_below_error(&mut operator.log_levels, p);
    }
    if let Some(v) = get(UNSAMPLED_ENV) {
        operator.unsampled = Some(parse_unsampled_env(&v).map_err(env_err(UNSAMPLED_ENV))?);
    }
    if let Some(v) = get(BUFFER_ENV) {
        let (records, bytes) = parse_buffer_env(&v).map_err(env_err(BUFFER_ENV))?;
        operator.buffer_records = Some(records);
        operator.buffer_bytes = Some(bytes);
    }
    let redact_vars: Vec<(&'static str, String)> = [REDACT_ENV, HMAC_KEY_ENV, HMAC_KEY_ID_ENV]
        .into_iter()
        .filter_map(|n| get(n).map(|v| (n, v)))
        .collect();
    if !redact_vars.is_empty() {
        let read = move |n: &str| {
            redact_vars
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
        };
        // Checked now, so a bad value fails `init()` naming its variable.
        RedactConfig::default()
            .apply_env(&read)
            .map_err(|(variable, error)| InitError::Env { variable, error })?;
        operator.redaction.amend(move |c| {
            c.apply_env(&read)
                .map_err(|(variable, error)| format!("{variable}: {error}"))
        });
    }

    let mut fallback = Config::default();
    if let Some(v) = var(crate::encode::FORMAT_ENV) {
        fallback.format =
            Some(
                v.parse()
                    .map_err(|e: crate::encode::FormatError| InitError::Env {
                        variable: crate::encode::FORMAT_ENV,
                        error: e.to_string(),
                    })?,
            );
    }
    if let Some(v) = get(super::STATS_INTERVAL_ENV) {
        let ns = crate::sampler::logs::parse_duration_ns(super::STATS_INTERVAL_ENV, v.trim())
            .map_err(env_err(super::STATS_INTERVAL_ENV))?;
        fallback.stats_interval = Some(Duration::from_nanos(ns));
    }
    let lines = crate::encode::span_table::SpanLines::resolve(None, None, get)
        .map_err(|(variable, error)| InitError::Env { variable, error })?;
    use crate::encode::span_table::{SPAN_ENDS_ENV, SPAN_FIELDS_ENV};
    fallback.span_fields = get(SPAN_FIELDS_ENV).map(|_| lines.fields);
    fallback.span_ends = get(SPAN_ENDS_ENV).map(|_| lines.ends);
    Ok(EnvLayers { operator, fallback })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Level;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |n| {
            pairs
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn upper_wins_per_setting() {
        let mut upper = Config {
            ring_capacity: Some(1 << 20),
            filter: Some(FilterText {
                text: "debug".into(),
                source: "filter",
            }),
            ..Config::default()
        };
        upper.log_levels[Level::Debug as usize] = Some(LogPolicy::KEEP_ALL);
        let mut lower = Config {
            ring_capacity: Some(4096),
            record_limit: Some(1024),
            overflow: Some(Overflow::Drop),
            sinks: vec![(SinkSpec::Stderr, None)],
            ..Config::default()
        };
        let drop_all = LogPolicy::new(0, 0, 1_000_000_000);
        lower.log_levels[Level::Debug as usize] = Some(drop_all);
        lower.log_levels[Level::Info as usize] = Some(drop_all);
        let c = upper.over(lower);
        assert_eq!(c.ring_capacity, Some(1 << 20));
        assert_eq!(c.record_limit, Some(1024));
        assert_eq!(c.overflow, Some(Overflow::Drop));
        assert_eq!(c.filter.map(|f| f.text).as_deref(), Some("debug"));
        assert_eq!(
            c.log_levels[Level::Debug as usize],
            Some(LogPolicy::KEEP_ALL)
        );
        assert_eq!(c.log_levels[Level::Info as usize], Some(drop_all));
        assert_eq!(
            c.sinks.len(),
            1,
            "the lower source's sinks, the upper has none"
        );
    }

    #[test]
    fn sinks_of_the_upper_replace_the_lower() {
        let upper = Config {
            sinks: vec![(SinkSpec::Null, None), (SinkSpec::Stdout, None)],
            ..Config::default()
        };
        let lower = Config {
            sinks: vec![(SinkSpec::Stderr, Some(Format::Console))],
            ..Config::default()
        };
        let names: Vec<String> = upper
            .over(lower)
            .sinks
            .iter()
            .map(|(s, _)| s.name())
            .collect();
        assert_eq!(names, ["null", "stdout"]);
    }

    #[test]
    fn redaction_decided_replaces_amended_stacks() {
        let mut file = Redaction::default();
        file.decide(|c| c.set_keys(vec!["a".into()]));
        let mut operator = Redaction::default();
        operator.amend(|c| {
            c.add_key("b".into());
            Ok(())
        });
        let mut builder = Redaction::default();
        builder.decide(|c| c.set_keys(vec!["z".into()]));

        // Operator over file: the file's keys, then the operator's.
        let c = operator
            .clone()
            .over(file.clone())
            .apply(RedactConfig::default())
            .unwrap();
        assert_eq!(c.keys, Some(vec!["a".to_owned(), "b".to_owned()]));
        // The builder decides: the file's say is gone, the operator's stays.
        let c = operator
            .over(builder.over(file))
            .apply(RedactConfig::default())
            .unwrap();
        assert_eq!(c.keys, Some(vec!["z".to_owned(), "b".to_owned()]));
        // Nothing said: the start stays.
        let start = RedactConfig {
            keys: None,
            ..RedactConfig::default()
        };
        assert!(Redaction::default().is_empty());
        assert_eq!(Redaction::default().apply(start).unwrap().keys, None);
    }

    #[test]
    fn env_layers_split_operator_and_fallback() {
        let l = env_layers(env(&[
            ("DATAPUNK_LOG", "warn"),
            ("DATAPUNK_LOG_SAMPLING", "first=5,thereafter=10,period=1s"),
            ("DATAPUNK_LOG_UNSAMPLED", "drop"),
            ("DATAPUNK_LOG_BUFFER", "records=8,bytes=1MiB"),
            ("DATAPUNK_LOG_REDACT", "email"),
            ("DATAPUNK_LOG_FORMAT", "console"),
            ("DATAPUNK_LOG_STATS_INTERVAL", "5m"),
            ("DATAPUNK_LOG_SPAN_ENDS", "yes"),
        ]))
        .expect("valid");
        let o = &l.operator;
        assert_eq!(o.filter.as_ref().map(|f| f.text.as_str()), Some("warn"));
        assert_eq!(o.filter.as_ref().map(|f| f.source), Some("DATAPUNK_LOG"));
        let p = o.log_levels[Level::Info as usize].expect("sampled below error");
        assert_eq!((p.first, p.thereafter), (5, 10));
        assert_eq!(o.log_levels[Level::Error as usize], None);
        assert_eq!(o.unsampled, Some(Unsampled::Drop));
        assert_eq!((o.buffer_records, o.buffer_bytes), (Some(8), Some(1 << 20)));
        assert!(!o.redaction.base, "the operator's redaction amends");
        let r = o.redaction.apply(RedactConfig::default()).unwrap();
        assert_ne!(r.patterns, RedactConfig::default().patterns, "email on");
        let f = &l.fallback;
        assert_eq!(f.format, Some(Format::Console));
        assert_eq!(f.stats_interval, Some(Duration::from_secs(300)));
        assert_eq!((f.span_fields, f.span_ends), (None, Some(true)));
        assert!(f.filter.is_none() && o.format.is_none());
    }

    #[test]
    fn blank_variables_say_nothing_and_error_stays_below_the_operator() {
        let l = env_layers(env(&[
            ("DATAPUNK_LOG_SAMPLING", "first=5,thereafter=10,period=2s"),
            ("DATAPUNK_LOG_UNSAMPLED", "  "),
            ("DATAPUNK_LOG_BUFFER", ""),
            ("DATAPUNK_LOG_REDACT", " "),
        ]))
        .expect("valid");
        assert_eq!(l.operator.unsampled, None);
        assert_eq!(l.operator.buffer_records, None);
        assert!(l.operator.redaction.is_empty());
        let mut builder = Config::default();
        builder.log_levels[Level::Error as usize] = Some(LogPolicy::new(1, 2, 3));
        builder.log_levels[Level::Debug as usize] = Some(LogPolicy::new(7, 7, 7));
        let c = l.operator.over(builder);
        let p = LogPolicy::new(5, 10, 2_000_000_000);
        assert_eq!(c.log_levels[..Level::Error as usize], [Some(p); 4]);
        assert_eq!(
            c.log_levels[Level::Error as usize],
            Some(LogPolicy::new(1, 2, 3))
        );
        assert_eq!(c.log_levels[Level::Fatal as usize], None);
    }

    #[test]
    fn env_layers_name_the_bad_variable() {
        for (pairs, name) in [
            (
                &[("DATAPUNK_LOG_SAMPLING", "first=x")][..],
                "DATAPUNK_LOG_SAMPLING",
            ),
            (
                &[("DATAPUNK_LOG_UNSAMPLED", "maybe")],
                "DATAPUNK_LOG_UNSAMPLED",
            ),
            (&[("DATAPUNK_LOG_BUFFER", "lots")], "DATAPUNK_LOG_BUFFER"),
            (&[("DATAPUNK_LOG_REDACT", "cards")], "DATAPUNK_LOG_REDACT"),
            (&[("DATAPUNK_LOG_FORMAT", "yaml")], "DATAPUNK_LOG_FORMAT"),
            (
                &[("DATAPUNK_LOG_STATS_INTERVAL", "often")],
                "DATAPUNK_LOG_STATS_INTERVAL",
            ),
            (
                &[("DATAPUNK_LOG_SPAN_FIELDS", "si")],
                "DATAPUNK_LOG_SPAN_FIELDS",
            ),
        ] {
            let pairs: &'static [(&'static str, &'static str)] = pairs;
            match env_layers(env(pairs)) {
                Err(InitError::Env { variable, .. }) => assert_eq!(variable, name),
                Err(e) => panic!("{name}: {e}"),
                Ok(_) => panic!("{name}: accepted"),
            }
        }
    }
}
