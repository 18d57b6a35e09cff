//! Checks the test OTLP receiver itself with real clients.

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otlp_receiver::{Mode, Receiver, Transport, attr, hex};
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic_types::StatusExt;

const WAIT: Duration = Duration::from_secs(3);
const TRACE_ID: [u8; 16] = [
    0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
];
const SPAN_ID: [u8; 8] = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", Value::StringValue(service.into()))],
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "selftest-scope".into(),
        ..Default::default()
    })
}

fn logs_request(body: &str) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource("selftest-svc"),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![LogRecord {
                    time_unix_nano: 1_700_000_000_000_000_000,
                    severity_number: 9,
                    severity_text: "INFO".into(),
                    body: Some(AnyValue {
                        value: Some(Value::StringValue(body.into())),
                    }),
                    attributes: vec![kv("count", Value::IntValue(42))],
                    trace_id: TRACE_ID.to_vec(),
                    span_id: SPAN_ID.to_vec(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn trace_request() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource("selftest-svc"),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans: vec![Span {
                    trace_id: TRACE_ID.to_vec(),
                    span_id: SPAN_ID.to_vec(),
                    name: "op".into(),
                    start_time_unix_nano: 1,
                    end_time_unix_nano: 2,
                    attributes: vec![kv("ok", Value::BoolValue(true))],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn assert_log(log: &otlp_receiver::ReceivedLog, body: &str) {
    let r = &log.record;
    assert_eq!(
        r.body.as_ref().and_then(|b| b.value.as_ref()),
        Some(&Value::StringValue(body.into()))
    );
    assert_eq!(r.severity_number, 9);
    assert_eq!(r.severity_text, "INFO");
    assert_eq!(r.trace_id, TRACE_ID.to_vec());
    assert_eq!(hex(&r.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(hex(&r.span_id), "00f067aa0ba902b7");
    assert_eq!(attr(&r.attributes, "count"), Some(&Value::IntValue(42)));
    assert_eq!(attr(&r.attributes, "missing"), None);
    assert_eq!(
        attr(&log.resource, "service.name"),
        Some(&Value::StringValue("selftest-svc".into()))
    );
    assert_eq!(log.scope_name, "selftest-scope");
}

/// Minimal HTTP/1.1 POST; returns (status, lower-cased headers, body).
fn http_post(
    base: &str,
    path: &str,
    extra_headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-protobuf\r\n\
         content-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in extra_headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();

    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[test]
fn grpc_logs_and_spans_are_stored() {
    let rx = Receiver::start();
    let endpoint = rx.grpc_endpoint();
    rt().block_on(async {
        let mut logs = LogsServiceClient::connect(endpoint.clone())
            .await
            .unwrap()
            .send_compressed(CompressionEncoding::Gzip);
        let mut traces = TraceServiceClient::connect(endpoint).await.unwrap();
        tokio::time::timeout(WAIT, logs.export(logs_request("hello grpc")))
            .await
            .unwrap()
            .unwrap();
        tokio::time::timeout(WAIT, traces.export(trace_request()))
            .await
            .unwrap()
            .unwrap();
    });

    let logs = rx.wait_for_logs(1, WAIT);
    assert_eq!(logs.len(), 1);
    assert_log(&logs[0], "hello grpc");
    assert_eq!(logs[0].transport, Transport::Grpc);
    assert_eq!(rx.log_requests(), 1);
    assert_eq!(
        rx.log_request_meta()[0].header("grpc-encoding"),
        Some("gzip")
    );

    let spans = rx.wait_for_spans(1, WAIT);
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.span.name, "op");
    assert_eq!(span.span.trace_id, TRACE_ID.to_vec());
    assert_eq!(span.span.span_id, SPAN_ID.to_vec());
    assert_eq!(
        attr(&span.span.attributes, "ok"),
        Some(&Value::BoolValue(true))
    );
    assert_eq!(
        attr(&span.resource, "service.name"),
        Some(&Value::StringValue("selftest-svc".into()))
    );
    assert_eq!(span.scope_name, "selftest-scope");
    assert_eq!(rx.span_requests(), 1);
    assert_eq!(rx.failed_requests(), 0);
    rx.stop();
}

#[test]
fn http_gzip_logs_and_plain_traces_are_stored() {
    let rx = Receiver::start();
    let body = gzip(&logs_request("hello http").encode_to_vec());
    let (status, headers, resp) = http_post(
        &rx.http_endpoint(),
        "/v1/logs",
        &[("content-encoding", "gzip")],
        &body,
    );
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/x-protobuf")
    );
    assert!(
        resp.is_empty(),
        "empty ExportLogsServiceResponse encodes to 0 bytes"
    );

    let logs = rx.wait_for_logs(1, WAIT);
    assert_eq!(logs.len(), 1);
    assert_log(&logs[0], "hello http");
    assert_eq!(logs[0].transport, Transport::Http);
    assert_eq!(
        rx.log_request_meta()[0].header("content-encoding"),
        Some("gzip")
    );

    let (status, _, _) = http_post(
        &rx.http_endpoint(),
        "/v1/traces",
        &[],
        &trace_request().encode_to_vec(),
    );
    assert_eq!(status, 200);
    let spans = rx.wait_for_spans(1, WAIT);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].span.name, "op");

    // Garbage and unknown paths are rejected and not stored.
    let (status, _, _) = http_post(&rx.http_endpoint(), "/v1/logs", &[], b"\xff\xff\xff");
    assert_eq!(status, 400);
    let (status, _, _) = http_post(&rx.http_endpoint(), "/v1/metrics", &[], b"");
    assert_eq!(status, 404);
    assert_eq!(rx.log_requests(), 1);
}

#[test]
fn http_fail_mode_answers_503_with_retry_after() {
    let rx = Receiver::start();
    rx.set_mode(Mode::Fail {
        status: 503,
        retry_after_secs: Some(1),
    });
    let (status, headers, _) = http_post(
        &rx.http_endpoint(),
        "/v1/logs",
        &[],
        &logs_request("dropped").encode_to_vec(),
    );
    assert_eq!(status, 503);
    assert_eq!(header(&headers, "retry-after"), Some("1"));
    assert_eq!(rx.failed_requests(), 1);
    assert_eq!(rx.log_requests(), 0);
    assert!(rx.logs().is_empty());

    rx.set_mode(Mode::Ok);
    let (status, _, _) = http_post(
        &rx.http_endpoint(),
        "/v1/logs",
        &[],
        &logs_request("kept").encode_to_vec(),
    );
    assert_eq!(status, 200);
    assert_eq!(rx.wait_for_logs(1, WAIT).len(), 1);
}

#[test]
fn grpc_fail_mode_answers_unavailable() {
    let rx = Receiver::start();
    rx.set_mode(Mode::Fail {
        status: 503,
        retry_after_secs: Some(2),
    });
    let endpoint = rx.grpc_endpoint();
    let (unavailable, exhausted) = rt().block_on(async {
        let mut client = LogsServiceClient::connect(endpoint).await.unwrap();
        let first = tokio::time::timeout(WAIT, client.export(logs_request("x")))
            .await
            .unwrap()
            .unwrap_err();
        rx.set_mode(Mode::Fail {
            status: 429,
            retry_after_secs: None,
        });
        let second = tokio::time::timeout(WAIT, client.export(logs_request("y")))
            .await
            .unwrap()
            .unwrap_err();
        (first, second)
    });
    assert_eq!(unavailable.code(), tonic::Code::Unavailable);
    let retry = unavailable.get_details_retry_info().unwrap();
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(2)));
    assert_eq!(exhausted.code(), tonic::Code::ResourceExhausted);
    assert!(exhausted.get_details_retry_info().is_none());
    assert_eq!(rx.failed_requests(), 2);
    assert_eq!(rx.log_requests(), 0);
}

#[test]
fn delay_mode_delays_then_stores() {
    let rx = Receiver::start();
    rx.set_mode(Mode::Delay(Duration::from_millis(200)));
    let t0 = Instant::now();
    let (status, _, _) = http_post(
        &rx.http_endpoint(),
        "/v1/logs",
        &[],
        &logs_request("slow").encode_to_vec(),
    );
    assert_eq!(status, 200);
    assert!(t0.elapsed() >= Duration::from_millis(200));
    assert_eq!(rx.logs().len(), 1);
}

#[test]
fn wait_is_bounded_and_stop_is_quick() {
    let rx = Receiver::start();
    let t0 = Instant::now();
    assert!(rx.wait_for_logs(1, Duration::from_millis(100)).is_empty());
    assert!(rx.wait_for_spans(1, Duration::from_millis(100)).is_empty());
    assert!(t0.elapsed() < Duration::from_secs(1));

    // An idle keep-alive gRPC connection must not hold up shutdown.
    let r = rt();
    let _client = r.block_on(LogsServiceClient::connect(rx.grpc_endpoint()));
    let t0 = Instant::now();
    let addr = rx.http_addr();
    rx.stop();
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn reserved_port_is_closed() {
    let port = Receiver::reserve_closed_port();
    assert_ne!(port, 0);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}
