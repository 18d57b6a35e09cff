//! The tower layers (feature `tower`): the server layer continues the
//! caller's trace and opens a span per request that the handler's records
//! carry, across awaits and threads; the client layer sends the current
//! context on, optionally through a client span. Services are called
//! directly (`oneshot`), no network.

mod common;

use std::convert::Infallible;
use std::fmt;

use axum::Router;
use axum::body::Body;
use axum::extract::MatchedPath;
use axum::routing::get;
use common::{Line, SharedEngine, lines_of};
use datapunk_log::Instrument;
use datapunk_log::export::{OwnedSpan, OwnedStatus, OwnedValue};
use datapunk_log::propagation::{self, TraceParent};
use datapunk_log::tower::{PropagateLayer, RequestHead, TraceLayer};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use tower::{Layer, ServiceExt, service_fn};

fn setup() -> &'static SharedEngine {
    common::shared_with_exporter(|b| b.service_name("tower-tests"))
}

fn hex32(v: u128) -> String {
    format!("{v:032x}")
}

fn hex16(v: u64) -> String {
    format!("{v:016x}")
}

/// Flushes, then the one exported span whose `url.path` is `path`.
fn server_span(path: &str) -> OwnedSpan {
    datapunk_log::flush();
    let want = OwnedValue::Str(path.to_owned());
    let mut spans: Vec<_> = setup()
        .exporter
        .spans()
        .into_iter()
        .filter(|s| s.field("url.path") == Some(&want))
        .collect();
    assert_eq!(spans.len(), 1, "one span for {path}: {spans:#?}");
    spans.pop().unwrap()
}

/// Flushes, then the exported spans with a parent span id of `parent`.
fn children_of(parent: u64) -> Vec<OwnedSpan> {
    datapunk_log::flush();
    setup()
        .exporter
        .spans()
        .into_iter()
        .filter(|s| s.context.parent_span_id == parent)
        .collect()
}

/// Flushes, then the JSON lines with this message.
fn lines_with(msg: &str) -> Vec<Line> {
    datapunk_log::flush();
    lines_of(&setup().sink)
        .into_iter()
        .filter(|l| l.message() == msg)
        .collect()
}

fn str_field(span: &OwnedSpan, key: &str) -> String {
    match span.field(key) {
        Some(OwnedValue::Str(s)) => s.clone(),
        other => panic!("{key} is {other:?} in {span:#?}"),
    }
}

