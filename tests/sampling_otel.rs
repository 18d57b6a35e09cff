//! The sampler inside a stock OpenTelemetry `SdkTracerProvider`
//! (`OtelSampler`, feature `opentelemetry`): consistent decisions with `th`
//! written into the span's tracestate, the parent's tracestate kept.

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
    TracerProvider,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracerProvider;

use datapunk_log::sampler::{OtelSampler, Rule, Sampler, SamplingConfig};

fn provider(cfg: SamplingConfig) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(OtelSampler::new(cfg))
        .build()
}

#[test]
fn roots_are_kept_iff_r_ge_t_and_carry_th() {
    let p = provider(SamplingConfig::new(Sampler::parent_based(
        Sampler::probability(0.5),
    )));
    let tracer = p.tracer("t");
    let (mut kept, mut total) = (0, 0);
    for _ in 0..2000 {
        let span = tracer.start("root");
        let sc = span.span_context().clone();
        let id = u128::from_be_bytes(sc.trace_id().to_bytes());
        let r = (id as u64) & ((1 << 56) - 1);
        assert_eq!(sc.is_sampled(), r >= 1 << 55, "{id:032x}");
        if sc.is_sampled() {
            assert_eq!(sc.trace_state().get("ot"), Some("th:8"));
            kept += 1;
        } else {
            assert_eq!(sc.trace_state().get("ot"), None);
        }
        total += 1;
    }
    // Binomial(2000, 0.5): 5 standard deviations are ±112.
    assert!((kept as i64 - total / 2).abs() <= 112, "{kept} of {total}");
}

fn remote(trace_id: u128, sampled: bool, tracestate: &str) -> Context {
    let sc = SpanContext::new(
        TraceId::from(trace_id),
        SpanId::from(0x00f0_67aa_0ba9_02b7u64),
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        },
        true,
        tracestate.parse::<TraceState>().unwrap(),
    );
    Context::new().with_remote_span_context(sc)
}

#[test]
fn a_remote_parent_th_is_passed_on_with_the_other_members() {
    let p = provider(SamplingConfig::default());
    let tracer = p.tracer("t");
    let cx = remote(
        0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
        true,
        "vendor=x,ot=th:c;rv:ffffffffffffff",
    );
    let span = tracer.start_with_context("child", &cx);
    let sc = span.span_context();
    assert!(sc.is_sampled());
    assert_eq!(sc.trace_state().get("ot"), Some("th:c;rv:ffffffffffffff"));
    assert_eq!(sc.trace_state().get("vendor"), Some("x"));
    assert_eq!(
        sc.trace_state().header(),
        "ot=th:c;rv:ffffffffffffff,vendor=x",
        "the updated ot member moves to the front"
    );

    // rv below th: the parent's th is inconsistent and erased.
    let cx = remote(1, true, "ot=th:c;rv:00000000000001,vendor=x");
    let span = tracer.start_with_context("child", &cx);
    assert!(span.span_context().is_sampled());
    assert_eq!(
        span.span_context().trace_state().header(),
        "ot=rv:00000000000001,vendor=x"
    );

    // An unsampled remote parent: dropped.
    let cx = remote(u128::MAX, false, "");
    let span = tracer.start_with_context("child", &cx);
    assert!(!span.span_context().is_sampled());
}

#[test]
fn rules_see_the_sdk_attributes() {
    let p = provider(SamplingConfig::new(Sampler::rules(vec![
        Rule::new(Sampler::AlwaysOn).attribute_eq("priority", "high"),
        Rule::new(Sampler::AlwaysOff),
    ])));
    let tracer = p.tracer("t");
    let high = tracer
        .span_builder("op")
        .with_attributes([KeyValue::new("priority", "high")])
        .start(&tracer);
    assert!(high.span_context().is_sampled());
    let low = tracer
        .span_builder("op")
        .with_attributes([KeyValue::new("priority", "low")])
        .start(&tracer);
    assert!(!low.span_context().is_sampled());
}
