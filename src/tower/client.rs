//! The client layer: the current context into the outgoing request's
//! headers, optionally through a client span of its own.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response, Uri};
use tower_layer::Layer;
use tower_service::Service;

use super::error::record_failure;
use super::headers::HeadersMut;
use super::sites;
use crate::propagation::{self, Propagated};
use crate::span::{Parent, Span, Status};

/// A `tower` layer for HTTP clients: writes the current span's context
/// (`traceparent`, `tracestate`, the correlation id as baggage, the debug
/// override) into each outgoing request's headers with
/// [`propagation::inject`], replacing any there.
///
/// With [`client_span`](PropagateLayer::client_span), each request gets a
/// span of its own, a child of the current span, named `{method}`, with
/// `http.request.method`, `server.address`, `server.port` and
/// `http.response.status_code`; its status is `Error` for a 4xx or 5xx
/// and for an `Err`. Its context is the one sent, so the server's span is
/// its child.
#[derive(Debug, Clone, Copy, Default)]
pub struct PropagateLayer {
    client_span: bool,
}

impl PropagateLayer {
    /// The layer, injecting the current context without a span of its own.
    pub fn new() -> PropagateLayer {
        PropagateLayer::default()
    }

    /// Opens a client span per request (off by default).
    pub fn client_span(mut self, on: bool) -> PropagateLayer {
        self.client_span = on;
        self
    }
}

impl<S> Layer<S> for PropagateLayer {
    type Service = PropagateService<S>;

    fn layer(&self, inner: S) -> PropagateService<S> {
        PropagateService {
            inner,
            layer: *self,
        }
    }
}

/// The service of [`PropagateLayer`].
#[derive(Debug, Clone)]
pub struct PropagateService<S> {
    inner: S,
    layer: PropagateLayer,
}

impl<S> PropagateService<S> {
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

/// `server.address` and `server.port`: from the URI (the port from the
/// scheme when it has none), else from the `Host` header.
fn server_of<'a>(uri: &'a Uri, headers: &'a http::HeaderMap) -> (Option<&'a str>, Option<u16>) {
    if let Some(host) = uri.host() {
        let port = uri.port_u16().or(match uri.scheme_str() {
            Some("http") => Some(80),
            Some("https") => Some(443),
            _ => None,
        });
        return (Some(host), port);
    }
    let Some(host) = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return (None, None);
    };
    // `host[:port]`, an IPv6 literal in brackets.
    match host.rsplit_once(':') {
        Some((name, port)) if !port.contains(']') => (Some(name), port.parse().ok()),
        _ => (Some(host), None),
    }
}

impl<S, B, ResBody> Service<Request<B>> for PropagateService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Error: fmt::Display + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = PropagateFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> PropagateFuture<S::Future> {
        let span = if self.layer.client_span {
            let method = sites::method_index(req.method());
            let cs = sites::client_site(method);
            if cs.is_enabled() {
                let (address, port) = server_of(req.uri(), req.headers());
                let s = Span::start(
                    cs,
                    Parent::Current,
                    &(sites::method_attr(method), (address, (port, ()))),
                );
                if method == sites::OTHER {
                    s.record("http.request.method_original", req.method().as_str());
                }
                s
            } else {
                Span::none()
            }
        } else {
            Span::none()
        };
        let inner = {
            let _e = span.enter();
            propagation::inject(&Propagated::current(), &mut HeadersMut(req.headers_mut()));
            self.inner.call(req)
        };
        PropagateFuture { inner, span }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`PropagateService`]: the inner service's future, with
    /// the client span (if any) entered on every poll.
    #[derive(Debug)]
    pub struct PropagateFuture<F> {
        #[pin]
        inner: F,
        span: Span,
    }
}

impl<F, ResBody, E> Future for PropagateFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    E: fmt::Display + 'static,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _e = this.span.enter();
            ready!(this.inner.poll(cx))
        };
        if !this.span.is_none() {
            let span = std::mem::replace(this.span, Span::none());
            match &result {
                Ok(res) => {
                    let status = res.status();
                    span.record("http.response.status_code", &status.as_u16());
                    if status.is_client_error() || status.is_server_error() {
                        span.record("error.type", status.as_str());
                        span.set_status(Status::Error(""));
                    }
                }
                Err(e) => record_failure(&span, e),
            }
        }
        Poll::Ready(result)
    }
}
