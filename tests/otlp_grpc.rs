//! OTLP export over gRPC (gzip, a custom header) to the in-test receiver:
//! what arrives is decoded and checked field by field (ids and parent links,
//! resource, severity, body, timestamps, attribute types, scopes, span
//! status and events, request metadata, remote parents and correlation ids).
//!
//! One engine for the whole binary (one engine per process), shared through
//! a `OnceLock`; the receiver's mutex serializes the tests.

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use datapunk_log::export::otlp::{Compression, OtlpConfig, Protocol, otlp_stats};
use datapunk_log::propagation::{self, Propagated};
use datapunk_log::{Guard, Status};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use otlp_receiver::{
    Receiver, Transport, attr, body_of, hex, int_attr, str_attr, wait_log, wait_span,
};

const SERVICE: &str = "otlp-grpc-test";
const VERSION: &str = "1.2.3";
const ENVIRONMENT: &str = "ci";
const API_KEY: &str = "secret-123";
/// Bound of every wait in this file.
const WAIT: Duration = Duration::from_secs(10);

struct Setup {
    rx: Mutex<Receiver>,
    _guard: Guard,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let rx = Receiver::start();
        let cfg = OtlpConfig::default()
            .endpoint(rx.grpc_endpoint())
            .protocol(Protocol::Grpc)
            .compression(Some(Compression::Gzip))
            .header("x-api-key", API_KEY)
            .timeout(Duration::from_secs(5))
            .export_timeout(Duration::from_secs(5))
            .schedule_delay(Duration::from_millis(100));
        let guard = datapunk_log::builder()
            .null()
            .ignore_env()
            .filter("trace")
            .otlp(cfg)
            .expect("valid OTLP config")
            .service_name(SERVICE)
            .service_version(VERSION)
            .deployment_environment(ENVIRONMENT)
            .resource_attribute("test.shard", 7i64)
            .resource_attribute("test.canary", true)
            .resource_attribute("test.ratio", 0.5f64)
            .resource_attribute("test.team", "payments")
            .shutdown_timeout(Duration::from_secs(5))
            .init()
            .expect("init");
        Setup {
            rx: Mutex::new(rx),
            _guard: guard,
        }
    })
}

/// The receiver, locked for the whole test (this serializes the tests).
fn receiver() -> MutexGuard<'static, Receiver> {
    setup().rx.lock().unwrap_or_else(|e| e.into_inner())
}

fn flush() {
    assert!(
        datapunk_log::flush_timeout(WAIT),
        "flush did not complete within {WAIT:?}"
    );
}

fn hex32(v: u128) -> String {
    format!("{v:032x}")
}

fn hex16(v: u64) -> String {
    format!("{v:016x}")
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as u64
}

/// A timestamp within a minute of `now`.
fn assert_plausible(what: &str, t: u64, now: u64) {
    const MINUTE: u64 = 60_000_000_000;
    assert!(
        t > now.saturating_sub(MINUTE) && t < now + MINUTE,
        "{what} = {t} is not within a minute of now ({now})"
    );
}

#[derive(Debug)]
struct Declined;

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}

impl std::error::Error for Declined {}

struct Amount(u32);

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:02} EUR", self.0 / 100, self.0 % 100)
    }
}

