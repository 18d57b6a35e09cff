//! The application side of the tokio tests: the engine with OTLP export
//! started, used, flushed and shut down from inside `rt`.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use datapunk_log::export::otlp::{OtlpConfig, Protocol};

use super::otlp_receiver::Receiver;

pub fn run_inside(rt: tokio::runtime::Runtime, service: &'static str) {
    let receiver = Receiver::start();
    rt.block_on(async {
        let cfg = OtlpConfig::default()
            .endpoint(receiver.grpc_endpoint())
            .protocol(Protocol::Grpc)
            .schedule_delay(Duration::from_millis(50));
        let guard = datapunk_log::builder()
            .null()
            .ignore_env()
            .service_name(service)
            .otlp(cfg)
            .unwrap()
            .init()
            .unwrap();
        let span = datapunk_log::span!("in_runtime");
        {
            let _e = span.enter();
            datapunk_log::info!(n = 1u8, "inside the application's runtime");
        }
        drop(span);
        tokio::task::yield_now().await;
        assert!(datapunk_log::flush_timeout(Duration::from_secs(10)));
        let t = Instant::now();
        drop(guard);
        assert!(t.elapsed() < Duration::from_secs(10));
    });
    let logs = receiver.wait_for_logs(1, Duration::from_secs(10));
    let spans = receiver.wait_for_spans(1, Duration::from_secs(10));
    assert_eq!(logs.len(), 1);
    assert_eq!(spans.len(), 1);
    assert_eq!(logs[0].record.trace_id, spans[0].span.trace_id);
    assert_eq!(logs[0].record.span_id, spans[0].span.span_id);
}
