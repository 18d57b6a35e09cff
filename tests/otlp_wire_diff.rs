//! The direct OTLP log encoder (`LogEncoder::Direct`) against the SDK path
//! (`LogEncoder::Sdk`): the same records sent both ways must reach the
//! collector as the same `ExportLogsServiceRequest` contents, over gRPC and
//! HTTP, with and without gzip; and the direct clients retry as the SDK
//! ones do (503 with `Retry-After` / `RetryInfo`).

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;

use std::time::{Duration, Instant};

use datapunk_log::export::otlp::{
    Compression, LogEncoder, OtlpConfig, OtlpExporter, Protocol, otlp_stats,
};
use datapunk_log::export::{Exporter, Field, FieldValue, LogView};
use datapunk_log::resource::Resource;
use datapunk_log::{Level, TraceContext};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use otlp_receiver::{Mode, Receiver};
use prost::Message as _;

const WAIT: Duration = Duration::from_secs(10);

const TRACE: TraceContext = TraceContext {
    trace_id: 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
    span_id: 0x00f0_67aa_0ba9_02b7,
    parent_span_id: 0x1111_2222_3333_4444,
    trace_flags: 1,
};

fn f<'a>(key: &'a str, value: FieldValue<'a>) -> Field<'a> {
    Field { key, value }
}

/// Every `FieldValue` variant, with edge values.
fn all_fields() -> Vec<Field<'static>> {
    vec![
        f("none", FieldValue::None),
        f("t", FieldValue::Bool(true)),
        f("f", FieldValue::Bool(false)),
        f("u0", FieldValue::U64(0)),
        f("u", FieldValue::U64(i64::MAX as u64)),
        f("u_big", FieldValue::U64(i64::MAX as u64 + 1)),
        f("u_max", FieldValue::U64(u64::MAX)),
        f("i", FieldValue::I64(-1)),
        f("i_min", FieldValue::I64(i64::MIN)),
        f("u128", FieldValue::U128(u128::MAX)),
        f("i128", FieldValue::I128(i128::MIN)),
        f("i128_small", FieldValue::I128(-5)),
        f("f64", FieldValue::F64(3.25)),
        f("f64_neg0", FieldValue::F64(-0.0)),
        f("f64_inf", FieldValue::F64(f64::INFINITY)),
        f("char", FieldValue::Char('ß')),
        f("char_emoji", FieldValue::Char('🦀')),
        f("s", FieldValue::Str("plain text")),
        f("s_empty", FieldValue::Str("")),
        f("s_uni", FieldValue::Str("žluťoučký kůň 日本語 🎉")),
        f("bytes", FieldValue::Bytes(b"ok\xff\xfe\xe2\x82")),
        f(
            "err",
            FieldValue::Error {
                type_name: "std::io::Error",
                message: "disk full",
                stacktrace: "disk full\ncaused by: quota exceeded",
            },
        ),
        f(
            "err2",
            FieldValue::Error {
                type_name: "Timeout",
                message: "",
                stacktrace: "",
            },
        ),
        f("", FieldValue::Str("empty key")),
        f("dup", FieldValue::I64(1)),
        f("dup", FieldValue::I64(2)),
    ]
}

/// Records over several targets (coming back to earlier ones), levels,
/// with and without trace, correlation id, thread name and adjusted count.
fn with_views(fields: &[Field<'_>], run: impl FnOnce(&[LogView<'_>])) {
    let targets: [&'static str; 4] = ["app::db", "app::http", "", "app::ünïcode"];
    let levels = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
    ];
    let messages = ["", "hello", "multi\nline \"quoted\" 🚀", "x"];
    let mut views = Vec::new();
    for i in 0..40usize {
        let trace = match i % 4 {
            0 => TraceContext::default(),
            1 => TRACE,
            2 => TraceContext {
                trace_flags: 2,
                span_id: 0,
                ..TRACE
            },
            _ => TraceContext {
                trace_flags: 0xff,
                ..TRACE
            },
        };
        views.push(LogView {
            time_unix_nano: if i == 5 {
                0
            } else {
                1_700_000_000_000_000_000 + i as u64
            },
            observed_unix_nano: 1_700_000_000_000_500_000 + i as u64,
            level: levels[i % levels.len()],
            target: targets[(i / 3) % targets.len()],
            message: messages[i % messages.len()],
            trace,
            correlation_id: match i % 3 {
                0 => None,
                1 => Some("req-42"),
                _ => Some(""),
            },
            thread: if i % 5 == 0 { "" } else { "worker-1" },
            truncated: i % 7 == 0,
            // Sampled-down records carry their adjusted count (both paths
            // write it only above 1, and clamp it to i64::MAX).
            adjusted_count: match i % 5 {
                0 => 1,
                1 => 100,
                2 => 0,
                3 => u64::MAX,
                _ => 2,
            },
            replayed: i % 6 == 0,
            fields: &fields[..(i * 3) % (fields.len() + 1)],
        });
    }
    run(&views);
}

