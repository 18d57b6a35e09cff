//! The OpenTelemetry configuration file applied to the engine: what each
//! part of [`OtelFile`] becomes in the engine's terms (its layer of the
//! engine's `Config`: [`layer`]), the file in
//! force (for [`reload_config_file`]), and the reload's triggers (SIGHUP, a
//! thread watching the file).
//!
//! Precedence (see the README's "Operations"): the builder, then the file,
//! then the environment, then the defaults, except that the `DATAPUNK_LOG*` operator variables still win
//! over both, and that a file in use makes every other `OTEL_*` variable
//! ignored (the specification: the file is authoritative; it references
//! variables through `${VAR}` substitution).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::layer::{Config, FilterText, SinkSpec};
use super::otel_file::{
    AttributeValue, ConfigFileError, FileCompression, LineFormat, LoggerConfig, OtelFile,
    Propagator, RedactionConfig, ReplacementKind, RotateEvery, SinkConfig, Warning,
};
use super::reload::{Reload, ReloadError};
use crate::encode::Format;
use crate::level::{Directives, LevelFilter};
use crate::redact::Config as RedactConfig;
use crate::resource::AttrValue;
use crate::sampler::{LogPolicy, SamplingConfig, Unsampled};
use crate::sink::FileConfig;

/// The target of the records the configuration file gives rise to.
pub(crate) const TARGET: &str = "datapunk_log::config";

fn line_format(f: LineFormat) -> Format {
    match f {
        LineFormat::Json => Format::Json,
        LineFormat::Console => Format::Console,
        LineFormat::Auto => Format::Auto,
    }
}

fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// What `file` says, as the configuration file's layer of the engine's
/// [`Config`], and the notes of what it could not apply as written (one
/// WARN record each). Never fails: the model is already validated.
pub(crate) fn layer(file: &OtelFile) -> (Config, Vec<String>) {
    let mut notes = Vec::new();
    let mut p = Config::default();
    {
        let origin = &file.origin;
        let ext = file.datapunk_log.as_ref();
        p.filter = filter(file, &mut notes).map(|d| FilterText {
            text: d.to_string(),
            source: "configuration file",
        });
        if let Some(r) = ext.and_then(|e| e.ring.as_ref()) {
            p.ring_capacity = r.capacity.map(usize_of);
            p.record_limit = r.max_record_bytes.map(usize_of);
            p.overflow = r.overflow;
        }
        for s in ext.map(|e| &e.sinks[..]).unwrap_or(&[]) {
            p.sinks.push(match s {
                SinkConfig::Stdout { format } => (SinkSpec::Stdout, format.map(line_format)),
                SinkConfig::Stderr { format } => (SinkSpec::Stderr, format.map(line_format)),
                SinkConfig::File(f) => {
                    let mut c = FileConfig::new(&f.path);
                    if let Some(r) = &f.rotation {
                        if let Some(n) = r.size {
                            c = c.rotate_size(n);
                        }
                        match r.every {
                            Some(RotateEvery::Hourly) => {
                                c = c.rotate_every(crate::sink::Rotation::Hourly);
                            }
                            Some(RotateEvery::Daily) => {
                                c = c.rotate_every(crate::sink::Rotation::Daily);
                            }
                            None => {}
                        }
                        if let Some(l) = r.local_time {
                            c = c.local_time(l);
                        }
                    }
                    if let Some(r) = &f.retention {
                        if let Some(n) = r.keep_files {
                            c = c.keep_files(usize_of(n));
                        }
                        if let Some(a) = r.max_age {
                            c = c.max_age(a);
                        }
                        if let Some(b) = r.max_total_bytes {
                            c = c.max_total_bytes(b);
                        }
                    }
                    c = c.compress(match f.compress {
                        Some(FileCompression::Gzip) => crate::sink::Compression::Gzip,
                        Some(FileCompression::Zstd) => crate::sink::Compression::Zstd,
                        Some(FileCompression::None) | None => crate::sink::Compression::None,
                    });
                    if let Some(m) = f.mode {
                        c = c.mode(m);
                    }
                    // A file is never a terminal: `auto` is JSON there.
                    let format = match f.format {
                        Some(LineFormat::Console) => Format::Console,
                        _ => Format::Json,
                    };
                    (SinkSpec::Rolling(c), Some(format))
                }
            });
        }
        if let Some(r) = ext.and_then(|e| e.redaction.clone()) {
            // The file decides redaction: over the defaults.
            let origin = origin.clone();
            p.redaction.base = true;
            p.redaction.amend(move |c| {
                apply_redaction(&r, c)
                    .map_err(|e| format!("{origin}: distribution.datapunk_log.{e}"))
            });
        }
        if let Some(ls) = ext.and_then(|e| e.log_sampling.as_ref()) {
            if let Some(b) = ls.below_error {
                crate::sampler::set_below_error(&mut p.log_levels, b);
            }
            for (level, policy) in &ls.levels {
                p.log_levels[*level as usize] = Some(*policy);
            }
            p.unsampled = ls.unsampled;
            if let Some(b) = &ls.debug_buffer {
                p.buffer_records = b.records_per_trace;
                p.buffer_bytes = b.bytes;
            }
        }
        if p.unsampled.is_none() && trace_based(file, &mut notes) {
            p.unsampled = Some(Unsampled::Drop);
        }
        p.sampling = file
            .tracer_provider
            .as_ref()
            .and_then(|t| t.sampler.clone())
            .map(SamplingConfig::new);
        if let Some(r) = &file.resource {
            for (k, v) in r.merged_attributes() {
                let v = match v {
                    AttributeValue::Str(s) => AttrValue::Str(s),
                    AttributeValue::Bool(b) => AttrValue::Bool(b),
                    AttributeValue::Int(i) => AttrValue::I64(i),
                    AttributeValue::Double(d) => AttrValue::F64(d),
                    _ => {
                        notes.push(format!(
                            "{origin}: resource.attributes: {k}: array values are not supported by the engine's resource: left out"
                        ));
                        continue;
                    }
                };
                p.resource = p.resource.attribute(k, v);
            }
            if r.schema_url.is_some() {
                notes.push(format!(
                    "{origin}: resource.schema_url: not applied (the engine's resource has no schema URL)"
                ));
            }
        }
        if let Some(prop) = &file.propagator
            && prop.composite != [Propagator::TraceContext, Propagator::Baggage]
        {
            notes.push(format!(
                "{origin}: propagator: the engine always propagates tracecontext and baggage (datapunk_log::propagation)"
            ));
        }
    }
    otlp(file, &mut p, &mut notes);
    (p, notes)
}

/// The file's filter directives: `distribution.datapunk_log.filter`, then
/// the logger configurator's `default_config` and `loggers` (logger name =
/// target) on top.
fn filter(file: &OtelFile, notes: &mut Vec<String>) -> Option<Directives> {
    let ext = file.datapunk_log.as_ref().and_then(|d| d.filter.as_ref());
    let conf = file
        .logger_provider
        .as_ref()
        .and_then(|l| l.logger_configurator.as_ref());
    if ext.is_none() && conf.is_none() {
        return None;
    }
    let mut s = ext.map_or_else(|| "info".to_owned(), ToString::to_string);
    if let Some(c) = conf {
        let path = "logger_provider.logger_configurator/development";
        if let Some(level) = c.default_config.as_ref().and_then(level_of) {
            s.push(',');
            s.push_str(level);
        }
        for m in &c.loggers {
            let Some(level) = level_of(&m.config) else {
                continue;
            };
            let directive = match target_of(&m.name) {
                Some(None) => level.to_owned(),
                Some(Some(t)) if Directives::parse(&format!("{t}={level}")).is_ok() => {
                    format!("{t}={level}")
                }
                _ => {
                    notes.push(format!(
                        "{}: {path}.loggers: name {:?}: filter directives cannot express this pattern (a name, `*`, or `prefix::*`): not applied",
                        file.origin, m.name
                    ));
                    continue;
                }
            };
            s.push(',');
            s.push_str(&directive);
        }
    }
    match Directives::parse(&s) {
        Ok(d) => Some(d),
        Err(e) => {
            notes.push(format!("{}: filter not applied: {e}", file.origin));
            None
        }
    }
}

