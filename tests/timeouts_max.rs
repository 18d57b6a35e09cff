//! A timeout of `Duration::MAX` means "no limit", never a panic: the
//! guard's shutdown, `flush_timeout`, and the OTLP exporter's request and
//! export timeouts (on the batch-size and the schedule paths) all take it,
//! and every record arrives.
//!
//! One engine for the whole binary (one engine per process).

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;

use std::time::{Duration, Instant};

use datapunk_log::export::otlp::{OtlpConfig, Protocol};
use otlp_receiver::Receiver;

const RECORDS: u64 = 600;

#[test]
fn duration_max_timeouts_mean_no_limit() {
    let rx = Receiver::start();
    let cfg = OtlpConfig::default()
        .protocol(Protocol::HttpProtobuf)
        .endpoint(rx.http_endpoint())
        .timeout(Duration::MAX)
        .export_timeout(Duration::MAX)
        .schedule_delay(Duration::from_millis(20));
    let guard = datapunk_log::builder()
        .null()
        .ignore_env()
        .otlp(cfg)
        .expect("valid OTLP config")
        .shutdown_timeout(Duration::MAX)
        .init()
        .expect("init");
    // More than a batch (the batch-size path), then a span and a last
    // record left for the schedule's tick.
    for i in 0..RECORDS {
        datapunk_log::info!(i, "max-timeout");
    }
    drop(datapunk_log::span!("max-timeout-span"));
    assert!(datapunk_log::flush_timeout(Duration::MAX));
    drop(guard);
    // Bounded wait for the receiver's side (the exporter flushed at shutdown).
    let deadline = Instant::now() + Duration::from_secs(10);
    let count = |rx: &Receiver| {
        rx.logs()
            .iter()
            .filter(|l| otlp_receiver::body_of(l) == Some("max-timeout"))
            .count() as u64
    };
    while count(&rx) < RECORDS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(count(&rx), RECORDS);
    assert_eq!(
        rx.spans()
            .iter()
            .filter(|s| s.span.name == "max-timeout-span")
            .count(),
        1
    );
}