fn u64_field(span: &OwnedSpan, key: &str) -> u64 {
    match span.field(key) {
        Some(OwnedValue::U64(v)) => *v,
        other => panic!("{key} is {other:?} in {span:#?}"),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// A handler that logs `msg` and answers `status`.
async fn answer(msg: &'static str, status: StatusCode) -> Result<Response<String>, Infallible> {
    datapunk_log::info!(step = 1u8, "{}", msg);
    let mut res = Response::new(String::new());
    *res.status_mut() = status;
    Ok(res)
}

#[test]
fn the_server_span_continues_the_callers_trace_and_the_handler_logs_under_it() {
    setup();
    let svc = TraceLayer::new().layer(service_fn(|_req: Request<String>| {
        answer("handled under the server span", StatusCode::OK)
    }));
    let req = Request::builder()
        .method(Method::POST)
        .uri("/orders/17?expand=items")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .header("x-correlation-id", "req-tower-1")
        .body(String::new())
        .unwrap();
    let res = runtime().block_on(svc.oneshot(req)).unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        !res.headers().contains_key("x-correlation-id")
            && !res.headers().contains_key("traceresponse"),
        "no response header unless asked"
    );

    let sp = server_span("/orders/17");
    assert_eq!(sp.name, "POST");
    assert_eq!(sp.target, datapunk_log::tower::SERVER_TARGET);
    assert_eq!(sp.context.trace_id, 0x0af7651916cd43dd8448eb211c80319c);
    assert_eq!(sp.context.parent_span_id, 0xb7ad6b7169203331);
    assert_ne!(sp.context.span_id, 0);
    assert_eq!(sp.context.trace_flags & 1, 1, "sampled, as the caller");
    assert!(sp.parent_is_remote);
    assert_eq!(sp.correlation_id.as_deref(), Some("req-tower-1"));
    assert_eq!(str_field(&sp, "http.request.method"), "POST");
    assert_eq!(str_field(&sp, "network.protocol.version"), "1.1");
    assert_eq!(u64_field(&sp, "http.response.status_code"), 200);
    assert_eq!(sp.field("http.route"), None, "no route hook, no route");
    assert_eq!(sp.field("error.type"), None);
    assert_eq!(sp.status, OwnedStatus::Unset);
    assert!(sp.start_unix_nano > 0 && sp.start_unix_nano <= sp.end_unix_nano);

    let lines = lines_with("handled under the server span");
    assert_eq!(lines.len(), 1);
    let l = &lines[0];
    assert_eq!(l.str("trace_id"), hex32(sp.context.trace_id));
    assert_eq!(l.str("span_id"), hex16(sp.context.span_id));
    assert_eq!(l.str("parent_span_id"), "b7ad6b7169203331");
    assert_eq!(l.str("correlation_id"), "req-tower-1");
    assert_eq!(l.u64("step"), 1);
}

#[test]
fn a_request_without_traceparent_starts_a_new_root() {
    setup();
    let svc = TraceLayer::new()
        .generate_correlation_id(true)
        .echo_correlation_id(true)
        .trace_response(true)
        .layer(service_fn(|_req: Request<String>| {
            answer("handled in a new trace", StatusCode::OK)
        }));
    let req = Request::get("/fresh-root").body(String::new()).unwrap();
    let res = runtime().block_on(svc.oneshot(req)).unwrap();

    let sp = server_span("/fresh-root");
    assert_ne!(sp.context.trace_id, 0);
    assert_eq!(sp.context.parent_span_id, 0);
    assert!(!sp.parent_is_remote);
    let corr = sp
        .correlation_id
        .clone()
        .expect("a correlation id made here");
    assert_eq!(corr.len(), 32);
    assert!(corr.bytes().all(|b| b.is_ascii_hexdigit()));

    // Echoed on the response, with the server's span as `traceresponse`.
    assert_eq!(res.headers()["x-correlation-id"], corr.as_str());
    let tr = TraceParent::parse(res.headers()["traceresponse"].to_str().unwrap()).unwrap();
    assert_eq!(tr.trace_id, sp.context.trace_id);
    assert_eq!(tr.span_id, sp.context.span_id);

    let l = &lines_with("handled in a new trace")[0];
    assert_eq!(l.str("trace_id"), hex32(sp.context.trace_id));
    assert_eq!(l.str("correlation_id"), corr);
}

#[test]
fn a_5xx_fails_the_span_and_a_4xx_does_not() {
    setup();
    let svc = TraceLayer::new().layer(service_fn(|req: Request<String>| {
        let status = if req.uri().path() == "/fails-500" {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::NOT_FOUND
        };
        answer("answering with an error status", status)
    }));
    let rt = runtime();
    for path in ["/fails-500", "/missing-404"] {
        let req = Request::get(path).body(String::new()).unwrap();
        rt.block_on(svc.clone().oneshot(req)).unwrap();
    }

    let sp = server_span("/fails-500");
    assert_eq!(u64_field(&sp, "http.response.status_code"), 500);
    assert_eq!(sp.status, OwnedStatus::Error(String::new()));
    assert_eq!(str_field(&sp, "error.type"), "500");

    let sp = server_span("/missing-404");
    assert_eq!(u64_field(&sp, "http.response.status_code"), 404);
    assert_eq!(sp.status, OwnedStatus::Unset, "a 4xx is the client's error");
    assert_eq!(sp.field("error.type"), None);
}

#[derive(Debug)]
struct StoreDown;

impl fmt::Display for StoreDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the store is down")
    }
}