/// The directive level of a logger config (`enabled: false`: off).
fn level_of(c: &LoggerConfig) -> Option<&'static str> {
    if c.enabled == Some(false) {
        return Some("off");
    }
    c.minimum_severity
        .map(|s| LevelFilter::from(s.minimum_level()).as_str())
}

/// A logger name pattern as a directive target: `Some(None)` for `*` (the
/// default level), `Some(Some(t))` for a name (it also covers the
/// targets below it: `a::b` matches `a::b::c`) or `t::*`; `None` for
/// what directives cannot express.
fn target_of(name: &str) -> Option<Option<&str>> {
    if name == "*" {
        return Some(None);
    }
    let stem = name.strip_suffix("::*").unwrap_or(name);
    if stem.is_empty() || stem.contains(['*', '?']) {
        return None;
    }
    Some(Some(stem))
}

/// `trace_based: true` in the logger configurator's `default_config`;
/// on a single logger it cannot be applied (the engine's policy for
/// records of unsampled traces is global).
fn trace_based(file: &OtelFile, notes: &mut Vec<String>) -> bool {
    let Some(c) = file
        .logger_provider
        .as_ref()
        .and_then(|l| l.logger_configurator.as_ref())
    else {
        return false;
    };
    for m in &c.loggers {
        if m.config.trace_based == Some(true) {
            notes.push(format!(
                "{}: logger_provider.logger_configurator/development.loggers: {:?}: trace_based applies to every logger or none in datapunk-log (set it in default_config): not applied",
                file.origin, m.name
            ));
        }
    }
    c.default_config
        .as_ref()
        .and_then(|d| d.trace_based)
        .unwrap_or(false)
}

