//! The collector's partial success is counted on every protocol: the
//! rejected log records or spans count as failed (and the export notice
//! quotes the collector's message), the rest as exported, and the request
//! is not retried. Over gRPC, spans go through `opentelemetry-otlp`, which
//! keeps the partial success to itself: they count as exported whole (the
//! documented limit). A response body over the bound (64 KiB) is neither
//! buffered nor read to its end: the batch fails at once, not retried, and
//! the response counts as discarded. A successful response whose body is
//! not a response message counts as unreadable, its batch as exported.
//!
//! One engine for the whole binary (one engine per process); the other
//! tests drive an `OtlpExporter` directly. A mutex serializes the tests
//! (the OTLP counters are process-wide).

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use datapunk_log::export::otlp::{
    LogEncoder, OtlpConfig, OtlpExporter, OtlpStats, Protocol, otlp_stats,
};
use datapunk_log::export::{Exporter, LogView, SpanView, StatusView};
use datapunk_log::resource::Resource;
use datapunk_log::{Level, MemorySink, TraceContext};
use otlp_receiver::{Answer, Receiver, body_of};

/// Bound of each flush (the exporters' timeouts are shorter).
const WAIT: Duration = Duration::from_secs(20);
/// The bound of a response body, as the library documents it.
const MAX_RESPONSE_BODY: usize = 64 * 1024;
/// What the hostile collector streams.
const HUGE: u64 = 64 * 1024 * 1024;

/// Serializes the tests (the OTLP counters are process-wide).
fn serial() -> MutexGuard<'static, ()> {
    static M: Mutex<()> = Mutex::new(());
    M.lock().unwrap_or_else(|e| e.into_inner())
}

const TRACE: TraceContext = TraceContext {
    trace_id: 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
    span_id: 0x00f0_67aa_0ba9_02b7,
    parent_span_id: 0xb7ad_6b71_6920_3331,
    trace_flags: 1,
};

