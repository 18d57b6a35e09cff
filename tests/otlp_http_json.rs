//! OTLP export over HTTP/JSON (`http/json`) to a local HTTP server: log
//! records and spans arrive as OTLP JSON (`Content-Type: application/json`,
//! `/v1/logs` and `/v1/traces`, hex ids, 64-bit integers as strings, enums
//! as integers), gzip-compressed when configured; the collector's
//! `partialSuccess` is counted; a throttled request is retried.
//!
//! One engine for the whole binary (one engine per process), on its own
//! server; the tests that drive an `OtlpExporter` directly have their own
//! servers. A mutex serializes the tests (the OTLP counters are global).

use std::collections::VecDeque;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use datapunk_log::export::otlp::{
    Compression, LogEncoder, OtlpConfig, OtlpExporter, Protocol, otlp_stats,
};
use datapunk_log::export::{EventView, Exporter, Field, FieldValue, LogView, SpanView, StatusView};
use datapunk_log::resource::Resource;
use datapunk_log::{Level, TraceContext};
use serde_json::{Value as J, json};

const SERVICE: &str = "otlp-http-json-test";
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// A collector that stores what it receives and answers as told
// ---------------------------------------------------------------------------

/// One request, as received.
#[derive(Clone, Debug)]
struct Received {
    method: String,
    path: String,
    /// Lower-case names.
    headers: Vec<(String, String)>,
    /// The body, decompressed; parsed.
    json: J,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer: status, JSON body, `Retry-After`.
#[derive(Clone, Debug)]
struct Reply {
    status: u16,
    body: String,
    retry_after: Option<&'static str>,
}

impl Reply {
    fn ok(body: &str) -> Reply {
        Reply {
            status: 200,
            body: body.into(),
            retry_after: None,
        }
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    /// Answers to give first, in order; then `{}`.
    replies: Mutex<VecDeque<Reply>>,
    /// Requests answered, stored or not.
    answered: Mutex<usize>,
}

struct Collector {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Collector {
    fn start() -> Collector {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind the test collector");
        let addr = server.server_addr().to_ip().expect("an IP address");
        let shared = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, st) = (shared.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match server.recv_timeout(Duration::from_millis(20)) {
                    Ok(Some(req)) => serve(&sh, req),
                    Ok(None) => {}
                    Err(_) => break,
                }
            }
        });
        Collector {
            addr,
            shared,
            stop,
            thread: Some(thread),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn reply_with(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.shared.replies).extend(replies);
    }

    fn received(&self) -> Vec<Received> {
        lock(&self.shared.received).clone()
    }

    fn answered(&self) -> usize {
        *lock(&self.shared.answered)
    }

    /// The log records received so far, with their resource and scope.
    fn log_records(&self) -> Vec<(J, J, J)> {
        let mut out = Vec::new();
        for r in self.received().iter().filter(|r| r.path == "/v1/logs") {
            for rl in r.json["resourceLogs"].as_array().into_iter().flatten() {
                for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
                    for rec in sl["logRecords"].as_array().into_iter().flatten() {
                        out.push((rl["resource"].clone(), sl["scope"].clone(), rec.clone()));
                    }
                }
            }
        }
        out
    }

