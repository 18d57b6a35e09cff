//! A timeout of `Duration::MAX` means "no limit", never a panic: the
//! guard's shutdown, `flush_timeout`, and the OTLP exporter's request and
//! export timeouts (on the batch-size and the schedule paths) all take it,
//! and every record arrives.
//!
//! One engine for the whole binary (one engine per process).

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;

use std::time::Duration;

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
    // A bounded wait for the receiver's side (the exporter flushed at
    // shutdown).
    assert_eq!(
        otlp_receiver::wait_logs_with_body(&rx, "max-timeout", RECORDS, Duration::from_secs(30)),
        RECORDS
    );
    assert_eq!(
        rx.spans()
            .iter()
            .filter(|s| s.span.name == "max-timeout-span")
            .count(),
        1
    );
}