impl std::error::Error for StoreDown {}

#[test]
fn an_error_of_the_inner_service_fails_the_span_and_is_recorded() {
    setup();
    let rt = runtime();
    // A boxed error (tower's BoxError), read through its own `Error` impl.
    let boxed = TraceLayer::new().layer(service_fn(|_req: Request<String>| async {
        Err::<Response<String>, tower::BoxError>(Box::new(StoreDown))
    }));
    let req = Request::get("/err-boxed").body(String::new()).unwrap();
    let err = rt.block_on(boxed.oneshot(req)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the store is down",
        "the error is returned as it is"
    );
    // A plain error type.
    let plain = TraceLayer::new().layer(service_fn(|_req: Request<String>| async {
        Err::<Response<String>, StoreDown>(StoreDown)
    }));
    let req = Request::get("/err-plain").body(String::new()).unwrap();
    rt.block_on(plain.oneshot(req)).unwrap_err();

    for (path, type_name) in [
        ("/err-boxed", "StoreDown"),
        ("/err-plain", "tower_layers::StoreDown"),
    ] {
        let sp = server_span(path);
        assert_eq!(sp.status, OwnedStatus::Error("the store is down".into()));
        assert_eq!(str_field(&sp, "error.type"), type_name);
        assert_eq!(sp.field("http.response.status_code"), None);
        assert_eq!(sp.events.len(), 1, "{sp:#?}");
        let ev = &sp.events[0];
        assert_eq!(ev.name, "exception");
        let attr = |k: &str| match ev.fields.iter().find(|(key, _)| key == k) {
            Some((_, OwnedValue::Str(v))) => v.clone(),
            other => panic!("{k} is {other:?} in {ev:?}"),
        };
        assert_eq!(attr("exception.type"), type_name);
        assert_eq!(attr("exception.message"), "the store is down");
    }
}

#[test]
fn a_non_standard_method_is_named_http() {
    setup();
    let svc = TraceLayer::new().layer(service_fn(|_req: Request<String>| {
        answer("purged", StatusCode::OK)
    }));
    let req = Request::builder()
        .method(Method::from_bytes(b"PURGE").unwrap())
        .uri("/purge-me")
        .body(String::new())
        .unwrap();
    runtime().block_on(svc.oneshot(req)).unwrap();
    let sp = server_span("/purge-me");
    assert_eq!(sp.name, "HTTP");
    assert_eq!(str_field(&sp, "http.request.method"), "_OTHER");
    assert_eq!(str_field(&sp, "http.request.method_original"), "PURGE");
}

#[test]
fn the_handler_logs_under_its_span_across_awaits_on_a_multi_thread_runtime() {
    setup();
    let svc = TraceLayer::new().layer(service_fn(|_req: Request<String>| async {
        for i in 0..8u32 {
            datapunk_log::info!(i, "between awaits");
            tokio::task::yield_now().await;
        }
        Ok::<_, Infallible>(Response::new(String::new()))
    }));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let req = Request::get("/across-awaits")
        .header(
            "traceparent",
            "00-11111111111111111111111111111111-2222222222222222-01",
        )
        .header("x-request-id", "req-awaits")
        .body(String::new())
        .unwrap();
    // Spawned: polled by the runtime's workers, not by this thread.
    let res = rt
        .block_on(async { tokio::spawn(svc.oneshot(req)).await })
        .unwrap()
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Outside the future, this thread is outside any trace.
    assert_eq!(datapunk_log::current_context(), Default::default());

    let sp = server_span("/across-awaits");
    assert_eq!(sp.context.trace_id, 0x11111111111111111111111111111111);
    let lines = lines_with("between awaits");
    assert_eq!(lines.len(), 8);
    for l in &lines {
        assert_eq!(l.str("trace_id"), "11111111111111111111111111111111");
        assert_eq!(l.str("span_id"), hex16(sp.context.span_id));
        assert_eq!(l.str("correlation_id"), "req-awaits");
    }
}