    /// The spans received so far, with their resource and scope.
    fn spans(&self) -> Vec<(J, J, J)> {
        let mut out = Vec::new();
        for r in self.received().iter().filter(|r| r.path == "/v1/traces") {
            for rs in r.json["resourceSpans"].as_array().into_iter().flatten() {
                for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                    for s in ss["spans"].as_array().into_iter().flatten() {
                        out.push((rs["resource"].clone(), ss["scope"].clone(), s.clone()));
                    }
                }
            }
        }
        out
    }

    fn wait_log(&self, body: &str) -> (J, J, J) {
        let deadline = Instant::now() + WAIT;
        loop {
            let found: Vec<_> = self
                .log_records()
                .into_iter()
                .filter(|(_, _, r)| r["body"]["stringValue"] == body)
                .collect();
            assert!(found.len() <= 1, "{} records {body:?}", found.len());
            if let Some(f) = found.into_iter().next() {
                return f;
            }
            assert!(Instant::now() < deadline, "no log record {body:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn wait_span(&self, name: &str) -> (J, J, J) {
        let deadline = Instant::now() + WAIT;
        loop {
            let found: Vec<_> = self
                .spans()
                .into_iter()
                .filter(|(_, _, s)| s["name"] == name)
                .collect();
            assert!(found.len() <= 1, "{} spans {name:?}", found.len());
            if let Some(f) = found.into_iter().next() {
                return f;
            }
            assert!(Instant::now() < deadline, "no span {name:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(shared: &Shared, mut req: tiny_http::Request) {
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let mut raw = Vec::new();
    let read = req.as_reader().read_to_end(&mut raw);
    let gzip = headers
        .iter()
        .any(|(k, v)| k == "content-encoding" && v == "gzip");
    let mut body = Vec::new();
    let decoded = if gzip {
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut body)
            .is_ok()
    } else {
        body = raw;
        true
    };
    let reply = lock(&shared.replies).pop_front().unwrap_or(Reply::ok("{}"));
    *lock(&shared.answered) += 1;
    let json = serde_json::from_slice::<J>(&body);
    if reply.status == 200 && read.is_ok() && decoded {
        // Stored even when it does not parse: the test says so.
        lock(&shared.received).push(Received {
            method: req.method().as_str().to_string(),
            path: req.url().to_string(),
            headers,
            json: json.unwrap_or_else(|e| json!({ "not JSON": e.to_string() })),
        });
    }
    let mut resp = tiny_http::Response::from_data(reply.body.into_bytes())
        .with_status_code(reply.status)
        .with_header(
            tiny_http::Header::from_bytes("Content-Type", "application/json")
                .expect("a valid header"),
        );
    if let Some(secs) = reply.retry_after {
        resp = resp.with_header(
            tiny_http::Header::from_bytes("Retry-After", secs).expect("a valid header"),
        );
    }
    let _ = req.respond(resp);
}

// ---------------------------------------------------------------------------
// The engine, exporting over http/json
// ---------------------------------------------------------------------------

struct Setup {
    collector: Collector,
    _guard: datapunk_log::Guard,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let collector = Collector::start();
        let cfg = OtlpConfig::default()
            .protocol(Protocol::HttpJson)
            .endpoint(collector.endpoint())
            .header("x-api-key", "json-key")
            .timeout(Duration::from_secs(5))
            .export_timeout(Duration::from_secs(5))
            .schedule_delay(Duration::from_millis(100));
        let guard = datapunk_log::builder()
            .null()
            .ignore_env()
            .filter("trace")
            .otlp(cfg)
            .expect("valid OTLP config")
            .service_name(SERVICE)
            .service_version("0.0.1")
            .deployment_environment("test")
            .resource_attribute("test.shard", 3i64)
            .shutdown_timeout(Duration::from_secs(5))
            .init()
            .expect("init");
        Setup {
            collector,
            _guard: guard,
        }
    })
}

/// Serializes the tests (the OTLP counters are process-wide).
fn serial() -> MutexGuard<'static, ()> {
    static M: Mutex<()> = Mutex::new(());
    lock(&M)
}

fn attr<'a>(attrs: &'a J, key: &str) -> &'a J {
    attrs
        .as_array()
        .and_then(|a| a.iter().find(|kv| kv["key"] == key))
        .map_or(&J::Null, |kv| &kv["value"])
}

fn nanos(v: &J) -> u64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a decimal string: {v}"))
}

#[derive(Debug)]
struct Boom;

impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("boom \"quoted\"")
    }
}

impl std::error::Error for Boom {}

