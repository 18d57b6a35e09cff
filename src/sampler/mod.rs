//! Sampling: which traces and which log records are kept.
//!
//! One sampler decides, at a span's start and before anything is written,
//! whether the span is recorded. A span that is not sampled is
//! non-recording: it still sets the context (its ids and flags propagate,
//! log records inside it see them) but writes no record.
//!
//! The decision follows OpenTelemetry's consistent probability sampling
//! (`tracestate-probability-sampling`): the trace's 56-bit randomness R (the
//! incoming `rv`, else the low 56 bits of the trace id) is compared with a
//! rejection threshold T = (1 − p)·2^56; a span is kept iff R ≥ T, and a
//! kept span whose probability is exact carries `ot=th:<T>` in its
//! tracestate. Services that never talk to each other, sampling at
//! different rates, keep nested sets of the same traces.
//!
//! ```
//! use datapunk_log::sampler::{Sampler, SamplingConfig, Rule};
//! use datapunk_log::Level;
//!
//! let cfg = SamplingConfig::new(Sampler::parent_based(Sampler::rules(vec![
//!     Rule::new(Sampler::AlwaysOn).attribute_eq("priority", "high"),
//!     Rule::new(Sampler::probability(0.01)).name("health_check"),
//!     Rule::new(Sampler::probability(0.1)),
//! ])))
//! .always_keep(["checkout"])
//! .max_root_traces_per_second(500.0);
//! # let _ = cfg;
//! ```
//!
//! See the README's sampling section for the decision order and recipes.
//!
//! # Log sampling
//!
//! Log records are sampled in two stages, on the calling thread, before the
//! record is serialized (see `log_config.rs` for the details):
//!
//! * **trace-aware**: a record below ERROR inside a trace that was not
//!   sampled follows [`Unsampled`]: `Keep` (the default), `Drop`, or
//!   `Buffer` (the writer holds the trace's most recent records in the
//!   [`buffer::DebugBuffer`] and writes them, marked `"replayed":true`,
//!   when an ERROR comes in that trace). Records without a trace and records
//!   of sampled traces pass;
//! * **per call site**: the level's [`LogPolicy`] keeps the first N records
//!   of each period, then every Mth, with counters in the call site's
//!   `static`; a record kept out of a sampled-down stream carries its
//!   adjusted count (`"adjusted_count"`, OTLP `sampling.adjusted_count`).
//!
//! ```
//! use datapunk_log::sampler::{self, LogPolicy, Unsampled};
//! use datapunk_log::Level;
//! use std::time::Duration;
//!
//! // 100 records per call site and second, then one in 100 (INFO and below).
//! sampler::set_log_policy_below_error(LogPolicy::per_period(100, 100, Duration::from_secs(1)));
//! sampler::set_unsampled(Unsampled::Buffer);
//! assert_eq!(sampler::log_policy(Level::Error), LogPolicy::KEEP_ALL);
//! # sampler::set_log_policy_below_error(LogPolicy::KEEP_ALL);
//! # sampler::set_unsampled(Unsampled::Keep);
//! ```

pub mod adaptive;
pub mod buffer;
pub(crate) mod env;
mod log_config;
pub mod logs;
#[cfg(feature = "opentelemetry")]
mod otel;
pub mod rate_limit;
#[cfg(test)]
mod test_rng;
pub mod threshold;
mod trace;

#[cfg(feature = "opentelemetry")]
pub use otel::OtelSampler;

pub use adaptive::AdaptiveConfig;
pub use log_config::{
    BUFFER_ENV, DEFAULT_SUMMARY_INTERVAL, SAMPLING_ENV, SiteSamplingStats, UNSAMPLED_ENV,
    log_policy, set_log_policy, set_log_policy_below_error, set_unsampled, unsampled,
};
pub(crate) use log_config::{
    ERROR_INDEX, LogSampling, MODE_BUFFER, MODE_DROP, ever_on as log_sampling_ever_on,
    mode as log_mode, mode_site_level, policy_at, set_below_error,
};
pub use logs::{LogPolicy, Unsampled};
pub use threshold::{DEFAULT_PRECISION, MAX_THRESHOLD, Threshold};
pub(crate) use trace::{
    Attrs, SpanParams, count_invalid_ot, decide_fast, decide_site_root, decide_slow,
    follows_local_parent, install, is_truthy, publish_site_root, root_shortcut, site_word_stale,
    tick,
};
pub use trace::{
    DEBUG_BAGGAGE_KEY, DEBUG_HEADER, Decision, ParentBased, ParentKind, Rule, Sampler,
    SamplingConfig, SamplingCounters, counters, current, tick_at, update,
};