#[test]
fn logs_and_spans_share_ids_and_parent_links() {
    let rx = receiver();
    let (pctx, cctx);
    {
        let parent = datapunk_log::span!("grpc.a.parent", step = "outer");
        pctx = parent.context();
        let _pe = parent.enter();
        datapunk_log::info!("grpc-a: in parent");
        let child = datapunk_log::span!("grpc.a.child");
        cctx = child.context();
        {
            let _ce = child.enter();
            datapunk_log::warn!("grpc-a: in child");
        }
    }
    datapunk_log::info!("grpc-a: outside");
    flush();

    let parent = wait_span(&rx, "grpc.a.parent", WAIT);
    let child = wait_span(&rx, "grpc.a.child", WAIT);
    let in_parent = wait_log(&rx, "grpc-a: in parent", WAIT);
    let in_child = wait_log(&rx, "grpc-a: in child", WAIT);
    let outside = wait_log(&rx, "grpc-a: outside", WAIT);

    // Span ids as sent.
    assert_eq!(hex(&parent.span.trace_id), hex32(pctx.trace_id));
    assert_eq!(hex(&parent.span.span_id), hex16(pctx.span_id));
    assert!(
        parent.span.parent_span_id.is_empty(),
        "a root span has no parent: {:?}",
        parent.span.parent_span_id
    );
    assert_eq!(hex(&child.span.trace_id), hex32(pctx.trace_id));
    assert_eq!(hex(&child.span.span_id), hex16(cctx.span_id));
    assert_eq!(child.span.parent_span_id, parent.span.span_id);
    assert_eq!(cctx.parent_span_id, pctx.span_id);
    // Low byte: W3C flags, sampled only; 0x100: "has is-remote", local parent.
    for s in [&parent, &child] {
        assert_eq!(s.span.flags & 0xff, 1, "sampled flag of {}", s.span.name);
        assert_ne!(s.span.flags & 0x100, 0, "{}", s.span.name);
        assert_eq!(s.span.flags & 0x200, 0, "{}: local parent", s.span.name);
        assert_eq!(s.transport, Transport::Grpc);
    }
    assert_eq!(str_attr(&parent.span.attributes, "step"), "outer");

    // Log records inside spans carry the span's ids, byte for byte.
    assert_eq!(in_parent.record.trace_id, parent.span.trace_id);
    assert_eq!(in_parent.record.span_id, parent.span.span_id);
    assert_eq!(in_parent.record.flags, 1);
    assert_eq!(in_child.record.trace_id, child.span.trace_id);
    assert_eq!(in_child.record.span_id, child.span.span_id);
    assert_eq!(in_child.record.flags, 1);
    assert_eq!(in_parent.record.trace_id.len(), 16);
    assert_eq!(in_parent.record.span_id.len(), 8);
    // Outside any span: no trace context.
    assert!(outside.record.trace_id.is_empty(), "{:?}", outside.record);
    assert!(outside.record.span_id.is_empty(), "{:?}", outside.record);
    assert_eq!(outside.record.flags, 0);

    // Span times ordered, parent encloses child.
    assert!(parent.span.start_time_unix_nano <= child.span.start_time_unix_nano);
    assert!(child.span.start_time_unix_nano <= child.span.end_time_unix_nano);
    assert!(child.span.end_time_unix_nano <= parent.span.end_time_unix_nano);

    let s = datapunk_log::stats();
    assert!(s.exported_logs >= 3 && s.exported_spans >= 2, "{s:?}");
    let o = otlp_stats();
    assert!(o.logs_exported >= 3 && o.spans_exported >= 2, "{o:?}");
}

#[test]
fn resource_attributes_are_sent_with_their_types() {
    let rx = receiver();
    datapunk_log::info!("grpc-b: resource");
    {
        let _span = datapunk_log::span!("grpc.b.span");
    }
    flush();
    let log = wait_log(&rx, "grpc-b: resource", WAIT);
    let span = wait_span(&rx, "grpc.b.span", WAIT);
    for (what, resource) in [("logs", &log.resource), ("spans", &span.resource)] {
        assert_eq!(str_attr(resource, "service.name"), SERVICE, "{what}");
        assert_eq!(str_attr(resource, "service.version"), VERSION, "{what}");
        assert_eq!(
            str_attr(resource, "deployment.environment.name"),
            ENVIRONMENT,
            "{what}"
        );
        let instance = str_attr(resource, "service.instance.id");
        assert_eq!(instance.len(), 36, "{what}: {instance:?}");
        assert_eq!(instance.matches('-').count(), 4, "{what}: {instance:?}");
        assert_eq!(int_attr(resource, "test.shard"), 7, "{what}");
        assert_eq!(
            attr(resource, "test.canary"),
            Some(&AnyValue::BoolValue(true)),
            "{what}"
        );
        assert_eq!(
            attr(resource, "test.ratio"),
            Some(&AnyValue::DoubleValue(0.5)),
            "{what}"
        );
        assert_eq!(str_attr(resource, "test.team"), "payments", "{what}");
        assert_eq!(
            str_attr(resource, "telemetry.sdk.language"),
            "rust",
            "{what}"
        );
        // Each key once.
        let mut keys: Vec<_> = resource.iter().map(|kv| kv.key.as_str()).collect();
        let n = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), n, "{what}: duplicate resource keys {keys:?}");
    }
    // The same instance id on both signals.
    assert_eq!(
        str_attr(&log.resource, "service.instance.id"),
        str_attr(&span.resource, "service.instance.id")
    );
}