fn resource() -> Resource {
    Resource::builder()
        .service_name("diff-svc")
        .service_version("1.2.3")
        .attribute("shard", 7)
        .attribute("canary", true)
        .attribute("ratio", 0.5)
        .attribute("unicode", "ελληνικά")
        .build_with(|_| None)
}

/// What a collector saw, normalised: resource attributes by key (the SDK
/// resource is a hash map), records stably grouped by scope name (the SDK
/// groups scopes through a hash map; within a scope the order is kept).
#[derive(Debug, PartialEq)]
struct Seen {
    resource: Vec<Vec<u8>>,
    records: Vec<(String, Vec<u8>)>,
}

fn seen(receiver: &Receiver, n: usize) -> Seen {
    let logs = receiver.wait_for_logs(n, WAIT);
    let mut resource: Vec<Vec<u8>> = Vec::new();
    let mut records = Vec::new();
    for l in &logs {
        let mut attrs: Vec<&KeyValue> = l.resource.iter().collect();
        attrs.sort_by(|a, b| a.key.cmp(&b.key));
        let enc: Vec<Vec<u8>> = attrs.iter().map(|kv| kv.encode_to_vec()).collect();
        if resource.is_empty() {
            resource = enc;
        } else {
            assert_eq!(resource, enc, "one resource per batch");
        }
        // Compare encodings (floats: NaN-safe, -0.0 kept).
        records.push((l.scope_name.clone(), l.record.encode_to_vec()));
    }
    records.sort_by(|a, b| a.0.cmp(&b.0));
    Seen { resource, records }
}

fn export_all(cfg: OtlpConfig, views: &[LogView<'_>]) {
    let mut exp = match OtlpExporter::new(cfg) {
        Ok(e) => e,
        Err(e) => panic!("config: {e}"),
    };
    exp.set_resource(&resource());
    for v in views {
        exp.export_log(v);
    }
    exp.flush(Instant::now() + WAIT);
    exp.shutdown(Instant::now() + Duration::from_secs(2));
}

fn run_case(protocol: Protocol, compression: Option<Compression>, encoder: LogEncoder) -> Seen {
    let receiver = Receiver::start();
    let endpoint = match protocol {
        Protocol::Grpc => receiver.grpc_endpoint(),
        // HTTP/protobuf: the receiver's HTTP server takes no JSON.
        _ => receiver.http_endpoint(),
    };
    let fields = all_fields();
    let mut n = 0;
    with_views(&fields, |views| {
        n = views.len();
        let cfg = OtlpConfig::default()
            .endpoint(endpoint)
            .protocol(protocol)
            .compression(compression)
            .spans(false)
            // Several batches, one partial.
            .batch_size(16)
            .log_encoder(encoder);
        export_all(cfg, views);
    });
    let s = seen(&receiver, n);
    assert_eq!(s.records.len(), n, "{protocol:?} {encoder:?}: all records");
    s
}

#[test]
fn direct_equals_sdk_grpc() {
    let sdk = run_case(Protocol::Grpc, None, LogEncoder::Sdk);
    let direct = run_case(Protocol::Grpc, None, LogEncoder::Direct);
    assert!(!sdk.resource.is_empty());
    assert_eq!(sdk, direct);
}

#[test]
fn direct_equals_sdk_http() {
    let sdk = run_case(Protocol::HttpProtobuf, None, LogEncoder::Sdk);
    let direct = run_case(Protocol::HttpProtobuf, None, LogEncoder::Direct);
    assert_eq!(sdk, direct);
}

#[test]
fn direct_equals_sdk_gzip_both_transports() {
    let sdk = run_case(Protocol::Grpc, Some(Compression::Gzip), LogEncoder::Sdk);
    let grpc = run_case(Protocol::Grpc, Some(Compression::Gzip), LogEncoder::Direct);
    let http = run_case(
        Protocol::HttpProtobuf,
        Some(Compression::Gzip),
        LogEncoder::Direct,
    );
    assert_eq!(sdk, grpc);
    assert_eq!(sdk, http);
}

#[test]
fn decoded_records_match_the_mapping() {
    // Spot checks on top of the differential tests (which would pass if both
    // paths were wrong the same way).
    let s = run_case(Protocol::Grpc, None, LogEncoder::Direct);
    let records: Vec<LogRecord> = s
        .records
        .iter()
        .filter_map(|(_, b)| LogRecord::decode(&b[..]).ok())
        .collect();
    assert_eq!(records.len(), s.records.len());
    let traced = records.iter().filter(|r| !r.trace_id.is_empty()).count();
    assert_eq!(traced, 30);
    assert!(
        records
            .iter()
            .all(|r| r.trace_id.is_empty() || r.span_id.len() == 8)
    );
    assert!(records.iter().all(|r| r.flags <= 1));
    let scopes: std::collections::BTreeSet<&str> =
        s.records.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        scopes.into_iter().collect::<Vec<_>>(),
        ["", "app::db", "app::http", "app::ünïcode"]
    );
}

