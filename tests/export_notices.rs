//! Export failures are not silent: when the collector refuses batches, the
//! JSON output gets a WARN line from `datapunk_log::export` with what failed
//! and why (at most one per 10 s while it goes on), and an INFO line when a
//! batch is delivered again.
//!
//! One engine for the whole binary (one engine per process).

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;

mod common;

use std::time::Duration;

use datapunk_log::MemorySink;
use datapunk_log::export::otlp::{OtlpConfig, Protocol};
use otlp_receiver::{Mode, Receiver};

fn export_lines(sink: &MemorySink) -> Vec<common::Line> {
    common::lines_of(sink)
        .into_iter()
        .filter(|l| l.str("target") == "datapunk_log::export")
        .collect()
}

#[test]
fn failing_and_recovering_export_is_told_in_the_output() {
    let rx = Receiver::start();
    // 400: not retried, so each batch fails at once.
    rx.set_mode(Mode::Fail {
        status: 400,
        retry_after_secs: None,
    });
    let sink = MemorySink::new();
    let cfg = OtlpConfig::default()
        .protocol(Protocol::HttpProtobuf)
        .endpoint(rx.http_endpoint())
        .timeout(Duration::from_secs(5))
        .export_timeout(Duration::from_secs(5));
    let _guard = datapunk_log::builder()
        .memory(&sink)
        .ignore_env()
        .otlp(cfg)
        .expect("valid OTLP config")
        .init()
        .expect("init");
    for i in 0..3u64 {
        datapunk_log::info!(i, "refused");
        // Each flush sends the pending batch (it fails); the next pass of
        // the writer tells of it.
        datapunk_log::flush();
    }
    datapunk_log::flush();
    let lines = export_lines(&sink);
    // One WARN for the run of failures (the interval is 10 s).
    assert_eq!(
        lines.len(),
        1,
        "{:?}",
        lines.iter().map(|l| &l.raw).collect::<Vec<_>>()
    );
    let warn = &lines[0];
    assert_eq!(warn.str("level"), "WARN");
    assert_eq!(warn.str("message"), "export failing");
    assert!(warn.u64("failed_batches") >= 1);
    assert!(warn.u64("failed_logs") >= 1);
    assert_eq!(warn.u64("failed_spans"), 0);
    assert!(!warn.str("error").is_empty());

    rx.set_mode(Mode::Ok);
    datapunk_log::info!("delivered");
    datapunk_log::flush();
    datapunk_log::flush();
    let lines = export_lines(&sink);
    assert_eq!(lines.len(), 2);
    let info = &lines[1];
    assert_eq!(info.str("level"), "INFO");
    assert_eq!(info.str("message"), "export recovered");
    assert!(info.u64("failed_logs_total") >= 3);
    // The counters add up: every record handed to the exporter was either
    // delivered or given up (nothing is held after the flush).
    let s = datapunk_log::stats();
    assert_eq!(s.export_failed_logs, 3, "{s:?}");
    assert_eq!(s.export_delivered_logs, 1, "{s:?}");
    assert_eq!(
        s.exported_logs,
        s.export_delivered_logs + s.export_failed_logs,
        "{s:?}"
    );
}
