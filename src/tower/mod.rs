//! HTTP services (feature `tower`): a [`tower`](https://docs.rs/tower) layer
//! for servers that continues the caller's trace and opens a span per
//! request, and one for clients that sends the current context on.
//!
//! ```
//! # fn main() {
//! use datapunk_log::tower::{PropagateLayer, TraceLayer};
//! use tower::Layer;
//! # let handler = tower::service_fn(|_req: http::Request<()>| async {
//! #     Ok::<_, std::convert::Infallible>(http::Response::new(()))
//! # });
//! # let http_client = handler.clone();
//!
//! // Server: extract `traceparent` / `tracestate` / `baggage` and the
//! // correlation id, one span per request, the handler's future instrumented.
//! let server = TraceLayer::new().layer(handler);
//!
//! // Client: inject the current span's context (here with a client span of
//! // its own per request).
//! let client = PropagateLayer::new().client_span(true).layer(http_client);
//! # let _ = (server, client);
//! # }
//! ```
//!
//! With axum, add the server layer to the router with `Router::layer` (it
//! then runs after routing) and pass axum's `MatchedPath` as the route:
//!
//! ```
//! use axum::{Router, extract::MatchedPath, routing::get};
//! use datapunk_log::tower::TraceLayer;
//!
//! async fn user() -> &'static str {
//!     datapunk_log::info!("loading the user"); // carries the request's trace and correlation id
//!     "alice"
//! }
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(user))
//!     .layer(TraceLayer::new().route(|req| {
//!         req.extensions.get::<MatchedPath>().map(MatchedPath::as_str)
//!     }));
//! ```
//!
//! # The server span
//!
//! [`TraceLayer`] reads the request's headers with
//! [`propagation::extract`](crate::propagation::extract) and starts a span
//! whose parent is the caller's (`Parent::Remote`: the sampler's parent-based
//! rules see a remote parent, and the span carries the correlation id and
//! the tracestate). It is named as OpenTelemetry's HTTP conventions say:
//! `{method} {route}` when a route is known ([`TraceLayer::route`]), else
//! `{method}` (`HTTP` for a method outside the standard ones). Attributes:
//!
//! | attribute | when |
//! | --- | --- |
//! | `http.request.method` | always (`_OTHER` for a non-standard method, whose name is then `http.request.method_original`) |
//! | `url.path` | always |
//! | `network.protocol.version` | always (`1.1`, `2`, …) |
//! | `http.route` | when the route hook gives one |
//! | `http.response.status_code` | when the inner service answered |
//! | `error.type` | a 5xx (the status code) or an `Err` (the error's type) |
//!
//! The span's status is `Error` for a 5xx (without description, as the
//! conventions say) and for an `Err` of the inner service (its `Display` as
//! the description, and an `exception` event). The span is entered while
//! the inner service's `call` runs and on every poll of its future, on
//! whatever thread polls it: records logged by the handler carry its trace
//! id, span id and correlation id. It ends when the response head is ready
//! (the body's streaming is not part of it) or when the future is dropped.
//!
//! A span name is a call site's: the per-method names are static, and each
//! `{method} {route}` name is interned once (a call site kept for the life
//! of the process, found through a per-thread cache without a lock), at most
//! [`MAX_ROUTE_NAMES`]: a route beyond (or longer than [`MAX_ROUTE_LEN`])
//! names its span `{method}`, stays the `http.route` attribute and is
//! counted in [`route_overflows`]. The route must come from the router's
//! table (axum's `MatchedPath`), never from the request's path.
//!
//! Spans are at INFO, target [`SERVER_TARGET`] (and [`CLIENT_TARGET`]): a
//! filter directive that disables it disables the span, and the handler then
//! runs outside any trace (the incoming context is not entered either).
//! The engine has no span kinds: exported spans are of kind internal.
//!
//! # Holding `span.enter()` across `.await`
//!
//! The guard [`Span::enter`](crate::Span::enter) returns is not `Send` (a
//! span is entered and left on one thread), so an `async` block that holds it
//! across an `.await` is not `Send`, and axum refuses such a handler with
//! only "the trait `Handler<_, _>` is not implemented":
//!
//! ```compile_fail
//! fn needs_send<T: Send>(_: T) {}
//! let span = datapunk_log::span!("checkout");
//! needs_send(async move {
//!     let _e = span.enter();
//!     std::future::ready(()).await; // the guard lives across this await
//! });
//! ```
//!
//! Use [`TraceLayer`], or instrument the future:
//!
//! ```
//! use datapunk_log::Instrument;
//! fn needs_send<T: Send>(_: T) {}
//! needs_send(async move {
//!     std::future::ready(()).await;
//! }.instrument(datapunk_log::span!("checkout")));
//! ```

mod client;
mod error;
mod headers;
mod server;
mod sites;

pub use client::{PropagateFuture, PropagateLayer, PropagateService};
pub use server::{TraceFuture, TraceLayer, TraceService};
pub use sites::{CLIENT_TARGET, MAX_ROUTE_LEN, MAX_ROUTE_NAMES, SERVER_TARGET, route_overflows};

/// A request's head, borrowed, for [`TraceLayer::route`]: the hook gets this
/// rather than the request so that it does not depend on the body's type.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RequestHead<'a> {
    /// The method.
    pub method: &'a http::Method,
    /// The request target.
    pub uri: &'a http::Uri,
    /// The HTTP version.
    pub version: http::Version,
    /// The headers.
    pub headers: &'a http::HeaderMap,
    /// The extensions (axum's `MatchedPath` is here after routing).
    pub extensions: &'a http::Extensions,
}

impl<'a> RequestHead<'a> {
    /// The head of `req`.
    pub fn of<B>(req: &'a http::Request<B>) -> RequestHead<'a> {
        RequestHead {
            method: req.method(),
            uri: req.uri(),
            version: req.version(),
            headers: req.headers(),
            extensions: req.extensions(),
        }
    }
}

/// The route hook of [`TraceLayer::route`]: the route template of a request
/// (`/users/{id}`), from the router, when known.
pub type RouteFn = for<'a> fn(&RequestHead<'a>) -> Option<&'a str>;