#[test]
fn severity_body_and_timestamps() {
    let rx = receiver();
    let before = now_nanos();
    datapunk_log::trace!("grpc-c: trace");
    datapunk_log::debug!("grpc-c: debug");
    datapunk_log::info!("grpc-c: info {}", 42);
    datapunk_log::warn!("grpc-c: warn");
    datapunk_log::error!("grpc-c: error");
    datapunk_log::fatal!("grpc-c: fatal");
    flush();
    let now = now_nanos();
    let cases = [
        ("grpc-c: trace", 1, "TRACE"),
        ("grpc-c: debug", 5, "DEBUG"),
        ("grpc-c: info 42", 9, "INFO"),
        ("grpc-c: warn", 13, "WARN"),
        ("grpc-c: error", 17, "ERROR"),
        ("grpc-c: fatal", 21, "FATAL"),
    ];
    let mut last_time = 0;
    for (body, number, text) in cases {
        let l = wait_log(&rx, body, WAIT);
        let r = &l.record;
        assert_eq!(r.severity_number, number, "{body}");
        assert_eq!(r.severity_text, text, "{body}");
        assert_eq!(body_of(&l), Some(body));
        assert_ne!(r.time_unix_nano, 0, "{body}: time set");
        assert_ne!(r.observed_time_unix_nano, 0, "{body}: observed time set");
        assert_plausible("time_unix_nano", r.time_unix_nano, now);
        assert_plausible("observed_time_unix_nano", r.observed_time_unix_nano, now);
        // Captured between the two readings of the clock (50 ms of slack for
        // clock conversion).
        assert!(
            r.time_unix_nano + 50_000_000 >= before && r.time_unix_nano <= now + 50_000_000,
            "{body}: time {} outside [{before}, {now}]",
            r.time_unix_nano
        );
        assert!(
            r.observed_time_unix_nano >= r.time_unix_nano,
            "{body}: observed {} < time {}",
            r.observed_time_unix_nano,
            r.time_unix_nano
        );
        assert!(r.time_unix_nano >= last_time, "{body}: times in call order");
        last_time = r.time_unix_nano;
        assert_eq!(l.scope_name, module_path!(), "{body}");
        let thread = std::thread::current();
        if let Some(name) = thread.name() {
            assert_eq!(str_attr(&r.attributes, "thread.name"), name, "{body}");
        }
    }
}

#[test]
fn attribute_types() {
    let rx = receiver();
    let e = Declined;
    let big = u64::MAX;
    let edge = i64::MAX as u64;
    datapunk_log::info!(
        small = 7u64,
        negative = -5i64,
        ratio = 2.5f64,
        ok = true,
        name = "alice",
        amount = %Amount(1250),
        shape = ?(1, "x"),
        edge = edge,
        big = big,
        byte = 200u8,
        err = &e as &dyn std::error::Error,
        "grpc-d: types"
    );
    flush();
    let l = wait_log(&rx, "grpc-d: types", WAIT);
    let a = &l.record.attributes;
    assert_eq!(attr(a, "small"), Some(&AnyValue::IntValue(7)));
    assert_eq!(attr(a, "negative"), Some(&AnyValue::IntValue(-5)));
    assert_eq!(attr(a, "ratio"), Some(&AnyValue::DoubleValue(2.5)));
    assert_eq!(attr(a, "ok"), Some(&AnyValue::BoolValue(true)));
    assert_eq!(str_attr(a, "name"), "alice");
    assert_eq!(str_attr(a, "amount"), "12.50 EUR");
    assert_eq!(str_attr(a, "shape"), "(1, \"x\")");
    assert_eq!(attr(a, "byte"), Some(&AnyValue::IntValue(200)));
    // Up to i64::MAX an unsigned value stays an int; above, it becomes its
    // decimal text (the mapping in src/export/otlp/wire.rs and sdk.rs).
    assert_eq!(attr(a, "edge"), Some(&AnyValue::IntValue(i64::MAX)));
    assert_eq!(str_attr(a, "big"), "18446744073709551615");
    // An error field becomes the exception.* attributes.
    assert_eq!(str_attr(a, "exception.type"), "Declined");
    assert_eq!(str_attr(a, "exception.message"), "card declined");
    assert!(attr(a, "err").is_none(), "the error's own key is not sent");
    assert_eq!(l.record.severity_number, 9);
}