#[cfg(feature = "otlp")]
fn otlp(file: &OtelFile, p: &mut Config, notes: &mut Vec<String>) {
    use super::otel_file::{Compression, Exporter, OtlpEncoding, Processor};
    use crate::export::otlp::{
        BatchConfig, FileSignal, OtlpConfig, Protocol, Signal, parse_headers,
    };
    let origin = &file.origin;
    let traces: &[Processor] = file
        .tracer_provider
        .as_ref()
        .map_or(&[], |t| &t.processors[..]);
    let logs: &[Processor] = file
        .logger_provider
        .as_ref()
        .map_or(&[], |t| &t.processors[..]);
    if traces.is_empty() && logs.is_empty() {
        return;
    }
    if file.disabled == Some(true) {
        notes.push(format!(
            "{origin}: disabled: true: OpenTelemetry export is off (the processors are not applied)"
        ));
        return;
    }
    let mut cfg = OtlpConfig::default()
        .logs(!logs.is_empty())
        .spans(!traces.is_empty());
    for (signal, procs, name) in [
        (Signal::Logs, logs, "logger_provider"),
        (Signal::Traces, traces, "tracer_provider"),
    ] {
        if procs.len() > 1 {
            notes.push(format!(
                "{origin}: {name}.processors: the engine has one OTLP exporter per signal: processors[1..] ({} more) not applied",
                procs.len() - 1
            ));
        }
        let Some(proc) = procs.first() else { continue };
        let at = format!("{name}.processors[0]");
        let (protocol, e) = match proc.exporter() {
            Exporter::OtlpGrpc(e) => (Protocol::Grpc, e),
            Exporter::OtlpHttp(e) if e.encoding == Some(OtlpEncoding::Json) => {
                (Protocol::HttpJson, e)
            }
            Exporter::OtlpHttp(e) => (Protocol::HttpProtobuf, e),
        };
        let mut batch = match signal {
            Signal::Logs => BatchConfig::logs_default(),
            Signal::Traces => BatchConfig::spans_default(),
        };
        // Zero: no limit (the schema's meaning); an hour stands for it.
        let no_limit = |d: Duration| {
            if d.is_zero() {
                Duration::from_secs(3600)
            } else {
                d
            }
        };
        match proc {
            Processor::Batch(b) => {
                if let Some(d) = b.schedule_delay {
                    batch.schedule_delay = d;
                }
                if let Some(d) = b.export_timeout {
                    batch.export_timeout = no_limit(d);
                }
                if let Some(n) = b.max_queue_size {
                    batch.max_queue_size = n;
                }
                if let Some(n) = b.max_export_batch_size {
                    batch.max_export_batch_size = n;
                }
            }
            Processor::Simple(_) => {
                batch.max_export_batch_size = 1;
                batch.schedule_delay = Duration::ZERO;
            }
        }
        let mut headers = Vec::new();
        if let Some(list) = &e.headers_list {
            match parse_headers("headers_list", list) {
                Ok(h) => headers = h,
                Err(err) => notes.push(format!("{origin}: {at}: headers_list not applied: {err}")),
            }
        }
        headers.extend(e.headers.iter().cloned());
        if e.max_request_size.is_some() || e.max_response_size.is_some() {
            notes.push(format!(
                "{origin}: {at}: max_request_size / max_response_size: not applied"
            ));
        }
        let tls = e.tls.clone().unwrap_or_default();
        cfg.apply_file_signal(
            signal,
            FileSignal {
                protocol,
                endpoint: e.endpoint.clone(),
                headers,
                compression: e.compression.map(|c| match c {
                    Compression::Gzip => Some(crate::export::otlp::Compression::Gzip),
                    Compression::None => None,
                }),
                timeout: e.timeout.map(no_limit),
                certificate: tls.ca_file,
                client_certificate: tls.cert_file,
                client_key: tls.key_file,
                insecure: tls.insecure,
                batch,
            },
        );
    }
    p.otlp = Some(cfg);
}

#[cfg(not(feature = "otlp"))]
fn otlp(file: &OtelFile, _: &mut Config, notes: &mut Vec<String>) {
    let any = |v: Option<usize>| v.is_some_and(|n| n > 0);
    if any(file.tracer_provider.as_ref().map(|t| t.processors.len()))
        || any(file.logger_provider.as_ref().map(|t| t.processors.len()))
    {
        notes.push(format!(
            "{}: tracer_provider/logger_provider processors: not applied (this build of datapunk-log lacks the feature `otlp`)",
            file.origin
        ));
    }
}

