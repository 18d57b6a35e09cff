//! OTLP export over HTTP/protobuf to the in-test receiver: log records and
//! spans arrive with the right ids, severities and resource, and a
//! propagation round trip (inject in one "service", extract in another)
//! links the two spans in one trace.
//!
//! One engine for the whole binary (one engine per process); the receiver's
//! mutex serializes the tests.

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use datapunk_log::Guard;
use datapunk_log::export::otlp::{OtlpConfig, Protocol};
use datapunk_log::propagation::{self, Propagated};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use otlp_receiver::{Receiver, Transport, attr, hex, str_attr, wait_log, wait_span};

const SERVICE: &str = "otlp-http-test";
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
            .protocol(Protocol::HttpProtobuf)
            .endpoint(rx.http_endpoint())
            .header("x-api-key", "http-key")
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
            .service_version("0.0.1")
            .deployment_environment("test")
            .resource_attribute("test.shard", 3i64)
            .shutdown_timeout(Duration::from_secs(5))
            .init()
            .expect("init");
        Setup {
            rx: Mutex::new(rx),
            _guard: guard,
        }
    })
}

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

#[test]
fn logs_and_spans_arrive_with_ids_severity_and_resource() {
    let rx = receiver();
    let (ctx, child_ctx);
    {
        let span = datapunk_log::span!("http.a.request", path = "/orders");
        ctx = span.context();
        let _e = span.enter();
        datapunk_log::debug!(n = 3u64, "http-a: in span");
        let child = datapunk_log::span!("http.a.child");
        child_ctx = child.context();
        child.in_scope(|| datapunk_log::error!("http-a: in child"));
    }
    datapunk_log::warn!("http-a: outside");
    flush();

    let span = wait_span(&rx, "http.a.request", WAIT);
    let child = wait_span(&rx, "http.a.child", WAIT);
    assert_eq!(span.transport, Transport::Http);
    assert_eq!(hex(&span.span.trace_id), hex32(ctx.trace_id));
    assert_eq!(hex(&span.span.span_id), hex16(ctx.span_id));
    assert!(span.span.parent_span_id.is_empty());
    assert_eq!(child.span.trace_id, span.span.trace_id);
    assert_eq!(hex(&child.span.span_id), hex16(child_ctx.span_id));
    assert_eq!(child.span.parent_span_id, span.span.span_id);
    assert_eq!(str_attr(&span.span.attributes, "path"), "/orders");
    assert!(span.span.start_time_unix_nano <= span.span.end_time_unix_nano);

    let inside = wait_log(&rx, "http-a: in span", WAIT);
    assert_eq!(inside.transport, Transport::Http);
    assert_eq!(inside.record.trace_id, span.span.trace_id);
    assert_eq!(inside.record.span_id, span.span.span_id);
    assert_eq!(inside.record.flags, 1);
    assert_eq!(inside.record.severity_number, 5);
    assert_eq!(inside.record.severity_text, "DEBUG");
    assert_eq!(
        attr(&inside.record.attributes, "n"),
        Some(&AnyValue::IntValue(3))
    );
    assert_eq!(inside.scope_name, module_path!());

    let in_child = wait_log(&rx, "http-a: in child", WAIT);
    assert_eq!(in_child.record.span_id, child.span.span_id);
    assert_eq!(in_child.record.severity_number, 17);
    assert_eq!(in_child.record.severity_text, "ERROR");

    let outside = wait_log(&rx, "http-a: outside", WAIT);
    assert!(outside.record.trace_id.is_empty() && outside.record.span_id.is_empty());
    assert_eq!(outside.record.severity_number, 13);
    assert!(outside.record.time_unix_nano > 0);
    assert!(outside.record.observed_time_unix_nano >= outside.record.time_unix_nano);

    for resource in [&span.resource, &inside.resource] {
        assert_eq!(str_attr(resource, "service.name"), SERVICE);
        assert_eq!(str_attr(resource, "service.version"), "0.0.1");
        assert_eq!(str_attr(resource, "deployment.environment.name"), "test");
        assert_eq!(str_attr(resource, "service.instance.id").len(), 36);
        assert_eq!(attr(resource, "test.shard"), Some(&AnyValue::IntValue(3)));
    }

    for m in rx.log_request_meta().iter().chain(&rx.span_request_meta()) {
        assert_eq!(m.transport, Transport::Http);
        assert_eq!(m.header("x-api-key"), Some("http-key"), "{m:?}");
        let ct = m.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("application/x-protobuf"), "{m:?}");
    }
}

#[test]
fn propagation_round_trip_links_two_services() {
    let rx = receiver();
    // "Service A": a client span; the outgoing request's headers.
    let client = datapunk_log::span!("http.b.client_call", peer = "inventory");
    let client_ctx = client.context();
    let mut headers: HashMap<String, String> = HashMap::new();
    let correlation;
    {
        let _e = client.enter();
        let mut p = Propagated::current();
        correlation = p.ensure_correlation_id().to_string();
        propagation::inject(&p, &mut headers);
        datapunk_log::info!("http-b: calling");
    }
    drop(client);
    assert_eq!(
        headers.get("traceparent").map(String::as_str),
        Some(
            format!(
                "00-{}-{}-03",
                hex32(client_ctx.trace_id),
                hex16(client_ctx.span_id)
            )
            .as_str()
        )
    );

    // "Service B": extracts them and handles the request.
    let incoming = propagation::extract(&headers);
    assert_eq!(
        incoming.correlation_id.as_deref(),
        Some(correlation.as_str())
    );
    let server_ctx;
    {
        let server = datapunk_log::span!(parent: &incoming, "http.b.server_handle");
        server_ctx = server.context();
        let _e = server.enter();
        datapunk_log::info!("http-b: handling");
    }
    flush();

    let c = wait_span(&rx, "http.b.client_call", WAIT);
    let s = wait_span(&rx, "http.b.server_handle", WAIT);
    assert_eq!(hex(&c.span.trace_id), hex32(client_ctx.trace_id));
    assert_eq!(s.span.trace_id, c.span.trace_id, "one trace");
    assert_eq!(s.span.parent_span_id, c.span.span_id, "server's parent");
    assert_eq!(hex(&s.span.span_id), hex16(server_ctx.span_id));
    assert_ne!(s.span.flags & 0x200, 0, "the parent is remote");
    assert_eq!(c.span.flags & 0x200, 0, "a local root");
    assert!(c.span.parent_span_id.is_empty());
    assert_eq!(
        str_attr(&s.span.attributes, "correlation_id"),
        correlation.as_str()
    );

    let calling = wait_log(&rx, "http-b: calling", WAIT);
    assert_eq!(calling.record.span_id, c.span.span_id);
    let handling = wait_log(&rx, "http-b: handling", WAIT);
    assert_eq!(handling.record.trace_id, c.span.trace_id);
    assert_eq!(handling.record.span_id, s.span.span_id);
    assert_eq!(
        str_attr(&handling.record.attributes, "correlation_id"),
        correlation.as_str()
    );
}
