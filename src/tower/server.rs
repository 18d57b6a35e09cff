//! The server layer: a span per request, parented on the caller's context.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::header::{HeaderName, HeaderValue};
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::error::record_failure;
use super::headers::Headers;
use super::sites::{self, OTHER};
use super::{RequestHead, RouteFn};
use crate::callsite::Callsite;
use crate::propagation::{self, CORRELATION_ID_HEADER, Propagated};
use crate::span::{Parent, Span, Status};
use crate::value::ValueList;

/// Header of W3C Trace Context level 2 that tells the caller the server's
/// span (`00-{trace id}-{span id}-{flags}`).
const TRACERESPONSE_HEADER: &str = "traceresponse";

/// A `tower` layer for HTTP servers: continues the caller's trace, opens a
/// span per request and instruments the inner service's future (see the
/// [module](super)). All options are off by default.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceLayer {
    route: Option<RouteFn>,
    generate_correlation_id: bool,
    echo_correlation_id: bool,
    trace_response: bool,
}

impl TraceLayer {
    /// The layer with no route hook, no correlation id made here and no
    /// response header.
    pub fn new() -> TraceLayer {
        TraceLayer::default()
    }

    /// How to find a request's route template (`/users/{id}`): the span is
    /// then named `{method} {route}` and has the attribute `http.route`. It
    /// must come from the router (with axum:
    /// `|req| req.extensions.get::<MatchedPath>().map(MatchedPath::as_str)`),
    /// never from the request's path, whose values would make a name each.
    pub fn route(mut self, route: RouteFn) -> TraceLayer {
        self.route = Some(route);
        self
    }

    /// Makes a correlation id (32 hex digits) for a request that came without
    /// one (in baggage `correlation_id`, `x-correlation-id` or
    /// `x-request-id`): turn it on at the edge of the system.
    pub fn generate_correlation_id(mut self, on: bool) -> TraceLayer {
        self.generate_correlation_id = on;
        self
    }

    /// Sets `x-correlation-id` on the response to the request's correlation
    /// id, when it has one (and the span is enabled).
    pub fn echo_correlation_id(mut self, on: bool) -> TraceLayer {
        self.echo_correlation_id = on;
        self
    }

    /// Sets the W3C `traceresponse` header (Trace Context level 2) on the
    /// response: `00-{trace id}-{span id}-{flags}` of the server's span.
    pub fn trace_response(mut self, on: bool) -> TraceLayer {
        self.trace_response = on;
        self
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = TraceService<S>;

    fn layer(&self, inner: S) -> TraceService<S> {
        TraceService {
            inner,
            layer: *self,
        }
    }
}

/// The service of [`TraceLayer`].
#[derive(Debug, Clone)]
pub struct TraceService<S> {
    inner: S,
    layer: TraceLayer,
}

impl<S> TraceService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Starts a span at `cs` with the caller's context as parent; none when the
/// call site is disabled.
#[inline]
fn start<L: ValueList>(cs: &'static Callsite, parent: &Propagated, values: &L) -> Span {
    if cs.is_enabled() {
        Span::start(cs, Parent::Remote(parent), values)
    } else {
        Span::none()
    }
}

impl<S, B, ResBody> Service<Request<B>> for TraceService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Error: fmt::Display + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = TraceFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> TraceFuture<S::Future> {
        let layer = self.layer;
        let mut parent = propagation::extract(&Headers(req.headers()));
        if layer.generate_correlation_id {
            parent.ensure_correlation_id();
        }
        let method = sites::method_index(req.method());
        let method_attr = sites::method_attr(method);
        let path = req.uri().path();
        let version = sites::version_attr(req.version());
        let head = RequestHead::of(&req);
        let route = layer.route.and_then(|f| f(&head));
        let span = match route {
            Some(route) => match sites::route_site(method, route) {
                Some(cs) => start(cs, &parent, &(method_attr, (path, (version, (route, ()))))),
                None => {
                    let s = start(
                        sites::server_site(method),
                        &parent,
                        &(method_attr, (path, (version, ()))),
                    );
                    s.record("http.route", route);
                    s
                }
            },
            None => start(
                sites::server_site(method),
                &parent,
                &(method_attr, (path, (version, ()))),
            ),
        };
        if method == OTHER {
            span.record("http.request.method_original", req.method().as_str());
        }
        let inner = {
            let _e = span.enter();
            self.inner.call(req)
        };
        TraceFuture {
            inner,
            span,
            echo_correlation_id: layer.echo_correlation_id,
            trace_response: layer.trace_response,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`TraceService`]: the inner service's future with the
    /// request's span entered on every poll.
    #[derive(Debug)]
    pub struct TraceFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        echo_correlation_id: bool,
        trace_response: bool,
    }
}

impl<F, ResBody, E> Future for TraceFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    E: fmt::Display + 'static,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut result = {
            let _e = this.span.enter();
            ready!(this.inner.poll(cx))
        };
        // The span ends here, with the response head, not when the future is
        // dropped.
        let span = std::mem::replace(this.span, Span::none());
        match &mut result {
            Ok(res) => {
                let status = res.status();
                span.record("http.response.status_code", &status.as_u16());
                if status.is_server_error() {
                    span.record("error.type", status.as_str());
                    span.set_status(Status::Error(""));
                }
                if *this.echo_correlation_id
                    && let Some(value) = span
                        .correlation_id()
                        .and_then(|id| HeaderValue::from_str(id).ok())
                {
                    res.headers_mut()
                        .insert(HeaderName::from_static(CORRELATION_ID_HEADER), value);
                }
                if *this.trace_response
                    && let Some(value) = span
                        .traceparent()
                        .and_then(|tp| HeaderValue::try_from(tp.to_string()).ok())
                {
                    res.headers_mut()
                        .insert(HeaderName::from_static(TRACERESPONSE_HEADER), value);
                }
            }
            Err(e) => record_failure(&span, e),
        }
        Poll::Ready(result)
    }
}
