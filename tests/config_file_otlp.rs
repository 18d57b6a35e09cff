//! OTLP export configured by the OpenTelemetry configuration file, end to
//! end: logs over OTLP/HTTP and spans over OTLP/gRPC (one exporter, one
//! protocol and endpoint per signal, from the file's two providers) reach
//! the in-test receiver with the file's resource, headers and sampler.

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;

use std::time::Duration;

use otlp_receiver::{Receiver, Transport, body_of, hex, int_attr, str_attr, wait_log, wait_span};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn the_files_exporters_deliver_logs_and_spans() {
    let rx = Receiver::start();
    let dir = std::env::temp_dir().join(format!("dp-file-otlp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("otel.yaml");
    let text = format!(
        r#"file_format: "1.0"
resource:
  attributes:
    - name: service.name
      value: from-file
    - name: test.shard
      value: 7
      type: int
tracer_provider:
  processors:
    - batch:
        schedule_delay: 100
        exporter:
          otlp_grpc:
            endpoint: {grpc}
            headers:
              - name: x-api-key
                value: traces-key
  sampler:
    always_on:
logger_provider:
  processors:
    - batch:
        schedule_delay: 100
        exporter:
          otlp_http:
            endpoint: {http}/v1/logs
            headers:
              - name: x-api-key
                value: logs-key
"#,
        grpc = rx.grpc_endpoint(),
        http = rx.http_endpoint(),
    );
    std::fs::write(&path, text).unwrap();
    let guard = datapunk_log::builder()
        .null()
        .ignore_env()
        .config_file(&path)
        .init()
        .unwrap_or_else(|e| panic!("init: {e}"));
    let (trace_id, span_id) = {
        let span = datapunk_log::span!("file-configured");
        let _e = span.enter();
        datapunk_log::info!(shard = 7u64, "exported by the file's exporter");
        let c = datapunk_log::current_context();
        (c.trace_id, c.span_id)
    };
    drop(guard);

    let log = wait_log(&rx, "exported by the file's exporter", WAIT);
    assert_eq!(log.transport, Transport::Http);
    assert_eq!(str_attr(&log.resource, "service.name"), "from-file");
    assert_eq!(int_attr(&log.resource, "test.shard"), 7);
    assert_eq!(hex(&log.record.trace_id), format!("{trace_id:032x}"));
    assert_eq!(hex(&log.record.span_id), format!("{span_id:016x}"));
    assert_eq!(body_of(&log), Some("exported by the file's exporter"));

    let span = wait_span(&rx, "file-configured", WAIT);
    assert_eq!(span.transport, Transport::Grpc);
    assert_eq!(hex(&span.span.trace_id), format!("{trace_id:032x}"));
    assert_eq!(str_attr(&span.resource, "service.name"), "from-file");

    let logs_meta = rx.log_request_meta();
    assert!(
        logs_meta
            .iter()
            .all(|m| m.header("x-api-key") == Some("logs-key"))
    );
    let spans_meta = rx.span_request_meta();
    assert!(!spans_meta.is_empty());
    assert!(
        spans_meta
            .iter()
            .all(|m| m.header("x-api-key") == Some("traces-key"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}