fn log_view(message: &'static str) -> LogView<'static> {
    LogView {
        time_unix_nano: 1_700_000_000_000_000_001,
        observed_unix_nano: 1_700_000_000_000_000_002,
        level: Level::Info,
        target: "app::partial",
        message,
        trace: TRACE,
        correlation_id: None,
        thread: "main",
        truncated: false,
        adjusted_count: 1,
        replayed: false,
        fields: &[],
    }
}

fn span_view(name: &'static str) -> SpanView<'static> {
    SpanView {
        name,
        target: "app::partial",
        level: Level::Info,
        context: TRACE,
        parent_is_remote: false,
        trace_state: "",
        correlation_id: None,
        start_unix_nano: 1_700_000_000_000_000_003,
        end_unix_nano: 1_700_000_000_000_000_009,
        fields: &[],
        events: &[],
        status: StatusView::Unset,
        thread: "main",
    }
}

fn exporter(endpoint: String, protocol: Protocol, encoder: LogEncoder) -> OtlpExporter {
    let cfg = OtlpConfig::default()
        .protocol(protocol)
        .endpoint(endpoint)
        .timeout(Duration::from_secs(10))
        .export_timeout(Duration::from_secs(15))
        .batch_size(100)
        .log_encoder(encoder);
    let mut exp = OtlpExporter::new(cfg).expect("valid config");
    exp.set_resource(
        &Resource::builder()
            .service_name("partial")
            .build_with(|_| None),
    );
    exp
}

/// `after - before`, field by field.
fn delta(before: &OtlpStats, after: &OtlpStats) -> OtlpStats {
    OtlpStats {
        logs_exported: after.logs_exported - before.logs_exported,
        spans_exported: after.spans_exported - before.spans_exported,
        logs_failed: after.logs_failed - before.logs_failed,
        spans_failed: after.spans_failed - before.spans_failed,
        export_requests: after.export_requests - before.export_requests,
        export_errors: after.export_errors - before.export_errors,
        unreadable_responses: after.unreadable_responses - before.unreadable_responses,
        discarded_responses: after.discarded_responses - before.discarded_responses,
    }
}

/// Exports `messages` as one batch and flushes; what the counters moved.
fn send_logs(exp: &mut OtlpExporter, messages: &[&'static str]) -> OtlpStats {
    let before = otlp_stats();
    for m in messages {
        exp.export_log(&log_view(m));
    }
    exp.flush(Instant::now() + WAIT);
    delta(&before, &otlp_stats())
}

/// Exports spans named `names` as one batch and flushes; what the counters
/// moved.
fn send_spans(exp: &mut OtlpExporter, names: &[&'static str]) -> OtlpStats {
    let before = otlp_stats();
    for n in names {
        exp.export_span(&span_view(n));
    }
    exp.flush(Instant::now() + WAIT);
    delta(&before, &otlp_stats())
}

fn partial(rejected: i64, message: &str) -> Answer {
    Answer::Partial {
        rejected,
        message: message.into(),
    }
}

fn counts(
    logs_exported: u64,
    logs_failed: u64,
    spans_exported: u64,
    spans_failed: u64,
) -> OtlpStats {
    OtlpStats {
        logs_exported,
        spans_exported,
        logs_failed,
        spans_failed,
        export_requests: 1,
        export_errors: 0,
        unreadable_responses: 0,
        discarded_responses: 0,
    }
}

#[test]
fn http_protobuf_counts_partial_success_on_every_path() {
    let _s = serial();
    let rx = Receiver::start();
    // Log records, through the direct encoder and through opentelemetry-otlp.
    for encoder in [LogEncoder::Direct, LogEncoder::Sdk] {
        let mut exp = exporter(rx.http_endpoint(), Protocol::HttpProtobuf, encoder);
        let requests = rx.log_requests();
        rx.answer_with([partial(2, "too old")]);
        let d = send_logs(&mut exp, &["a1", "a2", "a3", "a4", "a5"]);
        assert_eq!(d, counts(3, 2, 0, 0), "{encoder:?}");
        // Taken once: a partial success is not retried.
        assert_eq!(rx.log_requests(), requests + 1, "{encoder:?}");
        assert_eq!(rx.answers_left(), 0);

        // A warning only: all taken.
        rx.answer_with([partial(0, "slow down")]);
        let d = send_logs(&mut exp, &["w1", "w2"]);
        assert_eq!(d, counts(2, 0, 0, 0), "{encoder:?}");

        // More rejected than sent: all of the batch failed, no more.
        rx.answer_with([partial(9, "all bad")]);
        let d = send_logs(&mut exp, &["x1"]);
        assert_eq!(d, counts(0, 1, 0, 0), "{encoder:?}");

        // A body that is not a response: taken, as the 200 says; counted.
        rx.answer_with([Answer::Raw(b"<html>ok</html>".to_vec())]);
        let d = send_logs(&mut exp, &["r1", "r2"]);
        assert_eq!(
            d,
            OtlpStats {
                unreadable_responses: 1,
                ..counts(2, 0, 0, 0)
            },
            "{encoder:?}"
        );
        exp.shutdown(Instant::now() + Duration::from_secs(2));
    }
    let bodies: Vec<_> = rx
        .logs()
        .iter()
        .filter_map(body_of)
        .map(String::from)
        .collect();
    assert_eq!(bodies.len(), 2 * 10, "{bodies:?}");

    // Spans (through opentelemetry-otlp).
    let mut exp = exporter(
        rx.http_endpoint(),
        Protocol::HttpProtobuf,
        LogEncoder::Direct,
    );
    rx.answer_with([partial(1, "bad span")]);
    let d = send_spans(&mut exp, &["s1", "s2", "s3"]);
    assert_eq!(d, counts(0, 0, 2, 1));
    assert_eq!(rx.span_requests(), 1);
    rx.answer_with([Answer::Raw(vec![0xff; 3])]);
    let d = send_spans(&mut exp, &["s4"]);
    assert_eq!(
        d,
        OtlpStats {
            unreadable_responses: 1,
            ..counts(0, 0, 1, 0)
        }
    );
    exp.shutdown(Instant::now() + Duration::from_secs(2));
    assert_eq!(rx.spans().len(), 4);
}

#[test]
fn grpc_counts_the_log_clients_partial_success() {
    let _s = serial();
    let rx = Receiver::start();
    let mut exp = exporter(rx.grpc_endpoint(), Protocol::Grpc, LogEncoder::Direct);
    rx.answer_with([partial(2, "too old")]);
    let d = send_logs(&mut exp, &["g1", "g2", "g3", "g4"]);
    assert_eq!(d, counts(2, 2, 0, 0));
    assert_eq!(rx.log_requests(), 1, "a partial success is not retried");
    rx.answer_with([partial(0, "slow down")]);
    let d = send_logs(&mut exp, &["g5"]);
    assert_eq!(d, counts(1, 0, 0, 0));

    // Spans go through opentelemetry-otlp, whose gRPC client only logs the
    // partial success: the batch counts as exported whole.
    rx.answer_with([partial(1, "bad span")]);
    let d = send_spans(&mut exp, &["gs1", "gs2"]);
    assert_eq!(d, counts(0, 0, 2, 0));
    assert_eq!(rx.answers_left(), 0, "the answer was given");
    assert_eq!(rx.span_requests(), 1);
    exp.shutdown(Instant::now() + Duration::from_secs(2));
}

#[test]
fn grpc_answer_over_the_bound_is_discarded_not_retried() {
    let _s = serial();
    let rx = Receiver::start();
    let mut exp = exporter(rx.grpc_endpoint(), Protocol::Grpc, LogEncoder::Direct);
    // A legitimate answer with a long message fits.
    rx.answer_with([partial(1, &"m".repeat(MAX_RESPONSE_BODY - 64))]);
    let d = send_logs(&mut exp, &["b1", "b2"]);
    assert_eq!(d, counts(1, 1, 0, 0));
    // One over the bound does not.
    rx.answer_with([partial(1, &"m".repeat(1024 * 1024))]);
    let d = send_logs(&mut exp, &["b3", "b4", "b5"]);
    assert_eq!(
        d,
        OtlpStats {
            export_errors: 1,
            discarded_responses: 1,
            ..counts(0, 3, 0, 0)
        }
    );
    assert_eq!(rx.log_requests(), 2, "not retried");
    // The next batch is answered as usual.
    let d = send_logs(&mut exp, &["b6"]);
    assert_eq!(d, counts(1, 0, 0, 0));
    exp.shutdown(Instant::now() + Duration::from_secs(2));
}

// ---------------------------------------------------------------------------
// A hostile collector: a 200 with an endless body
// ---------------------------------------------------------------------------

/// `left` zero bytes, counting how many were read.
struct Zeros {
    left: u64,
    pulled: Arc<AtomicU64>,
}

impl std::io::Read for Zeros {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        buf[..n].fill(0);
        self.left -= n as u64;
        self.pulled.fetch_add(n as u64, Ordering::SeqCst);
        Ok(n)
    }
}

/// Answers every request with a 200 whose body is [`HUGE`] bytes, streamed
/// (chunked, or with its `Content-Length`).
struct Flood {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    /// Body bytes the server produced (read from its source), all
    /// responses together.
    pulled: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    /// Told when the server's thread ends.
    done: std::sync::mpsc::Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl Flood {
    fn start(chunked: bool) -> Flood {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind the flood server");
        let addr = server.server_addr().to_ip().expect("an IP address");
        let requests = Arc::new(AtomicUsize::new(0));
        let pulled = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (rq, pl, st) = (requests.clone(), pulled.clone(), stop.clone());
        let (done_tx, done) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let mut req = match server.recv_timeout(Duration::from_millis(20)) {
                    Ok(Some(req)) => req,
                    Ok(None) => continue,
                    Err(_) => break,
                };
                let mut body = Vec::new();
                let _ = std::io::Read::read_to_end(req.as_reader(), &mut body);
                rq.fetch_add(1, Ordering::SeqCst);
                let content_type = if req
                    .headers()
                    .iter()
                    .any(|h| h.value.as_str().starts_with("application/json"))
                {
                    "application/json"
                } else {
                    "application/x-protobuf"
                };
                let header = tiny_http::Header::from_bytes("Content-Type", content_type)
                    .expect("a valid header");
                let zeros = Zeros {
                    left: HUGE,
                    pulled: pl.clone(),
                };
                let response = tiny_http::Response::new(
                    tiny_http::StatusCode(200),
                    vec![header],
                    zeros,
                    (!chunked).then_some(HUGE as usize),
                    None,
                );
                let response = if chunked {
                    response
                } else {
                    response.with_chunked_threshold(usize::MAX)
                };
                // Fails once the client hangs up.
                let _ = req.respond(response);
            }
            let _ = done_tx.send(());
        });
        Flood {
            addr,
            requests,
            pulled,
            stop,
            done,
            thread: Some(thread),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // A response still being written (a client that neither reads nor
        // hangs up) would hold the thread: then it is left behind, rather
        // than the test hanging.
        match self.done.recv_timeout(Duration::from_secs(5)) {
            Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

#[test]
fn an_endless_http_answer_is_not_buffered() {
    let _s = serial();
    let discarded = |d: OtlpStats| OtlpStats {
        export_errors: 1,
        discarded_responses: 1,
        ..d
    };
    let cases = [
        (Protocol::HttpProtobuf, LogEncoder::Direct, true),
        (Protocol::HttpProtobuf, LogEncoder::Sdk, false),
        (Protocol::HttpJson, LogEncoder::Direct, true),
        (Protocol::HttpJson, LogEncoder::Direct, false),
    ];
    for (protocol, encoder, chunked) in cases {
        let flood = Flood::start(chunked);
        let what = format!("{protocol:?} {encoder:?} chunked={chunked}");
        let mut exp = exporter(flood.endpoint(), protocol, encoder);
        let d = send_logs(&mut exp, &["h1", "h2"]);
        assert_eq!(d, discarded(counts(0, 2, 0, 0)), "{what}");
        // Spans: through opentelemetry-otlp, or the JSON client.
        let d = send_spans(&mut exp, &["hs1", "hs2", "hs3"]);
        assert_eq!(d, discarded(counts(0, 0, 0, 3)), "{what}");
        exp.shutdown(Instant::now() + Duration::from_secs(2));
        // One request per batch, and neither answer read to its end.
        assert_eq!(flood.requests.load(Ordering::SeqCst), 2, "{what}");
        let pulled = flood.pulled.load(Ordering::SeqCst);
        // (What the sockets' buffers hold: a few MiB, not the 128 MiB.)
        assert!(pulled < HUGE, "{what}: {pulled} bytes sent");
    }
}

// ---------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------

#[test]
fn the_engine_counts_rejected_records_and_quotes_the_collector() {
    let _s = serial();
    let rx = Receiver::start();
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
    // The engine's delivered and failed counts are process-wide: the other
    // tests' exporters count there too.
    let before = datapunk_log::stats();
    rx.answer_with([partial(1, "record too old: 2001-01-01")]);
    for i in 0..3u64 {
        datapunk_log::info!(i, "kept or not");
    }
    datapunk_log::flush();
    // The next pass of the writer tells of the failure.
    datapunk_log::flush();
    let s = datapunk_log::stats();
    assert_eq!(s.export_failed_logs - before.export_failed_logs, 1, "{s:?}");
    assert_eq!(
        s.export_delivered_logs - before.export_delivered_logs,
        2,
        "{s:?}"
    );
    assert_eq!(s.exported_logs, 3, "{s:?}");
    assert_eq!(rx.log_requests(), 1);
    let warns: Vec<common::Line> = common::lines_of(&sink)
        .into_iter()
        .filter(|l| l.str("target") == "datapunk_log::export")
        .collect();
    assert_eq!(
        warns.len(),
        1,
        "{:?}",
        warns.iter().map(|l| &l.raw).collect::<Vec<_>>()
    );
    let warn = &warns[0];
    assert_eq!(warn.str("level"), "WARN");
    assert_eq!(warn.str("message"), "export failing");
    assert_eq!(warn.u64("failed_logs"), 1);
    assert_eq!(
        warn.str("error"),
        "the collector rejected 1 of 3 log records (OTLP partial success): record too old: \
         2001-01-01"
    );
}
