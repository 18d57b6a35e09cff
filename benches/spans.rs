//! The cost of spans on the calling thread, beside an OpenTelemetry SDK span.
//!
//! - `span_start_end`: `span!` + drop, recorded (an exporter that takes
//!   spans is installed, so start and end are two records in the ring).
//! - `span_start_enter_end`: the same, entered and left once.
//! - `log_outside_span` / `log_inside_span`: the same 3-field record,
//!   outside any span and inside an entered span (the trace context copied
//!   into the record).
//! - `otel_sdk_span_start_end`: `opentelemetry_sdk` tracer, batch span
//!   processor with an exporter that discards, `start` + `end`.
//!
//! Group `tower`: one `http::Request` built, sent through a service whose
//! future is ready at once (a no-op handler), and its future polled once.
//! - `no_layer`: the service alone (building the request included in all).
//! - `trace_layer`: `datapunk_log::tower::TraceLayer` around it, a request
//!   without propagation headers (a new root span, 3 fields, the status).
//! - `trace_layer_traceparent`: the same with a `traceparent` header (its
//!   extraction, a remote parent).
//! - `tower_http_trace_layer`: the anchor, `tower_http::trace::TraceLayer`
//!   with its span at INFO (fields method, uri, version, through this
//!   crate's `tracing` bridge: a native span) and its default response
//!   event at INFO (status and latency, a log record).
//! - `extract_only`, `extract_only_traceparent`: the request built and
//!   `propagation::extract` on its `HeaderMap`, no service: what a handler
//!   that reads the headers itself pays (the layer reads them through
//!   header names made once, cheaper).
//! - `propagate_layer_in_span`: `PropagateLayer` injecting the current
//!   span's `traceparent` into the request.
//!
//! `DATAPUNK_BENCH_SPAN_LINES=on` runs them with span lines on
//! (`span_fields` and `span_ends`): every recorded span writes its start
//! record at its start (no whole-span record at the end), which is what
//! `span_start_end` and `span_start_enter_end` then pay; the calls inside
//! a span (`log_inside_span`) are unchanged.
//!
//! `DATAPUNK_BENCH_CLOCK=coarse` runs them with the coarse clock,
//! `DATAPUNK_BENCH_OTEL=1` with the OpenTelemetry context lookup on (its
//! cost shows in `log_outside_span`).
//!
//! Setup as `hot_path`: null sink, 64 MiB ring, `Overflow::Drop`; the calls
//! are timed in chunks with `flush()` between them, off the clock, so the
//! ring never fills. The export thread decodes and discards the spans.

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::Criterion;
use datapunk_log::export::{Exporter, SpanView};
use datapunk_log::{ClockSource, Overflow};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};

#[path = "support/chunked.rs"]
mod support;

use support::chunked;

#[path = "support/noop_spans.rs"]
mod noop_spans;

use noop_spans::NoopSpanExporter;

const RING: usize = 64 << 20;

/// Takes spans and drops them (the export thread still decodes them).
struct Discard;

impl Exporter for Discard {
    fn export_span(&mut self, span: &SpanView<'_>) {
        black_box(span.context.span_id);
    }
    fn wants_logs(&self) -> bool {
        false
    }
}

/// Request and response bodies: empty (tower-http's layer asks for
/// `http_body::Body`).
type Body = http_body_util::Empty<bytes::Bytes>;

/// A handler whose future is ready at once.
fn noop_service() -> impl tower::Service<
    http::Request<Body>,
    Response = http::Response<Body>,
    Error = Infallible,
    Future = Ready<Result<http::Response<Body>, Infallible>>,
> + Clone {
    tower::service_fn(|_req: http::Request<Body>| ready(Ok(http::Response::new(Body::new()))))
}

/// Calls `svc` with `req` and polls the future once (it is ready).
#[inline(always)]
fn drive<S, R>(svc: &mut S, req: http::Request<Body>) -> R
where
    S: tower::Service<http::Request<Body>, Response = R>,
    S::Error: std::fmt::Debug,
{
    let fut = pin!(svc.call(req));
    match fut.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(r) => r.expect("ready with a response"),
        Poll::Pending => unreachable!("the no-op service is ready at once"),
    }
}

fn request(traceparent: bool) -> http::Request<Body> {
    let mut b = http::Request::get("/users/42");
    if traceparent {
        b = b.header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        );
    }
    b.body(Body::new()).expect("request")
}