/// Applies the file's `redaction` over `c`. The keyed hash's key never
/// comes from the file: `replacement: hmac` reads
/// `DATAPUNK_LOG_REDACT_HMAC_KEY` and `_KEY_ID` (even with `ignore_env`).
pub(crate) fn apply_redaction(r: &RedactionConfig, c: &mut RedactConfig) -> Result<(), String> {
    if let Some(on) = r.enabled {
        c.set_all(on);
    }
    if let Some(keys) = &r.keys {
        c.set_keys(keys.clone());
    }
    for (rule, on) in &r.patterns {
        c.set(*rule, *on);
    }
    if let Some(p) = &r.token_prefixes {
        c.prefixes.extend(p.iter().cloned());
    }
    match r.replacement {
        Some(ReplacementKind::Mask) => c.replacement = crate::redact::Replacement::Mask,
        Some(ReplacementKind::Hmac) => {
            use crate::redact::{HMAC_KEY_ENV, HMAC_KEY_ID_ENV};
            c.apply_env(|n| {
                (n == HMAC_KEY_ENV || n == HMAC_KEY_ID_ENV)
                    .then(|| std::env::var(n).ok())
                    .flatten()
            })
            .map_err(|(v, e)| format!("redaction.replacement: hmac: {v}: {e}"))?;
            if c.replacement == crate::redact::Replacement::Mask {
                return Err(format!(
                    "redaction.replacement: hmac needs the key from the environment: set {HMAC_KEY_ENV} and {HMAC_KEY_ID_ENV}"
                ));
            }
        }
        None => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The file in force, and reloading it
// ---------------------------------------------------------------------------

/// The file in force.
struct InForce {
    path: PathBuf,
    file: OtelFile,
    /// The reloadable settings the operator variables and the builder
    /// decided at `init()`: the layers over the file, at a reload too.
    pinned: Config,
}

static IN_FORCE: Mutex<Option<InForce>> = Mutex::new(None);

/// Records the file `init()` applied.
pub(crate) fn set_in_force(path: PathBuf, file: OtelFile, pinned: Config) {
    *IN_FORCE.lock().unwrap_or_else(|e| e.into_inner()) = Some(InForce { path, file, pinned });
}

/// Why [`reload_config_file`] applied nothing.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReloadFileError {
    /// `init()` used no configuration file.
    NoFile,
    /// The new file is invalid (its file, line and key are in the error);
    /// the configuration in force stays.
    File(ConfigFileError),
    /// The new file's values were refused (see [`ReloadError`]); the
    /// configuration in force stays.
    Reload(ReloadError),
}

impl fmt::Display for ReloadFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadFileError::NoFile => f.write_str("no configuration file is in force"),
            ReloadFileError::File(e) => write!(f, "{e}"),
            ReloadFileError::Reload(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReloadFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReloadFileError::File(e) => Some(e),
            ReloadFileError::Reload(e) => Some(e),
            ReloadFileError::NoFile => None,
        }
    }
}

/// Serializes file reloads (SIGHUP, the watcher and callers).
static RELOADING_FILE: Mutex<()> = Mutex::new(());