mod inner {
    pub fn log() {
        datapunk_log::info!("grpc-e: from a module");
    }
}

#[test]
fn scope_is_the_target() {
    let rx = receiver();
    datapunk_log::info!("grpc-e: default target");
    datapunk_log::info!(target: "audit", user = "bob", "grpc-e: audit");
    inner::log();
    {
        let _s = datapunk_log::span!(target: "audit", "grpc.e.audit_span");
    }
    flush();
    assert_eq!(
        wait_log(&rx, "grpc-e: default target", WAIT).scope_name,
        "otlp_grpc"
    );
    let audit = wait_log(&rx, "grpc-e: audit", WAIT);
    assert_eq!(audit.scope_name, "audit");
    assert_eq!(str_attr(&audit.record.attributes, "user"), "bob");
    assert_eq!(
        wait_log(&rx, "grpc-e: from a module", WAIT).scope_name,
        "otlp_grpc::inner"
    );
    assert_eq!(
        wait_span(&rx, "grpc.e.audit_span", WAIT).scope_name,
        "audit"
    );
}

#[test]
fn span_status_events_and_late_attributes() {
    let rx = receiver();
    let ctx;
    {
        let span = datapunk_log::span!("grpc.f.pay", order = 7u64);
        ctx = span.context();
        let _e = span.enter();
        span.record("http.status_code", &402u16);
        span.record("retry", &true);
        span.record("order", &8u64);
        span.record_error(&Declined);
        span.add_event("gave up");
        span.set_status(Status::Error("payment failed"));
    }
    {
        let span = datapunk_log::span!("grpc.f.ok");
        span.set_status(Status::Ok);
    }
    {
        let _span = datapunk_log::span!("grpc.f.unset");
    }
    flush();
    let s = wait_span(&rx, "grpc.f.pay", WAIT);
    assert_eq!(hex(&s.span.span_id), hex16(ctx.span_id));
    let status = s.span.status.as_ref().expect("status present");
    assert_eq!(status.code, 2, "STATUS_CODE_ERROR");
    assert_eq!(status.message, "payment failed");
    assert_eq!(int_attr(&s.span.attributes, "http.status_code"), 402);
    assert_eq!(
        attr(&s.span.attributes, "retry"),
        Some(&AnyValue::BoolValue(true))
    );
    assert_eq!(s.span.kind, 1, "SPAN_KIND_INTERNAL");

    let start = s.span.start_time_unix_nano;
    let end = s.span.end_time_unix_nano;
    assert!(start > 0 && start <= end, "start {start} end {end}");
    assert_plausible("start", start, now_nanos());
    let exc: Vec<_> = s
        .span
        .events
        .iter()
        .filter(|e| e.name == "exception")
        .collect();
    assert_eq!(exc.len(), 1, "{:?}", s.span.events);
    let ev = exc[0];
    assert_eq!(
        str_attr(&ev.attributes, "exception.message"),
        "card declined"
    );
    assert_eq!(str_attr(&ev.attributes, "exception.type"), "Declined");
    assert!(ev.time_unix_nano >= start && ev.time_unix_nano <= end);
    let gave_up: Vec<_> = s
        .span
        .events
        .iter()
        .filter(|e| e.name == "gave up")
        .collect();
    assert_eq!(gave_up.len(), 1, "{:?}", s.span.events);
    assert!(gave_up[0].attributes.is_empty());

    let ok = wait_span(&rx, "grpc.f.ok", WAIT);
    assert_eq!(ok.span.status.as_ref().map(|s| s.code), Some(1), "OK");
    let unset = wait_span(&rx, "grpc.f.unset", WAIT);
    assert_eq!(unset.span.status.as_ref().map(|s| s.code), Some(0), "UNSET");
}

