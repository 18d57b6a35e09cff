//! OTLP export to a collector that is down (nothing listens on the port):
//! the engine starts, logging is not held up, every record still reaches the
//! JSON writer, the lost exports are counted, and flush and shutdown return
//! within their bounds.

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;

use std::time::{Duration, Instant};

use datapunk_log::export::otlp::{OtlpConfig, Protocol, otlp_stats};
use otlp_receiver::Receiver;

const RECORDS: u64 = 200_000;

#[test]
fn a_collector_that_is_down_costs_exports_only() {
    let port = Receiver::reserve_closed_port();
    let cfg = OtlpConfig::default()
        .protocol(Protocol::Grpc)
        .endpoint(format!("http://127.0.0.1:{port}"))
        .timeout(Duration::from_millis(500))
        .export_timeout(Duration::from_secs(1))
        .schedule_delay(Duration::from_millis(100));
    let guard = datapunk_log::builder()
        .null()
        .ignore_env()
        .otlp(cfg)
        .expect("valid OTLP config")
        .service_name("otlp-down-test")
        .shutdown_timeout(Duration::from_secs(2))
        .init()
        .expect("the engine starts although the collector is down");

    let t0 = Instant::now();
    for i in 0..RECORDS {
        datapunk_log::info!(i = i, "collector down");
        if i % 50_000 == 0 {
            let _span = datapunk_log::span!("down.span", i = i);
        }
    }
    let logging = t0.elapsed();
    // Generous: the JSON writer alone bounds the pace; an exporter waiting on
    // a dead collector must not.
    assert!(
        logging < Duration::from_secs(60),
        "logging {RECORDS} records took {logging:?}"
    );

    let t0 = Instant::now();
    let flushed = datapunk_log::flush_timeout(Duration::from_secs(3));
    let flush_took = t0.elapsed();
    assert!(
        flush_took < Duration::from_secs(5),
        "flush_timeout(3 s) took {flush_took:?} (returned {flushed})"
    );

    // The JSON side has everything, whatever the export side did. The
    // writer's part of the flush comes first, but wait (bounded) in case the
    // flush gave up before it finished.
    let s = otlp_receiver::stats_once_written(RECORDS, Duration::from_secs(10));
    assert_eq!(s.dropped, 0, "Overflow::Block loses nothing: {s:?}");
    // Span records go to the export thread, not to the JSON writer.
    assert_eq!(
        s.produced,
        s.written + s.dropped + s.span_records,
        "every record captured was written or counted: {s:?}"
    );
    assert!(s.written >= RECORDS, "{s:?}");

    // The exports that could not happen are counted somewhere: dropped in
    // front of the export thread, or failed batches.
    let deadline = Instant::now() + Duration::from_secs(10);
    let lost = || datapunk_log::stats().export_dropped_logs + otlp_stats().logs_failed;
    while lost() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = otlp_stats();
    assert!(lost() > 0, "{:?} {o:?}", datapunk_log::stats());
    assert_eq!(o.logs_exported, 0, "{o:?}");
    assert_eq!(o.spans_exported, 0, "{o:?}");
    assert!(o.export_errors > 0, "{o:?}");

    eprintln!("logging {logging:?}, flush {flush_took:?} ({flushed}), {o:?}");
    let t0 = Instant::now();
    drop(guard);
    let shutdown = t0.elapsed();
    eprintln!("shutdown {shutdown:?}");
    assert!(
        shutdown < Duration::from_secs(10),
        "shutdown with a 2 s timeout took {shutdown:?}"
    );
    // Every log record offered to the export side is accounted for: handed
    // to the exporter, dropped in front of the export thread, or still
    // queued when the shutdown timeout gave up on the export thread.
    let s = datapunk_log::stats();
    assert_eq!(
        s.exported_logs + s.export_dropped_logs + s.export_pending_logs,
        s.written,
        "{s:?}"
    );
}
