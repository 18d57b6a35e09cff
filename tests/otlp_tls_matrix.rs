//! OTLP over TLS, exporter by exporter (no engine, so that one process can
//! try many configurations): a test CA and certificates are made with
//! `rcgen`, the in-test receiver serves gRPC and HTTP/protobuf over TLS, and
//! what arrives is decoded.
//!
//! - All four paths (logs and spans; gRPC and HTTP; both log encoders)
//!   deliver with a custom CA.
//! - The wrong CA, or the system's roots, fail: nothing arrives, the lost
//!   records are counted, flush and shutdown stay bounded.
//! - Mutual TLS: a receiver that requires a client certificate takes the
//!   exporter that has one and refuses the one that has not.
//! - A gRPC endpoint without a scheme is TLS, unless insecure.
//!
//! The exporters' counters are process-wide: the tests run one at a time.

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;
#[path = "common/tls_pki.rs"]
mod tls_pki;

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use datapunk_log::export::otlp::{
    LogEncoder, OtlpConfig, OtlpError, OtlpExporter, OtlpStats, Protocol, otlp_stats,
};
use datapunk_log::export::{Exporter, LogView, SpanView, StatusView};
use datapunk_log::resource::Resource;
use datapunk_log::{Level, TraceContext};
use otlp_receiver::{Receiver, TlsOptions, Transport, hex, wait_log, wait_span};
use tls_pki::Pki;

const WAIT: Duration = Duration::from_secs(10);
/// Timeout of the exporters that are meant to fail.
const FAIL_TIMEOUT: Duration = Duration::from_millis(800);

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn receiver(pki: &Pki, mutual: bool) -> Receiver {
    Receiver::start_tls(TlsOptions {
        cert_pem: pki.server_cert_pem.clone(),
        key_pem: pki.server_key_pem.clone(),
        client_ca_pem: mutual.then(|| pki.ca_pem.clone()),
    })
}

fn endpoint(rx: &Receiver, protocol: Protocol) -> String {
    match protocol {
        Protocol::Grpc => rx.grpc_endpoint(),
        // HTTP/protobuf (the matrix's only HTTP protocol).
        _ => rx.http_endpoint(),
    }
}

fn transport(protocol: Protocol) -> Transport {
    match protocol {
        Protocol::Grpc => Transport::Grpc,
        _ => Transport::Http,
    }
}

