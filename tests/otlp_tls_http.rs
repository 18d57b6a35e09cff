//! OTLP/HTTP (protobuf) over mutual TLS through the engine: the receiver
//! requires a client certificate signed by the test CA, and the exporter is
//! given the CA, its client certificate and key with the `OtlpConfig`
//! builder. Log records and spans arrive, decoded and checked.
//!
//! One engine for the whole binary.

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;
#[path = "common/tls_pki.rs"]
mod tls_pki;

use std::time::Duration;

use datapunk_log::export::otlp::{OtlpConfig, Protocol, otlp_stats};
use otlp_receiver::{Receiver, TlsOptions, Transport, hex, str_attr, wait_log, wait_span};
use tls_pki::Pki;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn logs_and_spans_arrive_over_http_mutual_tls() {
    let pki = Pki::generate("engine-http");
    let rx = Receiver::start_tls(TlsOptions {
        cert_pem: pki.server_cert_pem.clone(),
        key_pem: pki.server_key_pem.clone(),
        client_ca_pem: Some(pki.ca_pem.clone()),
    });
    let cfg = OtlpConfig::default()
        .protocol(Protocol::HttpProtobuf)
        .endpoint(rx.http_endpoint())
        .certificate(&pki.ca_path)
        .client_certificate(&pki.client_cert_path)
        .client_key(&pki.client_key_path)
        .header("x-api-key", "tls-key")
        .timeout(Duration::from_secs(5))
        .export_timeout(Duration::from_secs(5))
        .schedule_delay(Duration::from_millis(100));
    let guard = datapunk_log::builder()
        .null()
        .ignore_env()
        .filter("trace")
        .otlp(cfg)
        .expect("valid OTLP config")
        .service_name("otlp-tls-http-test")
        .shutdown_timeout(Duration::from_secs(5))
        .init()
        .expect("init");

    let (ctx, child_ctx);
    {
        let span = datapunk_log::span!("tls.http.request", route = "/orders");
        ctx = span.context();
        let _e = span.enter();
        datapunk_log::debug!("tls-http: in span");
        let child = datapunk_log::span!("tls.http.child");
        child_ctx = child.context();
        child.in_scope(|| datapunk_log::error!("tls-http: in child"));
    }
    assert!(datapunk_log::flush_timeout(WAIT), "flush within {WAIT:?}");

    let span = wait_span(&rx, "tls.http.request", WAIT);
    let child = wait_span(&rx, "tls.http.child", WAIT);
    assert_eq!(span.transport, Transport::Http);
    assert_eq!(hex(&span.span.trace_id), format!("{:032x}", ctx.trace_id));
    assert_eq!(hex(&span.span.span_id), format!("{:016x}", ctx.span_id));
    assert_eq!(str_attr(&span.span.attributes, "route"), "/orders");
    assert_eq!(child.span.trace_id, span.span.trace_id);
    assert_eq!(
        hex(&child.span.span_id),
        format!("{:016x}", child_ctx.span_id)
    );
    assert_eq!(child.span.parent_span_id, span.span.span_id);

    let inside = wait_log(&rx, "tls-http: in span", WAIT);
    assert_eq!(inside.transport, Transport::Http);
    assert_eq!(inside.record.trace_id, span.span.trace_id);
    assert_eq!(inside.record.span_id, span.span.span_id);
    assert_eq!(inside.record.severity_number, 5);
    let in_child = wait_log(&rx, "tls-http: in child", WAIT);
    assert_eq!(in_child.record.span_id, child.span.span_id);
    assert_eq!(in_child.record.severity_number, 17);

    for m in rx.log_request_meta().iter().chain(&rx.span_request_meta()) {
        assert_eq!(m.transport, Transport::Http);
        assert_eq!(m.header("x-api-key"), Some("tls-key"), "{m:?}");
    }
    let o = otlp_stats();
    assert!(o.logs_exported >= 2 && o.spans_exported >= 2, "{o:?}");
    assert_eq!(o.logs_failed + o.spans_failed, 0, "{o:?}");
    assert_eq!(rx.tls_handshake_failures(), 0);
    drop(guard);
}