/// OpenTelemetry attribute keys are unique within a span, and setting a key
/// again replaces its value: a value recorded later must replace the one
/// given at start, not be sent beside it.
#[test]
fn span_attribute_recorded_later_replaces_the_start_value() {
    let rx = receiver();
    {
        let span = datapunk_log::span!("grpc.f.overwrite", order = 7u64, kept = 1u64);
        span.record("order", &8u64);
        span.record("added", &"later");
        span.record("added", &"latest");
    }
    flush();
    let s = wait_span(&rx, "grpc.f.overwrite", WAIT);
    let a = &s.span.attributes;
    let mut keys: Vec<_> = a.iter().map(|kv| kv.key.as_str()).collect();
    let n = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), n, "duplicate span attribute keys: {a:?}");
    assert_eq!(int_attr(a, "order"), 8, "the later value wins: {a:?}");
    assert_eq!(str_attr(a, "added"), "latest", "{a:?}");
    assert_eq!(int_attr(a, "kept"), 1);
}

#[test]
fn request_metadata_has_the_header_and_gzip() {
    let rx = receiver();
    datapunk_log::info!("grpc-g: metadata");
    {
        let _s = datapunk_log::span!("grpc.g.span");
    }
    flush();
    wait_log(&rx, "grpc-g: metadata", WAIT);
    wait_span(&rx, "grpc.g.span", WAIT);
    let logs = rx.log_request_meta();
    let spans = rx.span_request_meta();
    assert!(!logs.is_empty() && !spans.is_empty());
    for m in logs.iter().chain(&spans) {
        assert_eq!(m.transport, Transport::Grpc);
        assert_eq!(m.header("x-api-key"), Some(API_KEY), "{m:?}");
        assert_eq!(m.header("grpc-encoding"), Some("gzip"), "{m:?}");
    }
}