fn trace(n: u64) -> TraceContext {
    TraceContext {
        trace_id: 0x7a5f_0000_0000_0000_0000_0000_0000_0000 | u128::from(n),
        span_id: 0x5a00_0000_0000_0000 | n,
        parent_span_id: 0,
        trace_flags: 1,
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// One case's log body and span name.
struct Case {
    body: String,
    span: &'static str,
    trace: TraceContext,
}

impl Case {
    fn new(n: u64, label: &str) -> Case {
        Case {
            body: format!("tls log {n} {label}"),
            span: leak(format!("tls.span.{n}.{label}")),
            trace: trace(n),
        }
    }
}

/// What an export did to the counters.
#[derive(Debug)]
struct Outcome {
    delta: OtlpStats,
    flush: Duration,
    shutdown: Duration,
}

/// Exports one log record (inside the case's trace) and one span, flushes
/// and shuts down, all bounded.
fn export_one(cfg: OtlpConfig, case: &Case) -> Outcome {
    let mut exp = match OtlpExporter::new(cfg) {
        Ok(e) => e,
        Err(e) => panic!("config: {e}"),
    };
    export_with(&mut exp, case)
}

fn export_with(exp: &mut OtlpExporter, case: &Case) -> Outcome {
    let before = otlp_stats();
    exp.set_resource(
        &Resource::builder()
            .service_name("otlp-tls-matrix")
            .build_with(|_| None),
    );
    let now = 1_700_000_000_000_000_000u64;
    exp.export_log(&LogView {
        time_unix_nano: now,
        observed_unix_nano: now + 1,
        level: Level::Info,
        target: "otlp_tls_matrix",
        message: &case.body,
        trace: case.trace,
        correlation_id: None,
        thread: "main",
        truncated: false,
        adjusted_count: 1,
        replayed: false,
        fields: &[],
    });
    exp.export_span(&SpanView {
        name: case.span,
        target: "otlp_tls_matrix",
        level: Level::Info,
        context: case.trace,
        parent_is_remote: false,
        trace_state: "",
        correlation_id: None,
        start_unix_nano: now,
        end_unix_nano: now + 1_000,
        fields: &[],
        events: &[],
        status: StatusView::Unset,
        thread: "main",
    });
    let t0 = Instant::now();
    exp.flush(t0 + Duration::from_secs(5));
    let flush = t0.elapsed();
    let t0 = Instant::now();
    exp.shutdown(t0 + Duration::from_secs(2));
    let shutdown = t0.elapsed();
    let after = otlp_stats();
    Outcome {
        delta: OtlpStats {
            logs_exported: after.logs_exported - before.logs_exported,
            spans_exported: after.spans_exported - before.spans_exported,
            logs_failed: after.logs_failed - before.logs_failed,
            spans_failed: after.spans_failed - before.spans_failed,
            export_requests: after.export_requests - before.export_requests,
            export_errors: after.export_errors - before.export_errors,
            unreadable_responses: after.unreadable_responses - before.unreadable_responses,
            discarded_responses: after.discarded_responses - before.discarded_responses,
        },
        flush,
        shutdown,
    }
}

/// The record and span of `case` arrived, once, over `protocol`, with the
/// case's trace id.
fn assert_delivered(rx: &Receiver, case: &Case, protocol: Protocol, out: &Outcome) {
    let log = wait_log(rx, &case.body, WAIT);
    assert_eq!(log.transport, transport(protocol));
    assert_eq!(
        hex(&log.record.trace_id),
        format!("{:032x}", case.trace.trace_id)
    );
    assert_eq!(
        hex(&log.record.span_id),
        format!("{:016x}", case.trace.span_id)
    );
    let span = wait_span(rx, case.span, WAIT);
    assert_eq!(span.transport, transport(protocol));
    assert_eq!(span.span.trace_id, log.record.trace_id);
    assert_eq!(span.span.span_id, log.record.span_id);
    assert_eq!(out.delta.logs_exported, 1, "{out:?}");
    assert_eq!(out.delta.spans_exported, 1, "{out:?}");
    assert_eq!(out.delta.logs_failed + out.delta.spans_failed, 0, "{out:?}");
    assert_eq!(out.delta.export_errors, 0, "{out:?}");
}

/// Nothing arrived, both records were counted as failed, and flush and
/// shutdown stayed within their bounds.
fn assert_refused(rx: &Receiver, out: &Outcome) {
    assert_eq!(
        out.delta.logs_exported + out.delta.spans_exported,
        0,
        "{out:?}"
    );
    assert_eq!(out.delta.logs_failed, 1, "{out:?}");
    assert_eq!(out.delta.spans_failed, 1, "{out:?}");
    assert!(out.delta.export_errors >= 2, "{out:?}");
    assert!(out.flush < Duration::from_secs(6), "{out:?}");
    assert!(out.shutdown < Duration::from_secs(3), "{out:?}");
    // Give a late delivery the chance to show up.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(rx.log_requests() + rx.span_requests(), 0);
}

const PROTOCOLS: [Protocol; 2] = [Protocol::Grpc, Protocol::HttpProtobuf];

#[test]
fn all_four_paths_deliver_with_a_custom_ca() {
    let _s = serial();
    let pki = Pki::generate("paths");
    let rx = receiver(&pki, false);
    let mut n = 100;
    for protocol in PROTOCOLS {
        for encoder in [LogEncoder::Direct, LogEncoder::Sdk] {
            n += 1;
            let case = Case::new(n, &format!("{protocol:?}.{encoder:?}"));
            let cfg = OtlpConfig::default()
                .protocol(protocol)
                .endpoint(endpoint(&rx, protocol))
                .certificate(&pki.ca_path)
                .log_encoder(encoder)
                .timeout(Duration::from_secs(5));
            let out = export_one(cfg, &case);
            assert_delivered(&rx, &case, protocol, &out);
        }
    }
    assert_eq!(rx.tls_handshake_failures(), 0);
}

#[test]
fn the_wrong_ca_fails_and_is_counted() {
    let _s = serial();
    let pki = Pki::generate("wrong-ca");
    for (i, protocol) in PROTOCOLS.into_iter().enumerate() {
        let rx = receiver(&pki, false);
        let case = Case::new(200 + i as u64, "wrong-ca");
        let cfg = OtlpConfig::default()
            .protocol(protocol)
            .endpoint(endpoint(&rx, protocol))
            .certificate(&pki.other_ca_path)
            .timeout(FAIL_TIMEOUT)
            .max_retries(1);
        let out = export_one(cfg, &case);
        assert_refused(&rx, &out);
        if protocol == Protocol::HttpProtobuf {
            assert!(rx.tls_handshake_failures() > 0, "the client hung up");
        }
    }
}

#[test]
fn the_system_roots_do_not_trust_the_test_ca() {
    let _s = serial();
    let pki = Pki::generate("system-roots");
    for (i, protocol) in PROTOCOLS.into_iter().enumerate() {
        let rx = receiver(&pki, false);
        let case = Case::new(300 + i as u64, "system-roots");
        let cfg = OtlpConfig::default()
            .protocol(protocol)
            .endpoint(endpoint(&rx, protocol))
            .timeout(FAIL_TIMEOUT)
            .max_retries(1);
        match OtlpExporter::new(cfg) {
            Ok(mut exp) => {
                let out = export_with(&mut exp, &case);
                assert_refused(&rx, &out);
            }
            // A machine without any root certificate: refused up front.
            Err(OtlpError::InvalidConfig { setting, reason }) => {
                assert_eq!(setting, "certificate", "{reason}");
            }
            Err(e) => panic!("{protocol:?}: {e}"),
        }
    }
}

#[test]
fn mutual_tls_needs_the_client_certificate() {
    let _s = serial();
    let pki = Pki::generate("mtls");
    let rx = receiver(&pki, true);
    for (i, protocol) in PROTOCOLS.into_iter().enumerate() {
        let base = OtlpConfig::default()
            .protocol(protocol)
            .endpoint(endpoint(&rx, protocol))
            .certificate(&pki.ca_path);

        // With the client certificate: accepted.
        let case = Case::new(400 + i as u64, "mtls-ok");
        let cfg = base
            .clone()
            .client_certificate(&pki.client_cert_path)
            .client_key(&pki.client_key_path)
            .timeout(Duration::from_secs(5));
        let out = export_one(cfg, &case);
        assert_delivered(&rx, &case, protocol, &out);

        // Without: refused.
        rx.clear();
        let failures = rx.tls_handshake_failures();
        let case = Case::new(410 + i as u64, "mtls-none");
        let cfg = base.timeout(FAIL_TIMEOUT).max_retries(1);
        let out = export_one(cfg, &case);
        assert_refused(&rx, &out);
        if protocol == Protocol::HttpProtobuf {
            assert!(rx.tls_handshake_failures() > failures, "the server refused");
        }
    }
}

#[test]
fn a_grpc_endpoint_without_a_scheme_is_tls_unless_insecure() {
    let _s = serial();
    let pki = Pki::generate("scheme-less");
    let rx = receiver(&pki, false);
    let bare = rx.grpc_addr().to_string();

    let case = Case::new(500, "scheme-less");
    let cfg = OtlpConfig::default()
        .protocol(Protocol::Grpc)
        .endpoint(&bare)
        .certificate(&pki.ca_path)
        .timeout(Duration::from_secs(5));
    assert_eq!(
        cfg.endpoint_for(datapunk_log::export::otlp::Signal::Logs),
        format!("https://{bare}")
    );
    let out = export_one(cfg, &case);
    assert_delivered(&rx, &case, Protocol::Grpc, &out);

    // Insecure: clear text, which a TLS server does not speak.
    rx.clear();
    let case = Case::new(501, "insecure");
    let cfg = OtlpConfig::default()
        .protocol(Protocol::Grpc)
        .endpoint(&bare)
        .insecure(true)
        .timeout(FAIL_TIMEOUT)
        .max_retries(1);
    let out = export_one(cfg, &case);
    assert_refused(&rx, &out);
}
