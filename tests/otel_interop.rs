//! With `opentelemetry_context(true)`, records and spans made where an
//! OpenTelemetry `Context` carries a valid span (and no span of this crate
//! is entered) take their ids from it.

mod common;

use common::lines_of;
use datapunk_log::export::MemoryExporter;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

#[test]
fn records_and_spans_follow_the_opentelemetry_context() {
    let exporter = MemoryExporter::new();
    let (sink, _guard) =
        common::memory_engine(|b| b.exporter(exporter.clone()).opentelemetry_context(true));

    datapunk_log::info!("before any context");
    let sc = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let native;
    {
        let _cx = opentelemetry::Context::current()
            .with_remote_span_context(sc)
            .attach();
        datapunk_log::info!("inside otel context");
        let span = datapunk_log::span!("native_child");
        native = span.context();
        let _e = span.enter();
        datapunk_log::info!("inside native span");
    }
    datapunk_log::info!("after the otel context");
    datapunk_log::flush();

    let lines = lines_of(&sink);
    let by = |m: &str| lines.iter().find(|l| l.message() == m).unwrap().clone();
    assert!(!by("before any context").has("trace_id"));
    let l = by("inside otel context");
    assert_eq!(l.str("trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(l.str("span_id"), "00f067aa0ba902b7");
    assert_eq!(l.str("trace_flags"), "01");
    assert_eq!(native.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
    assert_eq!(native.parent_span_id, 0x00f067aa0ba902b7);
    let l = by("inside native span");
    assert_eq!(l.str("span_id"), format!("{:016x}", native.span_id));
    assert!(!by("after the otel context").has("trace_id"));
    let spans = exporter.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].context, native);
}
