//! Changing the configuration while the engine runs.
//!
//! The structure (sinks, rings, clocks, exporters) is fixed at `init()`;
//! the filter directives, trace sampling, log sampling policies and
//! redaction can change through [`reload`]. The hot path stays lock-free:
//! each call site keeps its decision in its own atomic byte, which a reload
//! rewrites under the registry's lock; the sampler's configuration and the
//! redactor sit behind `arc-swap`. A call during a reload sees the old
//! configuration or the new one, never a mix within one part, and no record
//! is lost. Redaction runs on the writer, so a reload of it waits for the
//! writer twice: records captured before the change are written under the
//! old rules, those captured after `reload` returns under the new ones.

use std::fmt;
use std::sync::Mutex;

#[cfg(feature = "config-file")]
use super::layer::Redaction;
use super::layer::{Config, FilterText};
use crate::level::{DirectiveError, Directives, Level};
use crate::redact::{Config as RedactConfig, Rule};
use crate::sampler::{LogPolicy, Sampler, SamplingConfig, Unsampled};

/// The redaction configuration in force (installed by `init()`), the base
/// of a reload's redaction edits.
static REDACTION: Mutex<Option<RedactConfig>> = Mutex::new(None);

/// Records the redaction configuration `init()` installed.
pub(crate) fn set_redaction(config: RedactConfig) {
    *REDACTION.lock().unwrap_or_else(|e| e.into_inner()) = Some(config);
}

/// A change of the parts of the configuration that can change at run time;
/// parts not mentioned stay as they are. Apply it with [`reload`]. It holds
/// the same configuration type as the builder, the configuration file and
/// the environment, of which a reload reads the reloadable parts (filter,
/// trace sampling, log sampling, redaction).
///
/// ```
/// # let _g = datapunk_log::builder().null().init().unwrap();
/// use datapunk_log::{Level, Reload};
/// use datapunk_log::sampler::Unsampled;
/// datapunk_log::reload(
///     Reload::new()
///         .filter("info,checkout::db=debug")
///         .unsampled_logs(Unsampled::Drop)
///         .redact_key("customer_email"),
/// )
/// .expect("valid");
/// ```
#[derive(Default)]
#[must_use = "a Reload does nothing until given to datapunk_log::reload"]
pub struct Reload {
    config: Config,
}

impl fmt::Debug for Reload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("Reload")
            .field("filter", &c.filter.as_ref().map(|f| &f.text))
            .field("sampling", &c.sampling.is_some())
            .field("levels", &c.log_levels)
            .field("unsampled", &c.unsampled)
            .field("redaction", &c.redaction)
            .finish()
    }
}

impl Reload {
    /// A change of nothing.
    pub fn new() -> Reload {
        Reload::default()
    }

    /// New filter directives, replacing those in force (the environment
    /// is not read again).
    pub fn filter(mut self, directives: impl Into<String>) -> Self {
        self.config.filter = Some(FilterText {
            text: directives.into(),
            source: "reload",
        });
        self
    }

    /// A new trace-sampling configuration (as `sampler::update`).
    pub fn sampling(mut self, config: SamplingConfig) -> Self {
        self.config.sampling = Some(config);
        self
    }

    /// A new trace sampler with the default settings around it.
    pub fn sampler(self, sampler: Sampler) -> Self {
        self.sampling(SamplingConfig::new(sampler))
    }

    /// The per-call-site log policy of TRACE, DEBUG, INFO and WARN.
    pub fn log_sampling(mut self, policy: LogPolicy) -> Self {
        crate::sampler::set_below_error(&mut self.config.log_levels, policy);
        self
    }

    /// The per-call-site log policy of one level.
    pub fn log_sampling_level(mut self, level: Level, policy: LogPolicy) -> Self {
        self.config.log_levels[level as usize] = Some(policy);
        self
    }

    /// What happens to records below ERROR of unsampled traces.
    pub fn unsampled_logs(mut self, policy: Unsampled) -> Self {
        self.config.unsampled = Some(policy);
        self
    }

    /// An edit over the redaction configuration in force.
    fn redact_edit(mut self, edit: impl Fn(&mut RedactConfig) + Send + Sync + 'static) -> Self {
        self.config.redaction.amend(move |c| {
            edit(c);
            Ok(())
        });
        self
    }

    /// Redaction on or off as a whole (as `Builder::redaction`).
    pub fn redaction(self, on: bool) -> Self {
        self.redact_edit(move |c| c.set_all(on))
    }

    /// Replaces the redacted keys (as `Builder::redact_keys`).
    pub fn redact_keys<I, S>(self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let keys: Vec<String> = keys.into_iter().map(Into::into).collect();
        self.redact_edit(move |c| c.set_keys(keys.clone()))
    }

    /// Adds a redacted key (as `Builder::redact_key`).
    pub fn redact_key(self, key: impl Into<String>) -> Self {
        let key = key.into();
        self.redact_edit(move |c| c.add_key(key.clone()))
    }

    /// Turns one rule on or off (as `Builder::redact_rule`).
    pub fn redact_rule(self, rule: Rule, on: bool) -> Self {
        self.redact_edit(move |c| c.set(rule, on))
    }