async fn user(axum::extract::Path(id): axum::extract::Path<u32>) -> String {
    datapunk_log::info!(id, "axum handler");
    // Awaits with the span current: the handler stays `Send`.
    tokio::task::yield_now().await;
    format!("user {id}")
}

fn matched_path<'a>(req: &RequestHead<'a>) -> Option<&'a str> {
    req.extensions.get::<MatchedPath>().map(MatchedPath::as_str)
}

#[test]
fn an_axum_router_names_the_span_after_the_matched_route() {
    setup();
    let app: Router = Router::new().route("/users/{id}", get(user)).layer(
        TraceLayer::new().route(|req| req.extensions.get::<MatchedPath>().map(MatchedPath::as_str)),
    );
    let rt = runtime();
    let req = Request::get("/users/42")
        .header(
            "traceparent",
            "00-33333333333333333333333333333333-4444444444444444-01",
        )
        .body(Body::empty())
        .unwrap();
    let res = rt.block_on(app.clone().oneshot(req)).unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // No route matched: axum's fallback, no route, named by the method.
    let req = Request::get("/no-such-route").body(Body::empty()).unwrap();
    let res = rt.block_on(app.oneshot(req)).unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let sp = server_span("/users/42");
    assert_eq!(sp.name, "GET /users/{id}");
    assert_eq!(str_field(&sp, "http.route"), "/users/{id}");
    assert_eq!(u64_field(&sp, "http.response.status_code"), 200);
    assert_eq!(sp.context.trace_id, 0x33333333333333333333333333333333);
    let l = &lines_with("axum handler")[0];
    assert_eq!(l.u64("id"), 42);
    assert_eq!(l.str("span_id"), hex16(sp.context.span_id));

    let sp = server_span("/no-such-route");
    assert_eq!(sp.name, "GET");
    assert_eq!(sp.field("http.route"), None);

    // The hook may also be a named function.
    let _ = TraceLayer::new().route(matched_path);
}

/// The headers a client service received.
fn echo_headers()
-> impl tower::Service<Request<String>, Response = Response<HeaderMap>, Error = Infallible, Future: Send>
+ Clone {
    service_fn(|req: Request<String>| async move {
        let mut res = Response::new(req.headers().clone());
        if req.uri().path() == "/gone" {
            *res.status_mut() = StatusCode::NOT_FOUND;
        }
        Ok::<_, Infallible>(res)
    })
}

fn sent_traceparent(headers: &HeaderMap) -> TraceParent {
    TraceParent::parse(headers["traceparent"].to_str().unwrap()).unwrap()
}

#[test]
fn the_client_layer_sends_the_current_span_and_correlation_id() {
    setup();
    let client = PropagateLayer::new().layer(echo_headers());
    let mut incoming = std::collections::HashMap::new();
    incoming.insert("x-correlation-id".to_string(), "req-client-1".to_string());
    let incoming = propagation::extract(&incoming);
    let span = datapunk_log::span!(parent: &incoming, "calls_out");
    let ctx = span.context();
    let req = Request::get("http://payments.internal/charge")
        .body(String::new())
        .unwrap();
    let sent = runtime()
        .block_on(client.oneshot(req).instrument(span))
        .unwrap()
        .into_body();

    let tp = sent_traceparent(&sent);
    assert_eq!(tp.trace_id, ctx.trace_id);
    assert_eq!(tp.span_id, ctx.span_id, "the current span, no client span");
    assert_eq!(tp.flags, ctx.trace_flags);
    let back = propagation::extract(&sent);
    assert_eq!(back.correlation_id.as_deref(), Some("req-client-1"));
    assert!(children_of(ctx.span_id).is_empty(), "no client span");

    // Outside any span: nothing to send.
    let client = PropagateLayer::new().layer(echo_headers());
    let req = Request::get("http://payments.internal/charge")
        .body(String::new())
        .unwrap();
    let sent = runtime().block_on(client.oneshot(req)).unwrap().into_body();
    assert!(!sent.contains_key("traceparent") && !sent.contains_key("baggage"));
}

