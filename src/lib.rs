//! # datapunk-log
//!
//! A low-latency structured logging engine. A logging call copies its record,
//! with the current trace context, into a ring owned by the calling thread and
//! returns; one background writer thread encodes records as JSON lines without
//! allocating and writes them to the sinks in batches.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let lines = datapunk_log::MemorySink::new();
//! let _guard = datapunk_log::builder()
//!     .memory(&lines)
//!     .overflow(datapunk_log::Overflow::Block)
//!     .ignore_env()
//!     .init()?;
//!
//! let (user_id, latency, route) = (42u64, 3.25f64, "/api/v1/items");
//! datapunk_log::info!(user_id, latency, route, "request handled");
//! datapunk_log::warn!(status = 503, peer = %"10.0.0.7:443", "upstream slow");
//! datapunk_log::flush();
//!
//! # // A compile-time maximum level (a `max_level_*` feature) compiles the calls away.
//! # if !datapunk_log::level::STATIC_MAX_LEVEL.enables(datapunk_log::Level::Info) { return Ok(()) }
//! let first: serde_json::Value = serde_json::from_str(&lines.lines()[0])?;
//! assert_eq!(first["message"], "request handled");
//! assert_eq!(first["user_id"], 42);
//! assert_eq!(datapunk_log::stats().written, 2);
//! # Ok(()) }
//! ```
//!
//! See the README for the output format, configuration and figures.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

pub mod bridge;
mod callsite;
mod clock;
mod config;
#[cfg(feature = "opentelemetry")]
mod context;
mod corr;
mod encode;
mod engine;
pub mod export;
mod id;
pub mod level;
mod macros;
mod overflow;
pub mod propagation;
mod record;
pub mod redact;
pub mod resource;
mod ring;
pub mod sampler;
mod secret;
mod signal;
pub mod sink;
pub mod span;
mod span_extra;
mod stats;
mod thread_role;
#[cfg(feature = "tower")]
pub mod tower;
mod traced_support;
mod value;
mod writer;

use std::time::Duration;

pub use callsite::{Callsite, Metadata};
pub use clock::ClockSource;
/// The OpenTelemetry configuration file (`OTEL_CONFIG_FILE`), read into a
/// validated model (feature `config-file`).
#[cfg(feature = "config-file")]
pub use config::otel_file;
pub use config::{
    Builder, DEFAULT_RECORD_LIMIT, DEFAULT_RING_CAPACITY, FILTER_ENV, Guard, InitError, Reload,
    ReloadError, STATS_INTERVAL_ENV, reload,
};
#[cfg(feature = "config-file")]
pub use config::{ReloadFileError, reload_config_file};
pub use datapunk_log_macros::traced;
pub use encode::span_table::{SPAN_ENDS_ENV, SPAN_FIELDS_ENV};
pub use encode::{FORMAT_ENV, Format, FormatError};
pub use level::{DirectiveError, Directives, Level, LevelFilter};
pub use overflow::Overflow;
pub use record::{RecordBuf, TraceContext};
pub use secret::{MASK, Secret};
pub use signal::SignalFlush;
pub use sink::{FileSink, MemorySink, Sink, reopen};
pub use span::{Entered, Instrument, Instrumented, Parent, Span, Status, in_span};
pub use stats::{SinkStats, Stats};
pub use value::{DebugValue, DisplayValue, ErrorValue, Value, debug, display, err};

/// Every Rust block of the README compiles (and most run) as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Starts configuring the engine.
pub fn builder() -> Builder {
    Builder::default()
}

/// Returns once every record captured before this call, on any thread, has
/// been handed to the sinks and the sinks flushed. Returns at once when no
/// engine runs.
pub fn flush() {
    flush_timeout(Duration::from_secs(u64::MAX / 4));
}

/// Like [`flush`], giving up after `timeout`; true when the barrier completed.
pub fn flush_timeout(timeout: Duration) -> bool {
    match engine::get() {
        Some(e) if e.writer_alive.load(std::sync::atomic::Ordering::Acquire) => {
            e.flush_all(timeout)
        }
        _ => false,
    }
}

