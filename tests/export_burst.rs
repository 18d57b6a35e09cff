//! A burst against a slow collector: 4 000 spans and 4 000 log records in a
//! quick loop (the writer catching up between them, as it does in a real
//! service), OTLP/gRPC to a receiver that takes 100 ms per request, default
//! settings. The export side's chunks (16 of 256 KiB) hold far more than
//! the burst, so nothing may be dropped at the export queue: a writer pass
//! that finds the pipeline behind keeps filling its open chunk instead of
//! spending a chunk on a few records.
//!
//! One engine for the whole binary (one engine per process).

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;

use std::time::Duration;

use datapunk_log::export::otlp::{OtlpConfig, Protocol};
use otlp_receiver::{Mode, Receiver};

const N: u64 = 4000;

#[test]
fn a_burst_against_a_slow_collector_loses_nothing_at_the_export_queue() {
    let rx = Receiver::start();
    rx.set_mode(Mode::Delay(Duration::from_millis(100)));
    let cfg = OtlpConfig::default()
        .protocol(Protocol::Grpc)
        .endpoint(rx.grpc_endpoint());
    let guard = datapunk_log::builder()
        .null()
        .ignore_env()
        .otlp(cfg)
        .expect("valid OTLP config")
        .shutdown_timeout(Duration::from_secs(60))
        .init()
        .expect("init");
    for i in 0..N {
        let s = datapunk_log::span!("burst-span", i);
        let _e = s.enter();
        datapunk_log::info!(i, "burst");
        // Let the writer catch up, as a service between requests would.
        std::thread::yield_now();
    }
    let s = datapunk_log::stats();
    assert_eq!(s.export_dropped_logs, 0, "{s:?}");
    assert_eq!(s.export_dropped_spans, 0, "{s:?}");
    drop(guard);
    // A bounded wait for the receiver's side (the exporter flushed at
    // shutdown).
    assert_eq!(
        otlp_receiver::wait_logs_with_body(&rx, "burst", N, Duration::from_secs(30)),
        N
    );
    assert_eq!(
        rx.spans()
            .iter()
            .filter(|s| s.span.name == "burst-span")
            .count() as u64,
        N
    );
}
