//! OTLP/gRPC over TLS through the engine, configured the way a deployment
//! does it: `OTEL_EXPORTER_OTLP_ENDPOINT=https://…` and
//! `OTEL_EXPORTER_OTLP_CERTIFICATE=<CA file>` (read through
//! `OtlpConfig::from_env_with`). The CA and the receiver's certificate are
//! made at test time; log records and spans arrive over TLS, decoded and
//! checked (bodies, names, trace and span ids).
//!
//! One engine for the whole binary; the receiver's mutex serializes the
//! tests.

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;
#[path = "common/tls_pki.rs"]
mod tls_pki;

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use datapunk_log::Guard;
use datapunk_log::export::otlp::{
    OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL,
    OtlpConfig, Protocol, Signal, otlp_stats,
};
use otlp_receiver::{Receiver, TlsOptions, Transport, hex, str_attr, wait_log, wait_span};
use tls_pki::Pki;

const SERVICE: &str = "otlp-tls-grpc-test";
const WAIT: Duration = Duration::from_secs(10);

struct Setup {
    rx: Mutex<Receiver>,
    _guard: Guard,
    _pki: Pki,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let pki = Pki::generate("engine-grpc");
        let rx = Receiver::start_tls(TlsOptions {
            cert_pem: pki.server_cert_pem.clone(),
            key_pem: pki.server_key_pem.clone(),
            client_ca_pem: None,
        });
        let endpoint = rx.grpc_endpoint();
        let ca = pki.ca_path.to_string_lossy().into_owned();
        let env = |name: &str| match name {
            OTEL_EXPORTER_OTLP_ENDPOINT => Some(endpoint.clone()),
            OTEL_EXPORTER_OTLP_PROTOCOL => Some("grpc".to_string()),
            OTEL_EXPORTER_OTLP_CERTIFICATE => Some(ca.clone()),
            _ => None,
        };
        let cfg = OtlpConfig::from_env_with(env)
            .expect("valid environment")
            .timeout(Duration::from_secs(5))
            .export_timeout(Duration::from_secs(5))
            .schedule_delay(Duration::from_millis(100));
        assert!(endpoint.starts_with("https://"), "{endpoint}");
        assert_eq!(cfg.protocol_for(Signal::Logs), Protocol::Grpc);
        assert_eq!(
            cfg.certificate_for(Signal::Traces),
            Some(pki.ca_path.as_path())
        );
        let guard = datapunk_log::builder()
            .null()
            .ignore_env()
            .filter("trace")
            .otlp(cfg)
            .expect("valid OTLP config")
            .service_name(SERVICE)
            .shutdown_timeout(Duration::from_secs(5))
            .init()
            .expect("init");
        Setup {
            rx: Mutex::new(rx),
            _guard: guard,
            _pki: pki,
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

#[test]
fn logs_and_spans_arrive_over_grpc_tls() {
    let rx = receiver();
    let ctx;
    {
        let span = datapunk_log::span!("tls.grpc.request", route = "/pay");
        ctx = span.context();
        let _e = span.enter();
        datapunk_log::info!(n = 7u64, "tls-grpc: in span");
    }
    datapunk_log::warn!("tls-grpc: outside");
    flush();

    let span = wait_span(&rx, "tls.grpc.request", WAIT);
    assert_eq!(span.transport, Transport::Grpc);
    assert_eq!(hex(&span.span.trace_id), format!("{:032x}", ctx.trace_id));
    assert_eq!(hex(&span.span.span_id), format!("{:016x}", ctx.span_id));
    assert_eq!(str_attr(&span.span.attributes, "route"), "/pay");
    assert_eq!(str_attr(&span.resource, "service.name"), SERVICE);

    let inside = wait_log(&rx, "tls-grpc: in span", WAIT);
    assert_eq!(inside.transport, Transport::Grpc);
    assert_eq!(inside.record.trace_id, span.span.trace_id);
    assert_eq!(inside.record.span_id, span.span.span_id);
    assert_eq!(inside.record.severity_number, 9);
    let outside = wait_log(&rx, "tls-grpc: outside", WAIT);
    assert!(outside.record.trace_id.is_empty());
    assert_eq!(outside.record.severity_number, 13);

    let o = otlp_stats();
    assert!(o.logs_exported >= 2 && o.spans_exported >= 1, "{o:?}");
    assert_eq!(o.logs_failed + o.spans_failed, 0, "{o:?}");
}

#[test]
fn many_records_over_one_tls_connection() {
    let rx = receiver();
    for i in 0..500u64 {
        datapunk_log::info!(i = i, "tls-grpc: bulk");
    }
    datapunk_log::info!("tls-grpc: bulk done");
    flush();
    wait_log(&rx, "tls-grpc: bulk done", WAIT);
    let bulk = rx
        .logs()
        .iter()
        .filter(|l| otlp_receiver::body_of(l) == Some("tls-grpc: bulk"))
        .count();
    assert_eq!(bulk, 500);
}