fn tower_group(c: &mut Criterion) {
    use tower::Layer as _;
    let mut g = c.benchmark_group("tower");
    let mut plain = noop_service();
    g.bench_function("no_layer", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                black_box(drive(&mut plain, request(false)));
            })
        })
    });
    let mut ours = datapunk_log::tower::TraceLayer::new().layer(noop_service());
    g.bench_function("trace_layer", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                black_box(drive(&mut ours, request(false)));
            })
        })
    });
    g.bench_function("trace_layer_traceparent", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                black_box(drive(&mut ours, request(true)));
            })
        })
    });
    // Reading the headers by hand (the request built too).
    g.bench_function("extract_only", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                let req = request(false);
                black_box(datapunk_log::propagation::extract(req.headers()));
            })
        })
    });
    g.bench_function("extract_only_traceparent", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                let req = request(true);
                black_box(datapunk_log::propagation::extract(req.headers()));
            })
        })
    });
    use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse};
    let mut anchor = tower_http::trace::TraceLayer::new_for_http()
        .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
        .layer(noop_service());
    g.bench_function("tower_http_trace_layer", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                black_box(drive(&mut anchor, request(false)));
            })
        })
    });
    let mut client = datapunk_log::tower::PropagateLayer::new().layer(noop_service());
    let span = datapunk_log::span!("calls_out");
    g.bench_function("propagate_layer_in_span", |b| {
        b.iter_custom(|iters| {
            let _e = span.enter();
            chunked(iters, |_| {
                black_box(drive(&mut client, request(false)));
            })
        })
    });
    drop(span);
    g.finish();
}

fn main() {
    let _guard = datapunk_log::builder()
        .null()
        .ignore_env()
        .filter("info")
        // DATAPUNK_BENCH_CLOCK=coarse: the writer-published clock (no rdtsc).
        .clock(
            if std::env::var("DATAPUNK_BENCH_CLOCK").as_deref() == Ok("coarse") {
                ClockSource::Coarse
            } else {
                ClockSource::Precise
            },
        )
        .overflow(Overflow::Drop)
        .ring_capacity(RING)
        .exporter(Discard)
        // DATAPUNK_BENCH_OTEL=1: measure the cost of the OpenTelemetry
        // context lookup in calls outside a span.
        .opentelemetry_context(std::env::var_os("DATAPUNK_BENCH_OTEL").is_some())
        .span_fields(std::env::var("DATAPUNK_BENCH_SPAN_LINES").as_deref() == Ok("on"))
        .span_ends(std::env::var("DATAPUNK_BENCH_SPAN_LINES").as_deref() == Ok("on"))
        .panic_hook(false)
        .init()
        .expect("init");
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("spans");
    g.bench_function("span_start_end", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                let s = datapunk_log::span!("checkout");
                black_box(&s);
            })
        })
    });
    g.bench_function("span_start_enter_end", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                let s = datapunk_log::span!("checkout");
                let _e = s.enter();
                black_box(&s);
            })
        })
    });
    g.bench_function("span_start_end_2_fields", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |i| {
                let amount = black_box(12.5f64);
                let s = datapunk_log::span!("charge_card", amount, order = i);
                black_box(&s);
            })
        })
    });
    g.bench_function("log_outside_span", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |i| {
                let (user_id, latency, route) = (black_box(i), black_box(0.5f64), black_box("/a"));
                datapunk_log::info!(user_id, latency, route, "request handled");
            })
        })
    });
    let span = datapunk_log::span!("request");
    g.bench_function("log_inside_span", |b| {
        b.iter_custom(|iters| {
            let _e = span.enter();
            chunked(iters, |i| {
                let (user_id, latency, route) = (black_box(i), black_box(0.5f64), black_box("/a"));
                datapunk_log::info!(user_id, latency, route, "request handled");
            })
        })
    });
    drop(span);

    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(NoopSpanExporter)
        .build();
    let tracer = provider.tracer("bench");
    g.bench_function("otel_sdk_span_start_end", |b| {
        b.iter(|| {
            let mut s = tracer.start("checkout");
            s.end();
        })
    });
    g.finish();
    let _ = provider.shutdown();
    tower_group(&mut c);
    c.final_summary();
}
