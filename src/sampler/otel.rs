//! The sampler as an OpenTelemetry SDK `ShouldSample` (feature
//! `opentelemetry`), so a stock `SdkTracerProvider` samples consistently:
//! it reads and writes `ot=th:…` in the tracestate and keeps the rest.

use std::sync::Arc;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

use super::threshold::OtValue;
use super::trace::{Attrs, Compiled, DEBUG_BAGGAGE_KEY, ParentKind, SamplingConfig, SpanParams};
use crate::level::Level;
use crate::span_extra::OT_KEY;

/// A [`SamplingConfig`] as an OpenTelemetry SDK sampler:
/// `SdkTracerProvider::builder().with_sampler(OtelSampler::new(cfg))`.
///
/// Rules see the span's name (target `""`, level INFO) and the attributes
/// given at its start; the debug override is read from the baggage member
/// `datapunk.debug` of the parent context. Each `OtelSampler` has its own
/// rate-limit and adaptive state, apart from the engine's.
#[derive(Clone)]
pub struct OtelSampler {
    compiled: Arc<Compiled>,
}

impl std::fmt::Debug for OtelSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelSampler").finish_non_exhaustive()
    }
}

impl OtelSampler {
    /// A sampler deciding by `config`.
    pub fn new(config: SamplingConfig) -> OtelSampler {
        OtelSampler {
            compiled: Arc::new(Compiled::new(config)),
        }
    }
}

struct KvAttrs<'a>(&'a [KeyValue]);

impl Attrs for KvAttrs<'_> {
    fn text(&self, key: &str, f: &mut dyn FnMut(&[u8])) -> bool {
        let Some(kv) = self.0.iter().find(|kv| kv.key.as_str() == key) else {
            return false;
        };
        match &kv.value {
            Value::String(s) => f(s.as_str().as_bytes()),
            Value::Bool(b) => f(if *b { b"true" } else { b"false" }),
            Value::I64(n) => f(itoa::Buffer::new().format(*n).as_bytes()),
            other => f(other.to_string().as_bytes()),
        }
        true
    }
}

impl ShouldSample for OtelSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        _span_kind: &SpanKind,
        attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let span = parent_context
            .filter(|c| c.has_active_span())
            .map(|c| c.span());
        let parent = span
            .as_ref()
            .map(|s| s.span_context())
            .filter(|sc| sc.is_valid());
        let debug = parent_context.is_some_and(|c| {
            c.baggage()
                .get(DEBUG_BAGGAGE_KEY)
                .is_some_and(|v| super::is_truthy(v.as_str()))
        });
        let kind = parent.map_or(ParentKind::Root, |sc| {
            ParentKind::of(true, sc.is_remote(), sc.trace_flags().to_u8())
        });
        let incoming = parent.and_then(|sc| sc.trace_state().get(OT_KEY));
        let (mut ot, issues) = incoming.map(OtValue::parse).unwrap_or_default();
        if !issues.is_empty() {
            super::count_invalid_ot();
        }
        let d = self.compiled.decide(&SpanParams {
            trace_id: u128::from_be_bytes(trace_id.to_bytes()),
            rv: ot.rv,
            parent: kind,
            parent_th: ot.th,
            debug,
            name,
            target: "",
            level: Level::Info,
            attrs: &KvAttrs(attributes),
        });
        ot.th = d.threshold;
        let parent_state = || {
            parent
                .map(|sc| sc.trace_state().clone())
                .unwrap_or_default()
        };
        // With no `ot` member before or after (a dropped root, a root kept
        // without an exact probability) the tracestate stays as it is,
        // without allocating; otherwise the member is written at the front.
        let trace_state = if incoming.is_none() && ot.is_empty() {
            parent_state()
        } else if ot.is_empty() {
            let ts = parent_state();
            ts.delete(OT_KEY).unwrap_or(ts)
        } else {
            let ts = parent_state();
            let mut v = String::new();
            ot.write(&mut v);
            ts.insert(OT_KEY, v).unwrap_or(ts)
        };
        SamplingResult {
            decision: if d.sampled {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            trace_state,
        }
    }
}