/// Reads the configuration file in force again and applies its reloadable
/// parts through [`crate::reload`]: the filter directives (with the logger
/// configurator's levels), the trace sampler, log sampling (policies,
/// unsampled traces) and redaction, each where neither the builder nor a
/// `DATAPUNK_LOG*` variable decides it. Structural parts that changed
/// (sinks, ring, the debug buffer's bounds, exporters, resource,
/// propagator) are not applied: one WARN record (target
/// `datapunk_log::config`) names them. The file's warnings become WARN
/// records, as at `init()`.
///
/// # Errors
///
/// No file is in force, or the new file is invalid or refused: the
/// configuration in force stays, and one WARN record names the error (for
/// an invalid file: the file, line and key).
pub fn reload_config_file() -> Result<(), ReloadFileError> {
    let _serial = RELOADING_FILE.lock().unwrap_or_else(|e| e.into_inner());
    let (path, old, pinned) = {
        let g = IN_FORCE.lock().unwrap_or_else(|e| e.into_inner());
        let Some(f) = g.as_ref() else {
            return Err(ReloadFileError::NoFile);
        };
        (f.path.clone(), f.file.clone(), f.pinned.reloadable())
    };
    if crate::engine::get().filter(|e| e.is_running()).is_none() {
        return Err(ReloadFileError::Reload(ReloadError::NotRunning));
    }
    let (new, warnings) = match OtelFile::from_path(&path, |n| std::env::var(n).ok()) {
        Ok(l) => l,
        Err(e) => {
            crate::warn!(
                target: TARGET,
                "configuration file not reloaded, the configuration in force stays: {}",
                e
            );
            return Err(ReloadFileError::File(e));
        }
    };
    let (theirs, notes) = layer(&new);
    let (old_theirs, _) = layer(&old);
    // What the file's layer gives, under what the operator variables and
    // the builder decided: those parts are left as they are.
    let mut change = Reload::new();
    if pinned.filter.is_none() {
        change = change.filter(theirs.filter.as_ref().map_or("info", |f| &f.text));
    }
    // A new sampler starts its budgets afresh: only when the file's changed.
    if pinned.sampling.is_none() && theirs.sampling != old_theirs.sampling {
        change = change.sampling(theirs.sampling.clone().unwrap_or_default());
    }
    for (l, p) in theirs.log_levels.iter().enumerate() {
        if pinned.log_levels[l].is_none()
            && let Some(level) = crate::Level::from_u8(l as u8)
        {
            change = change.log_sampling_level(level, p.unwrap_or(LogPolicy::KEEP_ALL));
        }
    }
    if pinned.unsampled.is_none() {
        change = change.unsampled_logs(theirs.unsampled.unwrap_or(Unsampled::Keep));
    }
    if !pinned.redaction.base {
        // The operator's edits over the file's redaction, over the defaults.
        let mut r = pinned.reloadable().over(theirs.reloadable()).redaction;
        r.base = true;
        if let Err(e) = r.apply(RedactConfig::default()) {
            let e = ReloadError::Redaction(e);
            crate::warn!(
                target: TARGET,
                "configuration file {} not reloaded, the configuration in force stays: {}",
                path.display(),
                e
            );
            return Err(ReloadFileError::Reload(e));
        }
        change = change.redaction_of(r);
    }
    if let Err(e) = crate::reload(change) {
        crate::warn!(
            target: TARGET,
            "configuration file {} not reloaded, the configuration in force stays: {}",
            path.display(),
            e
        );
        return Err(ReloadFileError::Reload(e));
    }
    let changed = structural_changes(&old, &new);
    if !changed.is_empty() {
        crate::warn!(
            target: TARGET,
            "configuration file {} reloaded, but these parts changed and take a restart: {}",
            path.display(),
            changed.join(", ")
        );
    }
    emit_warnings(&warnings, &notes);
    if let Some(f) = IN_FORCE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        f.file = new;
    }
    Ok(())
}

/// The parts fixed at `init()` that differ between two files.
fn structural_changes(old: &OtelFile, new: &OtelFile) -> Vec<&'static str> {
    let ext = |f: &OtelFile| f.datapunk_log.clone().unwrap_or_default();
    let (a, b) = (ext(old), ext(new));
    let buffer = |e: &super::otel_file::DatapunkLogConfig| {
        e.log_sampling.as_ref().and_then(|l| l.debug_buffer.clone())
    };
    let procs = |t: Option<&Vec<super::otel_file::Processor>>| t.cloned().unwrap_or_default();
    let mut out = Vec::new();
    if a.ring != b.ring {
        out.push("distribution.datapunk_log.ring");
    }
    if a.sinks != b.sinks {
        out.push("distribution.datapunk_log.sinks");
    }
    if buffer(&a) != buffer(&b) {
        out.push("distribution.datapunk_log.log_sampling.debug_buffer");
    }
    if procs(old.tracer_provider.as_ref().map(|t| &t.processors))
        != procs(new.tracer_provider.as_ref().map(|t| &t.processors))
    {
        out.push("tracer_provider.processors");
    }
    if procs(old.logger_provider.as_ref().map(|t| &t.processors))
        != procs(new.logger_provider.as_ref().map(|t| &t.processors))
    {
        out.push("logger_provider.processors");
    }
    if old.resource != new.resource {
        out.push("resource");
    }
    if old.propagator != new.propagator {
        out.push("propagator");
    }
    if old.disabled != new.disabled {
        out.push("disabled");
    }
    out
}

/// One WARN record per warning of the load and per note of the plan.
pub(crate) fn emit_warnings(warnings: &[Warning], notes: &[String]) {
    for w in warnings {
        crate::warn!(target: TARGET, "configuration file: {}", w);
    }
    for n in notes {
        crate::warn!(target: TARGET, "configuration file: {}", n);
    }
}

