//! OTLP/gRPC to a TLS collector whose certificate the exporter cannot
//! verify (it trusts another CA): the engine starts, logging is not held
//! up, every record still reaches the JSON writer, nothing reaches the
//! collector, the lost exports are counted, and flush and shutdown return
//! within their bounds, without a panic.

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;
#[path = "common/tls_pki.rs"]
mod tls_pki;

use std::time::{Duration, Instant};

use datapunk_log::export::otlp::{OtlpConfig, Protocol, otlp_stats};
use otlp_receiver::{Receiver, TlsOptions};
use tls_pki::Pki;

const RECORDS: u64 = 2_000;

#[test]
fn an_untrusted_collector_costs_exports_only() {
    let pki = Pki::generate("engine-bad-ca");
    let rx = Receiver::start_tls(TlsOptions {
        cert_pem: pki.server_cert_pem.clone(),
        key_pem: pki.server_key_pem.clone(),
        client_ca_pem: None,
    });
    let cfg = OtlpConfig::default()
        .protocol(Protocol::Grpc)
        .endpoint(rx.grpc_endpoint())
        .certificate(&pki.other_ca_path)
        .timeout(Duration::from_millis(500))
        .max_retries(1)
        .export_timeout(Duration::from_secs(1))
        .schedule_delay(Duration::from_millis(100));
    let guard = datapunk_log::builder()
        .null()
        .ignore_env()
        .otlp(cfg)
        .expect("valid OTLP config")
        .service_name("otlp-tls-bad-ca-test")
        .shutdown_timeout(Duration::from_secs(2))
        .init()
        .expect("the engine starts although the collector is untrusted");

    for i in 0..RECORDS {
        datapunk_log::info!(i = i, "untrusted collector");
        if i % 500 == 0 {
            let _span = datapunk_log::span!("bad_ca.span", i = i);
        }
    }
    let t0 = Instant::now();
    let flushed = datapunk_log::flush_timeout(Duration::from_secs(3));
    let flush_took = t0.elapsed();
    assert!(
        flush_took < Duration::from_secs(5),
        "flush_timeout(3 s) took {flush_took:?} (returned {flushed})"
    );

    // The JSON side has everything.
    let s = otlp_receiver::stats_once_written(RECORDS, Duration::from_secs(10));
    assert_eq!(s.dropped, 0, "{s:?}");
    assert!(s.written >= RECORDS, "{s:?}");

    // The export side lost them, and counted them: logs and spans.
    let deadline = Instant::now() + Duration::from_secs(10);
    let lost_logs = || datapunk_log::stats().export_dropped_logs + otlp_stats().logs_failed;
    let lost_spans = || datapunk_log::stats().export_dropped_spans + otlp_stats().spans_failed;
    while (lost_logs() < RECORDS || lost_spans() == 0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = otlp_stats();
    assert_eq!(lost_logs(), RECORDS, "{:?} {o:?}", datapunk_log::stats());
    assert!(lost_spans() > 0, "{:?} {o:?}", datapunk_log::stats());
    assert_eq!(o.logs_exported, 0, "{o:?}");
    assert_eq!(o.spans_exported, 0, "{o:?}");
    assert!(o.export_errors > 0, "{o:?}");
    assert_eq!(rx.log_requests() + rx.span_requests(), 0);

    let t0 = Instant::now();
    drop(guard);
    let shutdown = t0.elapsed();
    assert!(
        shutdown < Duration::from_secs(10),
        "shutdown with a 2 s timeout took {shutdown:?}"
    );
}