#[test]
fn headers_reach_the_collector_both_transports() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let receiver = Receiver::start();
        let endpoint = match protocol {
            Protocol::Grpc => receiver.grpc_endpoint(),
            _ => receiver.http_endpoint(),
        };
        let cfg = OtlpConfig::default()
            .endpoint(endpoint)
            .protocol(protocol)
            .header("x-tenant", "checkout")
            .spans(false)
            .log_encoder(LogEncoder::Direct);
        let fields = all_fields();
        with_views(&fields, |views| export_all(cfg, &views[..3]));
        receiver.wait_for_logs(3, WAIT);
        let meta = receiver.log_request_meta();
        assert_eq!(meta.len(), 1, "{protocol:?}");
        assert_eq!(meta[0].header("x-tenant"), Some("checkout"), "{protocol:?}");
    }
}

/// 503 with a 1 s `Retry-After` (HTTP) / `RetryInfo` (gRPC): the client
/// waits at least that long, then delivers once the collector is back; with
/// the retries spent, the batch is dropped and counted.
fn retry_case(protocol: Protocol) {
    let receiver = Receiver::start();
    let endpoint = match protocol {
        Protocol::Grpc => receiver.grpc_endpoint(),
        // HTTP/protobuf: the receiver's HTTP server takes no JSON.
        _ => receiver.http_endpoint(),
    };
    let fields = all_fields();
    with_views(&fields, |views| {
        let views = &views[..4];
        let cfg = || {
            OtlpConfig::default()
                .endpoint(endpoint.clone())
                .protocol(protocol)
                .spans(false)
                .timeout(Duration::from_secs(8))
                .log_encoder(LogEncoder::Direct)
        };

        // Recovers: fails once (Retry-After 1 s), then the collector is back.
        receiver.set_mode(Mode::Fail {
            status: 503,
            retry_after_secs: Some(1),
        });
        let before = otlp_stats();
        let start = Instant::now();
        let recovering = cfg().max_retries(3);
        std::thread::scope(|s| {
            let export = s.spawn(|| export_all(recovering, views));
            let t = Instant::now();
            while receiver.failed_requests() == 0 && t.elapsed() < WAIT {
                std::thread::sleep(Duration::from_millis(5));
            }
            receiver.set_mode(Mode::Ok);
            assert!(export.join().is_ok());
        });
        let elapsed = start.elapsed();
        assert_eq!(receiver.failed_requests(), 1, "{protocol:?}");
        assert!(
            elapsed >= Duration::from_secs(1),
            "{protocol:?}: {elapsed:?}"
        );
        assert_eq!(receiver.wait_for_logs(4, WAIT).len(), 4, "{protocol:?}");
        let after = otlp_stats();
        assert!(after.logs_exported >= before.logs_exported + 4);

        // Gives up: always 503, one retry allowed.
        receiver.clear();
        receiver.set_mode(Mode::Fail {
            status: 503,
            retry_after_secs: Some(1),
        });
        let before = otlp_stats();
        let start = Instant::now();
        export_all(cfg().max_retries(1), views);
        let elapsed = start.elapsed();
        assert_eq!(receiver.failed_requests(), 2, "{protocol:?}");
        assert!(
            elapsed >= Duration::from_secs(1),
            "{protocol:?}: {elapsed:?}"
        );
        assert!(
            elapsed < Duration::from_secs(6),
            "{protocol:?}: {elapsed:?}"
        );
        let after = otlp_stats();
        assert!(after.logs_failed >= before.logs_failed + 4);
        assert!(after.export_errors > before.export_errors);
        assert_eq!(receiver.log_requests(), 0);

        // Not retried: 400.
        receiver.clear();
        receiver.set_mode(Mode::Fail {
            status: 400,
            retry_after_secs: None,
        });
        export_all(cfg().max_retries(3), views);
        assert_eq!(receiver.failed_requests(), 1, "{protocol:?}");

        // The timeout bounds the retries: Retry-After longer than the timeout.
        receiver.clear();
        receiver.set_mode(Mode::Fail {
            status: 503,
            retry_after_secs: Some(20),
        });
        let start = Instant::now();
        export_all(
            cfg().max_retries(5).timeout(Duration::from_millis(500)),
            views,
        );
        assert!(start.elapsed() < Duration::from_secs(3), "{protocol:?}");
        assert_eq!(receiver.failed_requests(), 1, "{protocol:?}");
    });
}

#[test]
fn retries_grpc() {
    retry_case(Protocol::Grpc);
}

#[test]
fn retries_http() {
    retry_case(Protocol::HttpProtobuf);
}