// ---------------------------------------------------------------------------
// Triggers
// ---------------------------------------------------------------------------

/// The reload a trigger runs; its outcome is already logged.
pub(crate) fn reload_from_trigger() {
    if let Err(ReloadFileError::NoFile) = reload_config_file() {
        crate::warn!(
            target: TARGET,
            "configuration reload asked, but no configuration file is in use"
        );
    }
}

/// The file's identity for the watcher: modification time and size.
fn stamp(path: &Path) -> Option<(Option<std::time::SystemTime>, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok(), m.len()))
}

/// Starts the thread that looks at the file every `every` and reloads it
/// when its modification time or size changed. It ends when the engine
/// stops.
pub(crate) fn watch(path: PathBuf, every: Duration) -> std::io::Result<()> {
    let every = every.max(Duration::from_millis(10));
    let mut last = stamp(&path);
    std::thread::Builder::new()
        .name("datapunk-log-config-watch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                if crate::engine::get().is_none_or(|e| !e.is_running()) {
                    return;
                }
                let now = stamp(&path);
                if now != last && now.is_some() {
                    last = now;
                    reload_from_trigger();
                }
            }
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::overflow::Overflow;

    /// The file's layer, and its notes.
    fn plan(body: &str) -> (Config, Vec<String>) {
        let text = format!("file_format: \"1.1\"\n{body}");
        let (file, _) = OtelFile::from_str(&text, "t.yaml", |_| None).expect("valid");
        layer(&file)
    }

    #[test]
    fn logger_configurator_becomes_directives() {
        let (p, notes) = plan(
            "logger_provider:
  processors: [ { simple: { exporter: { console: } } } ]
  logger_configurator/development:
    default_config: { minimum_severity: warn, trace_based: true }
    loggers:
      - { name: 'app::db', config: { minimum_severity: debug } }
      - { name: 'app::net::*', config: { minimum_severity: info2 } }
      - { name: 'app::off', config: { enabled: false } }
      - { name: 'app*x?', config: { minimum_severity: error } }
distribution: { datapunk_log: { filter: 'info,hyper=error' } }
",
        );
        let d = Directives::parse(&p.filter.expect("filter").text).expect("valid");
        assert_eq!(d.default_level(), LevelFilter::WARN);
        assert_eq!(d.level_for("app::db::pool"), LevelFilter::DEBUG);
        assert_eq!(d.level_for("app::net::tcp"), LevelFilter::WARN);
        assert_eq!(d.level_for("app::off"), LevelFilter::OFF);
        assert_eq!(d.level_for("hyper"), LevelFilter::ERROR);
        assert_eq!(p.unsampled, Some(Unsampled::Drop), "trace_based");
        assert!(notes.iter().any(|n| n.contains("app*x?")), "{notes:?}");
    }

    #[test]
    fn file_sinks_and_ring() {
        let (p, _) = plan(
            "distribution:
  datapunk_log:
    ring: { capacity: 1MiB, max_record_bytes: 8KiB, overflow: drop }
    sinks:
      - stderr: { format: console }
      - file:
          path: /tmp/x/app.log
          format: console
          rotation: { size: 10MiB, every: hourly }
          retention: { keep_files: 3 }
          compress: gzip
          mode: '0600'
      - file: { path: /tmp/x/b.log, format: auto }
",
        );
        assert_eq!(p.ring_capacity, Some(1 << 20));
        assert_eq!(p.record_limit, Some(8 << 10));
        assert_eq!(p.overflow, Some(Overflow::Drop));
        assert!(matches!(
            p.sinks[0],
            (SinkSpec::Stderr, Some(Format::Console))
        ));
        let (SinkSpec::Rolling(c), f) = &p.sinks[1] else {
            panic!("{:?}", p.sinks)
        };
        assert_eq!(*f, Some(Format::Console));
        let want = FileConfig::new("/tmp/x/app.log")
            .rotate_size(10 << 20)
            .rotate_every(crate::sink::Rotation::Hourly)
            .keep_files(3)
            .compress(crate::sink::Compression::Gzip)
            .mode(0o600);
        assert_eq!(c, &want);
        assert!(matches!(
            &p.sinks[2],
            (SinkSpec::Rolling(_), Some(Format::Json))
        ));
    }

    #[cfg(feature = "otlp")]
    #[test]
    fn processors_become_one_exporter_per_signal() {
        use crate::export::otlp::{Compression, Protocol, Signal};
        let (p, notes) = plan(
            "tracer_provider:
  processors:
    - batch:
        schedule_delay: 200
        max_export_batch_size: 64
        exporter:
          otlp_grpc:
            endpoint: http://traces:4317
            compression: gzip
            timeout: 2500
            headers: [ { name: Api-Key, value: k } ]
    - simple: { exporter: { otlp_grpc: {} } }
logger_provider:
  processors:
    - simple:
        exporter:
          otlp_http:
            endpoint: http://logs:4318/v1/logs
            headers_list: 'a=1,b=2'
            encoding: json
propagator: { composite: [ { tracecontext: } ] }
",
        );
        let c = p.otlp.expect("otlp");
        assert!(c.logs_enabled() && c.spans_enabled());
        assert_eq!(c.protocol_for(Signal::Traces), Protocol::Grpc);
        assert_eq!(c.endpoint_for(Signal::Traces), "http://traces:4317");
        assert_eq!(c.compression_for(Signal::Traces), Some(Compression::Gzip));
        assert_eq!(c.timeout_for(Signal::Traces), Duration::from_millis(2500));
        assert_eq!(
            c.headers_for(Signal::Traces),
            &[("api-key".to_owned(), "k".to_owned())]
        );
        let b = c.batch_for(Signal::Traces);
        assert_eq!(b.schedule_delay, Duration::from_millis(200));
        assert_eq!(b.max_export_batch_size, 64);
        assert_eq!(
            c.protocol_for(Signal::Logs),
            Protocol::HttpJson,
            "encoding: json"
        );
        assert_eq!(c.endpoint_for(Signal::Logs), "http://logs:4318/v1/logs");
        assert_eq!(c.compression_for(Signal::Logs), None);
        assert_eq!(c.headers_for(Signal::Logs).len(), 2);
        assert_eq!(c.batch_for(Signal::Logs).max_export_batch_size, 1);
        let notes = notes.join("\n");
        assert!(notes.contains("tracer_provider.processors"), "{notes}");
        assert!(!notes.contains("encoding"), "{notes}");
        assert!(notes.contains("propagator"), "{notes}");
    }

    #[cfg(feature = "otlp")]
    #[test]
    fn only_traces_leaves_logs_off() {
        let (p, _) = plan(
            "tracer_provider:
  processors: [ { batch: { exporter: { otlp_http: {} } } } ]
",
        );
        let c = p.otlp.expect("otlp");
        assert!(!c.logs_enabled() && c.spans_enabled());
        assert_eq!(
            c.endpoint_for(crate::export::otlp::Signal::Traces),
            "http://localhost:4318/v1/traces"
        );
    }

    #[test]
    fn redaction_over_the_defaults() {
        let (p, _) = plan(
            "distribution:
  datapunk_log:
    redaction:
      keys: [a, b]
      patterns: { email: on, card: off }
      token_prefixes: [acme_]
",
        );
        assert!(p.redaction.base, "the file decides redaction");
        let c = p.redaction.apply(RedactConfig::default()).unwrap();
        assert_eq!(c.keys, Some(vec!["a".to_owned(), "b".to_owned()]));
        let mut want = RedactConfig::default();
        want.set(crate::redact::Rule::Email, true);
        want.set(crate::redact::Rule::Card, false);
        assert_eq!(c.patterns, want.patterns);
        assert!(c.prefixes.iter().any(|p| p == "acme_"));
        c.build().expect("valid");
    }
}