/// The engine's counters (all zero, but `discarded`, before `init()`).
pub fn stats() -> Stats {
    match engine::get() {
        Some(e) => e.stats(),
        None => Stats {
            discarded: engine::discarded_early(),
            ..Stats::default()
        },
    }
}

/// Each sink's figures (bytes, errors; rotations, deletions and
/// compression for file sinks), in the order the sinks were added (empty
/// before `init()`). Totals of the file figures are in [`stats()`].
pub fn sink_stats() -> Vec<SinkStats> {
    engine::get()
        .and_then(|e| e.counters.sinks.get())
        .map_or_else(Vec::new, |v| v.iter().map(|c| c.snapshot()).collect())
}

/// The log sampler's figures per call site: every call site whose
/// per-call-site sampler decided at least one call (empty before `init()`).
/// Totals per level and per cause are in [`stats()`].
pub fn sampling_stats() -> Vec<sampler::SiteSamplingStats> {
    engine::get().map_or_else(Vec::new, |e| e.site_stats())
}

/// Sets up the calling thread for logging now rather than at its first call:
/// creates its ring and writes every page of it (and of its scratch buffer),
/// so that neither the allocation nor the page faults of the ring's first
/// lap land in a log call. Call it when a latency-critical thread starts.
/// Returns false when no engine runs, on the export thread (whose records
/// are discarded), or when called from inside a log call on this thread (a
/// `Value` impl). Calling it again only touches the ring's free pages.
pub fn prepare_thread() -> bool {
    ring::prepare_thread()
}

/// The trace context of the calling thread, copied into every record it logs.
pub fn current_context() -> TraceContext {
    ring::current_ctx()
}

/// Sets the calling thread's trace context, returning the previous one. Spans
/// do this for you; this is the low-level hook for integrations.
pub fn set_context(ctx: TraceContext) -> TraceContext {
    ring::set_context(ctx)
}

/// Entry points for the fuzz targets in `fuzz/` (not a stable API).
#[doc(hidden)]
pub mod __fuzz {
    use crate::encode::json;
    use crate::record::{RecordView, Val};

    /// Any bytes as a JSON string, invalid UTF-8 replaced with U+FFFD.
    pub fn escape_lossy(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        json::write_str_lossy(&mut out, bytes);
        out
    }

    /// The `partialSuccess` of an OTLP/HTTP JSON response to log records
    /// (or spans): the rejected count and the message, `None` when the
    /// body is refused.
    #[cfg(feature = "otlp")]
    pub fn otlp_json_response(body: &[u8], spans: bool) -> Option<(u64, String)> {
        crate::export::otlp::fuzz_partial_success(body, spans)
    }

    /// The reader of OTLP protobuf responses (gRPC, `http/protobuf`): the
    /// rejected count and the message of the `partial_success`, `None`
    /// when the body is refused.
    #[cfg(feature = "otlp")]
    pub fn otlp_proto_response(body: &[u8]) -> Option<(u64, String)> {
        crate::export::otlp::fuzz_proto_partial_success(body)
    }

    /// A string as a JSON string.
    pub fn escape(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        json::write_str(&mut out, s.as_bytes());
        out
    }