#[test]
fn the_client_span_is_a_child_of_the_current_span_and_is_what_is_sent() {
    setup();
    let client = PropagateLayer::new()
        .client_span(true)
        .layer(echo_headers());
    let span = datapunk_log::span!("calls_out_with_a_client_span");
    let ctx = span.context();
    let rt = runtime();
    let (ok, gone) = rt.block_on(
        async {
            let req = Request::get("https://payments.internal/charge")
                .body(String::new())
                .unwrap();
            let ok = client.clone().oneshot(req).await.unwrap().into_body();
            let req = Request::get("http://payments.internal:8080/gone")
                .body(String::new())
                .unwrap();
            let gone = client.oneshot(req).await.unwrap().into_body();
            (ok, gone)
        }
        .instrument(span),
    );

    let mut children = children_of(ctx.span_id);
    children.sort_by_key(|s| s.start_unix_nano);
    assert_eq!(children.len(), 2, "{children:#?}");
    for (c, sent) in children.iter().zip([&ok, &gone]) {
        assert_eq!(c.name, "GET");
        assert_eq!(c.target, datapunk_log::tower::CLIENT_TARGET);
        assert_eq!(c.context.trace_id, ctx.trace_id);
        assert!(!c.parent_is_remote);
        let tp = sent_traceparent(sent);
        assert_eq!(
            (tp.trace_id, tp.span_id),
            (c.context.trace_id, c.context.span_id)
        );
        assert_eq!(str_field(c, "http.request.method"), "GET");
        assert_eq!(str_field(c, "server.address"), "payments.internal");
    }
    assert_eq!(u64_field(&children[0], "server.port"), 443);
    assert_eq!(u64_field(&children[0], "http.response.status_code"), 200);
    assert_eq!(children[0].status, OwnedStatus::Unset);
    assert_eq!(u64_field(&children[1], "server.port"), 8080);
    assert_eq!(u64_field(&children[1], "http.response.status_code"), 404);
    assert_eq!(children[1].status, OwnedStatus::Error(String::new()));
    assert_eq!(str_field(&children[1], "error.type"), "404");
}

#[test]
fn client_and_server_layers_carry_one_trace_across_the_call() {
    setup();
    let server = TraceLayer::new().layer(service_fn(|_req: Request<String>| {
        answer("server side of the call", StatusCode::OK)
    }));
    let client = PropagateLayer::new().client_span(true).layer(server);
    let mut incoming = std::collections::HashMap::new();
    incoming.insert("x-request-id".to_string(), "req-chain".to_string());
    let span = datapunk_log::span!(parent: &propagation::extract(&incoming), "gateway");
    let ctx = span.context();
    let req = Request::get("http://backend.internal/chained")
        .body(String::new())
        .unwrap();
    runtime()
        .block_on(client.oneshot(req).instrument(span))
        .unwrap();

    let server = server_span("/chained");
    let client_spans = children_of(ctx.span_id);
    assert_eq!(client_spans.len(), 1);
    let client = &client_spans[0];
    assert_eq!(server.context.trace_id, ctx.trace_id);
    assert_eq!(server.context.parent_span_id, client.context.span_id);
    assert!(server.parent_is_remote);
    assert_eq!(server.correlation_id.as_deref(), Some("req-chain"));
    let l = &lines_with("server side of the call")[0];
    assert_eq!(l.str("correlation_id"), "req-chain");
    assert_eq!(l.str("span_id"), hex16(server.context.span_id));
}
