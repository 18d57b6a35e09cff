//! With `LogEncoder::Direct`, taking a log record into the OTLP exporter
//! allocates nothing once the batch buffers have grown (the SDK path
//! allocates several times per record, for contrast).

use std::time::{Duration, Instant};

use datapunk_log::export::otlp::{LogEncoder, OtlpConfig, OtlpExporter};
use datapunk_log::export::{Exporter, Field, FieldValue, LogView};
use datapunk_log::resource::Resource;
use datapunk_log::{Level, TraceContext};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

/// Allocations of `n` records taken by an exporter whose buffers have grown
/// (one batch taken and flushed before).
fn per_batch(encoder: LogEncoder, n: usize) -> u64 {
    let fields = [
        Field {
            key: "route",
            value: FieldValue::Str("/api/orders"),
        },
        Field {
            key: "status",
            value: FieldValue::U64(u64::MAX),
        },
        Field {
            key: "id",
            value: FieldValue::U128(u128::MAX),
        },
        Field {
            key: "c",
            value: FieldValue::Char('é'),
        },
        Field {
            key: "raw",
            value: FieldValue::Bytes(b"a\xffb"),
        },
        Field {
            key: "err",
            value: FieldValue::Error {
                type_name: "E",
                message: "m",
                stacktrace: "s",
            },
        },
    ];
    let targets: [&'static str; 2] = ["a", "b"];
    let view = |i: usize| LogView {
        time_unix_nano: 1 + i as u64,
        observed_unix_nano: 2 + i as u64,
        level: Level::Info,
        target: targets[i % 2],
        message: "hello",
        trace: TraceContext {
            trace_id: 7,
            span_id: 8,
            parent_span_id: 0,
            trace_flags: 1,
        },
        correlation_id: Some("req"),
        thread: "main",
        truncated: false,
        adjusted_count: 1,
        replayed: false,
        fields: &fields,
    };
    // Nothing listens there: the flush fails fast (no retries), which is
    // all the warm-up needs.
    let cfg = OtlpConfig::default()
        .endpoint("http://127.0.0.1:9")
        .spans(false)
        .max_retries(0)
        .timeout(Duration::from_millis(200))
        .batch_size(1_000_000)
        .max_queue_size(1_000_000)
        .log_encoder(encoder);
    let Ok(mut exp) = OtlpExporter::new(cfg) else {
        panic!("valid config")
    };
    exp.set_resource(&Resource::builder().service_name("s").build_with(|_| None));
    for i in 0..n {
        exp.export_log(&view(i));
    }
    exp.flush(Instant::now() + Duration::from_secs(2));
    let allocs = allocations(|| {
        for i in 0..n {
            exp.export_log(&view(i));
        }
    });
    exp.shutdown(Instant::now() + Duration::from_secs(1));
    allocs
}

#[test]
fn direct_encoder_takes_records_without_allocating() {
    let n = 2_000;
    let direct = per_batch(LogEncoder::Direct, n);
    let sdk = per_batch(LogEncoder::Sdk, n);
    println!("allocations for {n} records: Direct {direct}, Sdk {sdk}");
    assert_eq!(direct, 0);
    assert!(sdk >= n as u64, "the SDK path allocates per record: {sdk}");
}