    /// The value patterns in force, exactly these (as
    /// `Builder::redact_patterns`).
    pub fn redact_patterns(self, rules: impl IntoIterator<Item = Rule>) -> Self {
        let rules: Vec<Rule> = rules.into_iter().collect();
        self.redact_edit(move |c| c.set_patterns(rules.iter().copied()))
    }

    /// Adds a token prefix of `Rule::CloudKey`.
    pub fn redact_token_prefix(self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.redact_edit(move |c| c.prefixes.push(prefix.clone()))
    }

    /// A source's redaction as a whole (a reload of the configuration
    /// file).
    #[cfg(feature = "config-file")]
    pub(crate) fn redaction_of(mut self, redaction: Redaction) -> Self {
        self.config.redaction = redaction;
        self
    }

    /// What a redacted value is written as.
    pub fn redact_replacement(self, replacement: crate::redact::Replacement) -> Self {
        self.redact_edit(move |c| c.replacement = replacement.clone())
    }
}

/// Why a reload was refused. Nothing of it was applied.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReloadError {
    /// No engine runs (before `init()` or after the guard was dropped).
    NotRunning,
    /// A filter directive is invalid.
    Filter(DirectiveError),
    /// The redaction configuration is invalid (a token prefix, the keyed
    /// hash's key).
    Redaction(String),
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadError::NotRunning => f.write_str("no datapunk-log engine is running"),
            ReloadError::Filter(e) => write!(f, "filter: {e}"),
            ReloadError::Redaction(e) => write!(f, "redaction: {e}"),
        }
    }
}

impl std::error::Error for ReloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReloadError::Filter(e) => Some(e),
            _ => None,
        }
    }
}

/// How long a reload of redaction waits for the writer, before and after
/// the change.
const REDACTION_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

/// Serializes reloads: two at once apply one after the other.
static RELOADING: Mutex<()> = Mutex::new(());

/// Applies `change` to the running engine. Everything is checked first; a
/// refused change applies nothing and the configuration in force stays.
///
/// - Filter directives: every registered call site (the `log` and
///   `tracing` bridges' included) is decided again; `log`'s max level and
///   `tracing`'s interest cache follow.
/// - Trace sampling: as `sampler::update` (rate-limit budgets and adaptive
///   probabilities start afresh).
/// - Log sampling: the policies given replace those of their levels; the
///   debug buffer's bounds stay as `init()` set them.
/// - Redaction: the edits apply over the configuration in force (the
///   builder's and the environment's at `init()`, then earlier reloads).
///
/// # Errors
///
/// [`ReloadError`]: no engine runs, or a part is invalid.
pub fn reload(change: Reload) -> Result<(), ReloadError> {
    let _serial = RELOADING.lock().unwrap_or_else(|e| e.into_inner());
    let engine = crate::engine::get()
        .filter(|e| e.is_running())
        .ok_or(ReloadError::NotRunning)?;
    // Check everything before changing anything.
    let change = change.config;
    let directives = match &change.filter {
        Some(f) => Some(Directives::parse(&f.text).map_err(ReloadError::Filter)?),
        None => None,
    };
    let redaction = if change.redaction.is_empty() {
        None
    } else {
        let in_force = REDACTION
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default();
        let config = change
            .redaction
            .apply(in_force)
            .map_err(ReloadError::Redaction)?;
        let redactor = config.build().map_err(ReloadError::Redaction)?;
        Some((config, redactor))
    };
    if let Some(d) = directives {
        crate::engine::replace_directives(engine, d);
        let max = engine.directives.load().max_level();
        #[cfg(feature = "log")]
        if std::ptr::addr_eq(
            ::log::logger() as *const dyn ::log::Log,
            &crate::bridge::log::LOG_BRIDGE as *const crate::bridge::log::LogBridge,
        ) {
            ::log::set_max_level(crate::bridge::log::log_filter(max));
        }
        #[cfg(not(feature = "log"))]
        let _ = max;
        #[cfg(feature = "tracing")]
        tracing_core::callsite::rebuild_interest_cache();
    }
    if let Some(s) = change.sampling {
        crate::sampler::update(s);
    }
    for (l, p) in change.log_levels.iter().enumerate() {
        if let (Some(p), Some(level)) = (p, Level::from_u8(l as u8)) {
            crate::sampler::set_log_policy(level, *p);
        }
    }
    if let Some(u) = change.unsampled {
        crate::sampler::set_unsampled(u);
    }
    if let Some((config, redactor)) = redaction {
        // Records captured before the change are written under the rules
        // they were made under: the writer drains them first.
        engine.flush(REDACTION_FLUSH);
        crate::redact::install(config.keys.as_deref());
        crate::engine::for_each_callsite(|cs| cs.forget_redact_mask());
        engine.redactor.store(std::sync::Arc::new(redactor));
        engine
            .redaction_gen
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        set_redaction(config);
        // And once a writer pass has begun after the change, every record
        // captured from now on is written under the new rules.
        engine.flush(REDACTION_FLUSH);
    }
    Ok(())
}
