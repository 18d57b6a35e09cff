//! OTLP/HTTP export to a collector that answers 503 with `Retry-After: 1`
//! for about 1.5 s, then accepts: what was logged before the switch is
//! delivered after it (the exporter retries, honouring `Retry-After`).

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;

use std::time::{Duration, Instant};

use datapunk_log::export::otlp::{OtlpConfig, Protocol, otlp_stats};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use otlp_receiver::{Mode, Receiver, body_of};

const RECORDS: usize = 20;

#[test]
fn throttled_batches_are_retried_and_delivered_after_the_collector_recovers() {
    let rx = Receiver::start();
    rx.set_mode(Mode::Fail {
        status: 503,
        retry_after_secs: Some(1),
    });
    let failing_since = Instant::now();
    let cfg = OtlpConfig::default()
        .protocol(Protocol::HttpProtobuf)
        .endpoint(rx.http_endpoint())
        .schedule_delay(Duration::from_millis(50))
        // Room for the throttle delays: 1 s asked by the collector, then
        // backoff up to 1.6 s, within a 10 s request budget.
        .timeout(Duration::from_secs(10))
        .export_timeout(Duration::from_secs(10))
        .max_retries(5);
    let guard = datapunk_log::builder()
        .null()
        .ignore_env()
        .otlp(cfg)
        .expect("valid OTLP config")
        .service_name("otlp-retry-test")
        .shutdown_timeout(Duration::from_secs(5))
        .init()
        .expect("init");

    for i in 0..RECORDS {
        datapunk_log::info!(i = i as u64, "retry-me");
    }
    {
        let _span = datapunk_log::span!("retry.span");
    }

    // The batches go out on the schedule delay and are refused.
    let deadline = Instant::now() + Duration::from_secs(5);
    while rx.failed_requests() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        rx.failed_requests() >= 1,
        "no request reached the collector"
    );
    assert!(rx.logs().is_empty(), "nothing is stored while failing");

    // Keep failing for ~1.5 s in all, then recover.
    let fail_for = Duration::from_millis(1500);
    if let Some(left) = fail_for.checked_sub(failing_since.elapsed()) {
        std::thread::sleep(left);
    }
    rx.set_mode(Mode::Ok);
    let failed = rx.failed_requests();

    let logs = rx.wait_for_logs(RECORDS, Duration::from_secs(12));
    let mut seen: Vec<u64> = logs
        .iter()
        .filter(|l| body_of(l) == Some("retry-me"))
        .filter_map(|l| match otlp_receiver::attr(&l.record.attributes, "i") {
            Some(AnyValue::IntValue(n)) => Some(*n as u64),
            _ => None,
        })
        .collect();
    seen.sort_unstable();
    let want: Vec<u64> = (0..RECORDS as u64).collect();
    assert_eq!(
        seen,
        want,
        "every record delivered once after recovery (failed requests: {failed}, {:?})",
        otlp_stats()
    );
    let spans = rx.wait_for_spans(1, Duration::from_secs(12));
    assert!(
        spans.iter().any(|s| s.span.name == "retry.span"),
        "the span is delivered too: {spans:?}"
    );
    assert!(failed >= 1);

    // The exporter counts a batch once the collector's answer is in, a
    // moment after the collector stored it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while otlp_stats().logs_exported < RECORDS as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = otlp_stats();
    assert_eq!(o.logs_failed, 0, "no batch given up: {o:?}");
    assert_eq!(o.logs_exported, RECORDS as u64, "{o:?}");
    let s = datapunk_log::stats();
    assert_eq!(s.export_dropped_logs, 0, "{s:?}");

    let t0 = Instant::now();
    drop(guard);
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
}