#[test]
fn remote_parent_and_correlation_id() {
    let rx = receiver();
    const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
    const PARENT: &str = "b7ad6b7169203331";
    let mut headers = HashMap::new();
    headers.insert("traceparent".to_string(), format!("00-{TRACE}-{PARENT}-01"));
    headers.insert(
        "baggage".to_string(),
        "correlation_id=req-grpc-42,tenant=acme".to_string(),
    );
    // The trace id's low 56 bits (0x48eb211c80319c) are above th:4's
    // threshold, so the incoming th is consistent and passed on.
    headers.insert(
        "tracestate".to_string(),
        "vendor=abc,ot=th:4;x:y".to_string(),
    );
    let incoming = propagation::extract(&headers);
    assert_eq!(incoming.correlation_id.as_deref(), Some("req-grpc-42"));
    let (sctx, cctx, outgoing);
    {
        let span = datapunk_log::span!(parent: &incoming, "grpc.h.handle", route = "/pay");
        sctx = span.context();
        let _e = span.enter();
        datapunk_log::info!("grpc-h: handling");
        let child = datapunk_log::span!("grpc.h.db");
        cctx = child.context();
        let _ce = child.enter();
        datapunk_log::info!("grpc-h: querying");
        let mut out: HashMap<String, String> = HashMap::new();
        propagation::inject(&Propagated::current(), &mut out);
        outgoing = out;
    }
    datapunk_log::info!("grpc-h: after");
    flush();

    let s = wait_span(&rx, "grpc.h.handle", WAIT);
    assert_eq!(hex(&s.span.trace_id), TRACE);
    assert_eq!(hex(&s.span.parent_span_id), PARENT);
    assert_eq!(hex(&s.span.span_id), hex16(sctx.span_id));
    assert_ne!(
        s.span.flags & 0x200,
        0,
        "remote parent: {:#x}",
        s.span.flags
    );
    assert_eq!(s.span.flags & 0xff, 1);
    assert_eq!(s.span.trace_state, "ot=th:4;x:y,vendor=abc");
    assert_eq!(
        str_attr(&s.span.attributes, "correlation_id"),
        "req-grpc-42"
    );
    assert_eq!(str_attr(&s.span.attributes, "route"), "/pay");

    let db = wait_span(&rx, "grpc.h.db", WAIT);
    assert_eq!(hex(&db.span.trace_id), TRACE);
    assert_eq!(db.span.parent_span_id, s.span.span_id);
    assert_eq!(hex(&db.span.span_id), hex16(cctx.span_id));
    assert_eq!(db.span.flags & 0x200, 0, "local parent");
    assert_eq!(db.span.trace_state, "ot=th:4;x:y,vendor=abc");

    let handling = wait_log(&rx, "grpc-h: handling", WAIT);
    assert_eq!(hex(&handling.record.trace_id), TRACE);
    assert_eq!(handling.record.span_id, s.span.span_id);
    assert_eq!(
        str_attr(&handling.record.attributes, "correlation_id"),
        "req-grpc-42"
    );
    let querying = wait_log(&rx, "grpc-h: querying", WAIT);
    assert_eq!(querying.record.span_id, db.span.span_id);
    assert_eq!(
        str_attr(&querying.record.attributes, "correlation_id"),
        "req-grpc-42",
        "children inherit the correlation id"
    );
    let after = wait_log(&rx, "grpc-h: after", WAIT);
    assert!(attr(&after.record.attributes, "correlation_id").is_none());
    assert!(after.record.trace_id.is_empty());

    // And out again, to the next service.
    assert_eq!(
        outgoing.get("traceparent").map(String::as_str),
        Some(format!("00-{TRACE}-{}-01", hex16(cctx.span_id)).as_str())
    );
    assert_eq!(
        outgoing.get("tracestate").map(String::as_str),
        Some("ot=th:4;x:y,vendor=abc"),
        "a received tracestate is sent on"
    );
    let back = propagation::extract(&outgoing);
    assert_eq!(back.correlation_id.as_deref(), Some("req-grpc-42"));
}

#[test]
fn bridged_log_and_tracing_records_reach_the_collector_with_the_span_ids() {
    let rx = receiver();
    let (outer, inner);
    {
        let span = tracing::info_span!("grpc.bridge.tracing", route = "/pay");
        let _e = span.enter();
        tracing::info!(user = 7u64, "grpc-bridge: tracing event");
        let native = datapunk_log::span!("grpc.bridge.native");
        let _n = native.enter();
        log::info!(tries = 2; "grpc-bridge: log record");
        inner = native.context();
        outer = inner.parent_span_id;
    }
    flush();
    let tr_span = wait_span(&rx, "grpc.bridge.tracing", WAIT);
    let native = wait_span(&rx, "grpc.bridge.native", WAIT);
    let tr_event = wait_log(&rx, "grpc-bridge: tracing event", WAIT);
    let log_record = wait_log(&rx, "grpc-bridge: log record", WAIT);
    assert_eq!(hex(&native.span.trace_id), hex32(inner.trace_id));
    assert_eq!(native.span.parent_span_id, tr_span.span.span_id);
    assert_eq!(hex(&tr_span.span.span_id), hex16(outer));
    assert_eq!(str_attr(&tr_span.span.attributes, "route"), "/pay");
    assert_eq!(tr_event.record.trace_id, tr_span.span.trace_id);
    assert_eq!(tr_event.record.span_id, tr_span.span.span_id);
    assert_eq!(log_record.record.trace_id, tr_span.span.trace_id);
    assert_eq!(log_record.record.span_id, native.span.span_id);
}