    /// The redactor of the fuzz targets: every rule on (e-mail too) with
    /// the default token prefixes, the mask.
    fn all_rules() -> &'static crate::redact::Redactor {
        static R: std::sync::OnceLock<crate::redact::Redactor> = std::sync::OnceLock::new();
        R.get_or_init(|| {
            let mut c = crate::redact::Config::default();
            c.set(crate::redact::Rule::Email, true);
            c.build().expect("the defaults are valid")
        })
    }

    /// Any bytes as a JSON string with the secrets every value pattern
    /// finds replaced by the mask (invalid UTF-8 as U+FFFD), as the writer
    /// writes a string field.
    pub fn redact_json(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        all_rules().write_json_lossy(&mut out, bytes);
        out
    }

    /// The secrets every value pattern finds in `bytes`, left to right.
    pub fn redact_matches(bytes: &[u8]) -> Vec<crate::redact::Match> {
        let p = all_rules().patterns();
        let mut v = Vec::new();
        let mut from = 0;
        while let Some(m) = p.find(bytes, from) {
            v.push(m);
            from = m.end;
        }
        v
    }

    /// `bytes` with the secrets every value pattern finds replaced by the
    /// mask, unescaped (as the export side writes them).
    pub fn redact_raw(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if !all_rules().scrub(&mut out, bytes) {
            out.extend_from_slice(bytes);
        }
        out
    }

    /// Any bytes as a value of the console format (bare or quoted,
    /// escaped; invalid UTF-8 as U+FFFD).
    pub fn console_value(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::encode::console::quoted(&mut out, bytes);
        out
    }

    /// Undoes the console format's escaping of one value (bare or quoted):
    /// `None` when the text is not something the format writes.
    pub fn console_unescape(v: &str) -> Option<String> {
        let inner = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        let mut out = String::new();
        let mut it = inner.chars();
        while let Some(c) = it.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match it.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'u' => {
                    if it.next()? != '{' {
                        return None;
                    }
                    let hex: String = it.by_ref().take_while(|&c| c != '}').collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                _ => return None,
            }
        }
        Some(out)
    }

    /// True for a character the console format never writes raw.
    pub fn console_unsafe(c: char) -> bool {
        crate::encode::console::is_unsafe(c)
    }

    /// Decodes `bytes` as a record body (after a header announcing as
    /// many values as the bytes could hold) through the engine's record
    /// decoder, and encodes its values as a JSON array; `None` when the
    /// bytes are malformed.
    pub fn decode_values(bytes: &[u8]) -> Option<Vec<u8>> {
        let mut record = vec![0u8; crate::record::HEADER_LEN];
        record.extend_from_slice(bytes);
        let header = crate::record::Header {
            len: record.len(),
            kind: crate::record::KIND_LOG,
            flags: 0,
            values: u16::try_from(bytes.len()).unwrap_or(u16::MAX),
            callsite: 0,
            adjusted: 0,
            ts: 0,
        };
        let mut view = RecordView::decode(&record, header)?;
        let mut out = b"[".to_vec();
        let mut first = true;
        let mut left = bytes.len();
        while left > 0 {
            if !first {
                out.push(b',');
            }
            first = false;
            let before = view.values.remaining_bytes();
            match view.values.raw()? {
                Val::None => out.extend_from_slice(b"null"),
                Val::Bool(b) => json::write_bool(&mut out, b),
                Val::U64(x) => json::write_u64(&mut out, x),
                Val::I64(x) => json::write_i64(&mut out, x),
                Val::U128(x) => json::write_u128(&mut out, x),
                Val::I128(x) => json::write_i128(&mut out, x),
                Val::F64(x) => json::write_f64(&mut out, x),
                Val::F32(x) => json::write_f32(&mut out, x),
                Val::Char(c) => json::write_str(&mut out, c.encode_utf8(&mut [0; 4]).as_bytes()),
                Val::Str(s) | Val::Bytes(s) => {
                    json::write_str_lossy(&mut out, s);
                }
                Val::Error { message, .. } => {
                    json::write_str_lossy(&mut out, message);
                }
            }
            left = view.values.remaining_bytes();
            debug_assert!(left < before);
        }
        out.push(b']');
        Some(out)
    }
}

#[doc(hidden)]
pub mod __private {
    pub use crate::clock::recalibrations;
    pub use crate::engine::registry_locks;
    pub use crate::sink::rolling::time::set_file_clock;
    pub use crate::sink::rolling::{CompressionHold, hold_compression, reopen_generation};
    pub use crate::thread_role::fail_next_spawns;
    /// Support for `#[traced]`.
    pub mod traced {
        pub use crate::traced_support::*;
    }
    /// `Some(args)` when `b`.
    #[inline(always)]
    pub fn fmt_if(b: bool, args: core::fmt::Arguments<'_>) -> Option<core::fmt::Arguments<'_>> {
        if b { Some(args) } else { None }
    }
    pub use crate::callsite::PLAN_CAPTURE;
    pub use crate::callsite::{Callsite, has_braces};
    pub use crate::level::STATIC_MAX_LEVEL;
    pub use crate::record::MAX_FIELDS;
    pub use crate::ring::{Kept, capture_kept, capture_plain, dispatch, sample};
    pub use crate::value::{Value, ValueList, debug, display};
}