#[test]
fn engine_logs_and_spans_arrive_as_otlp_json() {
    let _s = serial();
    let rx = &setup().collector;
    let (ctx, child_ctx);
    {
        let span = datapunk_log::span!("json.request", path = "/orders", n = 7u64);
        ctx = span.context();
        let _e = span.enter();
        datapunk_log::debug!(n = 3u64, ratio = 0.5f64, ok = true, "json: in span");
        let child = datapunk_log::span!("json.child");
        child_ctx = child.context();
        child.in_scope(|| datapunk_log::error!(what = "x\"y\n", "json: in child"));
        child.add_event("checkpoint");
        child.record_error(&Boom);
        child.set_status(datapunk_log::Status::Error("failed \"badly\""));
    }
    datapunk_log::warn!(big = u64::MAX, "json: outside");
    assert!(datapunk_log::flush_timeout(WAIT), "flush");

    let (span_res, span_scope, span) = rx.wait_span("json.request");
    let (_, _, child) = rx.wait_span("json.child");
    assert_eq!(span["traceId"], format!("{:032x}", ctx.trace_id));
    assert_eq!(span["spanId"], format!("{:016x}", ctx.span_id));
    assert_eq!(span.get("parentSpanId"), None);
    assert_eq!(span["kind"], 1, "internal");
    assert_eq!(span["flags"], 0x101);
    assert_eq!(span["status"], json!({}));
    assert_eq!(
        attr(&span["attributes"], "path"),
        &json!({"stringValue": "/orders"})
    );
    assert_eq!(attr(&span["attributes"], "n"), &json!({"intValue": "7"}));
    assert!(nanos(&span["startTimeUnixNano"]) <= nanos(&span["endTimeUnixNano"]));
    assert_eq!(span_scope["name"], module_path!());

    assert_eq!(child["traceId"], span["traceId"]);
    assert_eq!(child["spanId"], format!("{:016x}", child_ctx.span_id));
    assert_eq!(child["parentSpanId"], span["spanId"]);
    assert_eq!(
        child["status"],
        json!({"message": "failed \"badly\"", "code": 2})
    );
    let events = child["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["name"], "checkpoint");
    assert_eq!(events[1]["name"], "exception");
    assert_eq!(
        attr(&events[1]["attributes"], "exception.message"),
        &json!({"stringValue": "boom \"quoted\""})
    );
    assert!(nanos(&events[0]["timeUnixNano"]) > 0);

    let (log_res, log_scope, inside) = rx.wait_log("json: in span");
    assert_eq!(inside["traceId"], span["traceId"]);
    assert_eq!(inside["spanId"], span["spanId"]);
    assert_eq!(inside["flags"], 1);
    assert_eq!(inside["severityNumber"], 5);
    assert_eq!(inside["severityText"], "DEBUG");
    assert_eq!(attr(&inside["attributes"], "n"), &json!({"intValue": "3"}));
    assert_eq!(
        attr(&inside["attributes"], "ratio"),
        &json!({"doubleValue": 0.5})
    );
    assert_eq!(
        attr(&inside["attributes"], "ok"),
        &json!({"boolValue": true})
    );
    assert_eq!(log_scope["name"], module_path!());

    let (_, _, in_child) = rx.wait_log("json: in child");
    assert_eq!(in_child["spanId"], child["spanId"]);
    assert_eq!(in_child["severityNumber"], 17);
    assert_eq!(
        attr(&in_child["attributes"], "what"),
        &json!({"stringValue": "x\"y\n"})
    );

    let (_, _, outside) = rx.wait_log("json: outside");
    assert_eq!(outside.get("traceId"), None);
    assert_eq!(outside.get("spanId"), None);
    assert_eq!(outside.get("flags"), None);
    assert_eq!(outside["severityNumber"], 13);
    assert_eq!(
        attr(&outside["attributes"], "big"),
        &json!({"stringValue": "18446744073709551615"})
    );
    let t = nanos(&outside["timeUnixNano"]);
    assert!(t > 1_600_000_000_000_000_000, "{t}");
    assert!(nanos(&outside["observedTimeUnixNano"]) >= t);

    for res in [&span_res, &log_res] {
        let a = &res["attributes"];
        assert_eq!(attr(a, "service.name"), &json!({"stringValue": SERVICE}));
        assert_eq!(attr(a, "service.version"), &json!({"stringValue": "0.0.1"}));
        assert_eq!(
            attr(a, "deployment.environment.name"),
            &json!({"stringValue": "test"})
        );
        assert_eq!(attr(a, "test.shard"), &json!({"intValue": "3"}));
    }

    let received = rx.received();
    assert!(received.iter().any(|r| r.path == "/v1/logs"));
    assert!(received.iter().any(|r| r.path == "/v1/traces"));
    for r in &received {
        assert_eq!(r.method, "POST");
        assert!(r.path == "/v1/logs" || r.path == "/v1/traces", "{}", r.path);
        assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
        assert_eq!(r.header("x-api-key"), Some("json-key"));
        assert_eq!(r.header("content-encoding"), None);
        assert!(r.json.is_object(), "{}", r.json);
    }
}

// ---------------------------------------------------------------------------
// An exporter driven directly: gzip, partial success, retries
// ---------------------------------------------------------------------------

const TRACE: TraceContext = TraceContext {
    trace_id: 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
    span_id: 0x00f0_67aa_0ba9_02b7,
    parent_span_id: 0xb7ad_6b71_6920_3331,
    trace_flags: 1,
};

fn log_view(message: &'static str, fields: &'static [Field<'static>]) -> LogView<'static> {
    LogView {
        time_unix_nano: 1_700_000_000_000_000_001,
        observed_unix_nano: 1_700_000_000_000_000_002,
        level: Level::Info,
        target: "app::json",
        message,
        trace: TRACE,
        correlation_id: Some("corr-1"),
        thread: "main",
        truncated: false,
        adjusted_count: 1,
        replayed: false,
        fields,
    }
}

static FIELDS: [Field<'static>; 3] = [
    Field {
        key: "u",
        value: FieldValue::U64(42),
    },
    Field {
        key: "nan",
        value: FieldValue::F64(f64::NAN),
    },
    Field {
        key: "s",
        value: FieldValue::Str("\u{0}\u{1f}\"\\"),
    },
];

fn span_view(name: &'static str) -> SpanView<'static> {
    static EVENT_FIELDS: [Field<'static>; 1] = [Field {
        key: "attempt",
        value: FieldValue::I64(2),
    }];
    static EVENTS: [EventView<'static>; 1] = [EventView {
        name: "retry",
        time_unix_nano: 1_700_000_000_000_000_005,
        fields: &EVENT_FIELDS,
    }];
    SpanView {
        name,
        target: "app::json",
        level: Level::Info,
        context: TRACE,
        parent_is_remote: true,
        trace_state: "ot=th:8",
        correlation_id: None,
        start_unix_nano: 1_700_000_000_000_000_003,
        end_unix_nano: 1_700_000_000_000_000_009,
        fields: &FIELDS[..1],
        events: &EVENTS,
        status: StatusView::Ok,
        thread: "main",
    }
}

fn exporter(collector: &Collector, gzip: bool) -> OtlpExporter {
    let cfg = OtlpConfig::default()
        .protocol(Protocol::HttpJson)
        .endpoint(collector.endpoint())
        .compression(gzip.then_some(Compression::Gzip))
        .timeout(Duration::from_secs(5))
        .batch_size(100)
        // Not consulted over http/json.
        .log_encoder(LogEncoder::Sdk);
    let mut exp = OtlpExporter::new(cfg).expect("valid config");
    exp.set_resource(
        &Resource::builder()
            .service_name("direct")
            .build_with(|_| None),
    );
    exp
}

#[test]
fn gzip_bodies_and_the_direct_exporters_mapping() {
    let _s = serial();
    let rx = Collector::start();
    let mut exp = exporter(&rx, true);
    for m in ["g1", "g2", "g3"] {
        exp.export_log(&log_view(m, &FIELDS));
    }
    exp.export_span(&span_view("g.span"));
    exp.flush(Instant::now() + WAIT);
    exp.shutdown(Instant::now() + Duration::from_secs(2));

    let received = rx.received();
    assert_eq!(received.len(), 2, "{received:?}");
    for r in &received {
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("content-encoding"), Some("gzip"));
    }
    let (res, scope, g1) = rx.wait_log("g1");
    assert_eq!(
        attr(&res["attributes"], "service.name"),
        &json!({"stringValue": "direct"})
    );
    assert_eq!(scope, json!({"name": "app::json"}));
    assert_eq!(g1["timeUnixNano"], "1700000000000000001");
    assert_eq!(g1["observedTimeUnixNano"], "1700000000000000002");
    assert_eq!(g1["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(g1["spanId"], "00f067aa0ba902b7");
    assert_eq!(g1["severityNumber"], 9);
    assert_eq!(attr(&g1["attributes"], "u"), &json!({"intValue": "42"}));
    assert_eq!(
        attr(&g1["attributes"], "nan"),
        &json!({"doubleValue": "NaN"})
    );
    assert_eq!(
        attr(&g1["attributes"], "s"),
        &json!({"stringValue": "\u{0}\u{1f}\"\\"})
    );
    assert_eq!(
        attr(&g1["attributes"], "correlation_id"),
        &json!({"stringValue": "corr-1"})
    );
    // One request, one scope, three records in order.
    let logs = rx.log_records();
    let bodies: Vec<&J> = logs
        .iter()
        .map(|(_, _, r)| &r["body"]["stringValue"])
        .collect();
    assert_eq!(bodies, ["g1", "g2", "g3"]);

    let (_, scope, s) = rx.wait_span("g.span");
    assert_eq!(scope["name"], "app::json");
    assert_eq!(s["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(s["spanId"], "00f067aa0ba902b7");
    assert_eq!(s["parentSpanId"], "b7ad6b7169203331");
    assert_eq!(s["traceState"], "ot=th:8");
    assert_eq!(s["flags"], 0x301);
    assert_eq!(s["kind"], 1);
    assert_eq!(s["startTimeUnixNano"], "1700000000000000003");
    assert_eq!(s["endTimeUnixNano"], "1700000000000000009");
    assert_eq!(s["status"], json!({"code": 1}));
    assert_eq!(
        s["events"],
        json!([{
            "timeUnixNano": "1700000000000000005",
            "name": "retry",
            "attributes": [{"key": "attempt", "value": {"intValue": "2"}}],
        }])
    );
    assert_eq!(attr(&s["attributes"], "u"), &json!({"intValue": "42"}));
    assert_eq!(
        attr(&s["attributes"], "thread.name"),
        &json!({"stringValue": "main"})
    );
}

#[test]
fn partial_success_counts_the_rejected_items() {
    let _s = serial();
    let rx = Collector::start();
    rx.reply_with([
        Reply::ok(r#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"too old"}}"#),
        Reply::ok(r#"{"partialSuccess":{"rejectedSpans":1,"errorMessage":"bad span"}}"#),
        // A warning only: nothing rejected.
        Reply::ok(r#"{"partialSuccess":{"errorMessage":"slow down"}}"#),
        // Not JSON: the 200 says it was taken.
        Reply::ok("not json"),
    ]);
    let mut exp = exporter(&rx, false);
    let before = otlp_stats();
    for m in ["p1", "p2", "p3", "p4", "p5"] {
        exp.export_log(&log_view(m, &[]));
    }
    exp.flush(Instant::now() + WAIT);
    let after_logs = otlp_stats();
    // (Exact for failures; the engine of the other test, when it runs,
    // may export its own records meanwhile, never a failure.)
    assert_eq!(after_logs.logs_failed - before.logs_failed, 2);
    assert!(after_logs.logs_exported - before.logs_exported >= 3);

    exp.export_span(&span_view("p.a"));
    exp.export_span(&span_view("p.b"));
    exp.export_span(&span_view("p.c"));
    exp.flush(Instant::now() + WAIT);
    let after_spans = otlp_stats();
    assert_eq!(after_spans.spans_failed - before.spans_failed, 1);
    assert_eq!(after_spans.spans_exported - before.spans_exported, 2);

    // A warning, then an unreadable body: all taken.
    exp.export_log(&log_view("p6", &[]));
    exp.flush(Instant::now() + WAIT);
    exp.export_log(&log_view("p7", &[]));
    exp.flush(Instant::now() + WAIT);
    exp.shutdown(Instant::now() + Duration::from_secs(2));
    let end = otlp_stats();
    assert_eq!(end.logs_failed - before.logs_failed, 2);
    assert!(end.logs_exported - before.logs_exported >= 5);
    // Partial successes are not retried: one request per batch.
    assert_eq!(rx.answered(), 4);
    assert_eq!(end.export_errors, before.export_errors);
}

#[test]
fn throttled_requests_are_retried() {
    let _s = serial();
    let rx = Collector::start();
    rx.reply_with([
        Reply {
            status: 503,
            body: "{}".into(),
            retry_after: Some("0"),
        },
        Reply {
            status: 429,
            body: "{}".into(),
            retry_after: None,
        },
    ]);
    let mut exp = exporter(&rx, false);
    let before = otlp_stats();
    exp.export_log(&log_view("r1", &[]));
    exp.flush(Instant::now() + WAIT);
    let after = otlp_stats();
    assert_eq!(rx.answered(), 3, "two refusals, then the request taken");
    assert!(after.logs_exported > before.logs_exported);
    assert_eq!(after.logs_failed, before.logs_failed);
    rx.wait_log("r1");

    // 400 is not retried: the batch is dropped and counted.
    rx.reply_with([Reply {
        status: 400,
        body: "{}".into(),
        retry_after: None,
    }]);
    exp.export_span(&span_view("r.span"));
    exp.flush(Instant::now() + WAIT);
    exp.shutdown(Instant::now() + Duration::from_secs(2));
    let end = otlp_stats();
    assert_eq!(rx.answered(), 4);
    assert_eq!(end.spans_failed - after.spans_failed, 1);
    assert!(end.export_errors > after.export_errors);
}
