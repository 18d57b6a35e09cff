//! Throughput of OTLP log export on one thread, `LogEncoder::Direct` against
//! `LogEncoder::Sdk`, to a loopback OTLP/gRPC collector that only counts
//! what it receives (so the collector's decoding is not measured).
//!
//! Prints records/s (not a criterion bench: one long run per encoder):
//!
//! ```text
//! cargo bench --bench otlp_export
//! ```
//!
//! `OTLP_TP_RECORDS` sets the records per run (default 1 000 000 for Direct,
//! a third of that for Sdk), `OTLP_TP_BATCH` the batch size (default 512);
//! `OTLP_TP_SMALL_WINDOW` (set to anything) keeps tonic's default 64 KiB
//! HTTP/2 windows on the collector instead of large ones.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use datapunk_log::export::otlp::{LogEncoder, OtlpConfig, OtlpExporter, otlp_stats};
use datapunk_log::export::{Exporter, Field, FieldValue, LogView};
use datapunk_log::resource::Resource;
use datapunk_log::{Level, TraceContext};
use hyper::body::Buf as _;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Context, Poll, Service, http};

/// Counts requests and bytes; answers an empty `ExportLogsServiceResponse`.
#[derive(Clone, Default)]
struct Sink {
    requests: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

#[derive(Clone, Copy, Default)]
struct SinkCodec;
struct Nothing;
struct Skip;

impl Codec for SinkCodec {
    type Encode = ();
    type Decode = usize;
    type Encoder = Nothing;
    type Decoder = Skip;
    fn encoder(&mut self) -> Nothing {
        Nothing
    }
    fn decoder(&mut self) -> Skip {
        Skip
    }
}

impl Encoder for Nothing {
    type Item = ();
    type Error = tonic::Status;
    fn encode(&mut self, _: (), _: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        Ok(())
    }
}

impl Decoder for Skip {
    type Item = usize;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<usize>, tonic::Status> {
        let n = src.remaining();
        src.advance(n);
        Ok(Some(n))
    }
}

struct Export(Sink);

impl tonic::server::UnaryService<usize> for Export {
    type Response = ();
    type Future = std::future::Ready<Result<tonic::Response<()>, tonic::Status>>;
    fn call(&mut self, req: tonic::Request<usize>) -> Self::Future {
        self.0.requests.fetch_add(1, Ordering::Relaxed);
        self.0
            .bytes
            .fetch_add(*req.get_ref() as u64, Ordering::Relaxed);
        std::future::ready(Ok(tonic::Response::new(())))
    }
}

impl tonic::server::NamedService for Sink {
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
}

impl Service<http::Request<tonic::body::Body>> for Sink {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let sink = self.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(SinkCodec)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(usize::MAX);
            Ok(grpc.unary(Export(sink), req).await)
        })
    }
}

/// Starts the sink on its own thread and runtime; returns its endpoint.
/// `window`: large HTTP/2 flow-control windows instead of tonic's defaults.
fn start_sink(sink: Sink, window: bool) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            let mut server = tonic::transport::Server::builder();
            if window {
                // Large HTTP/2 windows, as the OpenTelemetry Collector's
                // grpc-go server reaches with its BDP estimation; tonic's
                // default 64 KiB windows stall a client on every batch.
                server = server
                    .initial_stream_window_size(Some(16 << 20))
                    .initial_connection_window_size(Some(32 << 20));
            }
            let _ = server.add_service(sink).serve_with_incoming(incoming).await;
        });
    });
    format!("http://{addr}")
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Exports `n` typical records; returns (records/s, records accepted).
fn measure(endpoint: &str, encoder: LogEncoder, n: usize, batch: usize) -> (f64, u64) {
    let fields = [
        Field {
            key: "http.route",
            value: FieldValue::Str("/api/v1/orders/{id}"),
        },
        Field {
            key: "http.status",
            value: FieldValue::U64(200),
        },
        Field {
            key: "latency_ms",
            value: FieldValue::F64(12.5),
        },
        Field {
            key: "cache_hit",
            value: FieldValue::Bool(true),
        },
    ];
    let targets: [&'static str; 3] = ["app::http", "app::db", "app::cache"];
    let cfg = OtlpConfig::default()
        .endpoint(endpoint)
        .spans(false)
        .batch_size(batch)
        .max_queue_size(batch)
        .log_encoder(encoder);
    let mut exp = OtlpExporter::new(cfg).expect("config");
    exp.set_resource(
        &Resource::builder()
            .service_name("throughput")
            .build_with(|_| None),
    );
    let before = otlp_stats();
    let start = Instant::now();
    for i in 0..n {
        let view = LogView {
            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            observed_unix_nano: 1_700_000_000_000_000_100 + i as u64,
            level: Level::Info,
            target: targets[(i / 64) % targets.len()],
            message: "request handled",
            trace: TraceContext {
                trace_id: 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736 ^ i as u128,
                span_id: 0x00f0_67aa_0ba9_02b7,
                parent_span_id: 0,
                trace_flags: 1,
            },
            correlation_id: Some("req-5f2c"),
            thread: "worker-3",
            truncated: false,
            adjusted_count: 1,
            replayed: false,
            fields: &fields,
        };
        exp.export_log(&view);
    }
    exp.flush(Instant::now() + Duration::from_secs(30));
    let elapsed = start.elapsed();
    let after = otlp_stats();
    exp.shutdown(Instant::now() + Duration::from_secs(2));
    (
        n as f64 / elapsed.as_secs_f64(),
        after.logs_exported - before.logs_exported,
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        // `cargo test --benches` / listing: nothing to run quickly.
        return;
    }
    let sink = Sink::default();
    let window = std::env::var("OTLP_TP_SMALL_WINDOW").is_err();
    let endpoint = start_sink(sink.clone(), window);
    let n = env_usize("OTLP_TP_RECORDS").unwrap_or(1_000_000);
    let batch = env_usize("OTLP_TP_BATCH").unwrap_or(512);
    // Warm up the connections and allocator.
    measure(&endpoint, LogEncoder::Direct, 20_000, batch);
    measure(&endpoint, LogEncoder::Sdk, 20_000, batch);
    for round in 0..2 {
        let (direct, ok_d) = measure(&endpoint, LogEncoder::Direct, n, batch);
        let (sdk, ok_s) = measure(&endpoint, LogEncoder::Sdk, (n / 3).max(1), batch);
        println!(
            "round {round}: batch {batch}, large windows {window}: Direct {direct:.0} records/s ({ok_d} accepted), \
             Sdk {sdk:.0} records/s ({ok_s} accepted), ratio {:.2}",
            direct / sdk
        );
    }
    println!(
        "sink: {} requests, {} bytes",
        sink.requests.load(Ordering::Relaxed),
        sink.bytes.load(Ordering::Relaxed)
    );
}
