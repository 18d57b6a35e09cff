//! Interop with the OpenTelemetry API's current `Context` (feature
//! `opentelemetry`).
//!
//! With [`crate::Builder::opentelemetry_context`] on, a log call made where
//! no span of this crate is entered, and a span started there, take the
//! trace id, span id and flags of the OpenTelemetry span in
//! `opentelemetry::Context::current()` (a span made with the OpenTelemetry
//! API or through `tracing-opentelemetry`). The cost is a thread-local
//! lookup and a borrow in every such call (measured in the README), which
//! is why it is off by default; calls inside a span of this crate never
//! look.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::TraceContextExt;

use crate::record::TraceContext;

static INTEROP: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_interop(on: bool) {
    INTEROP.store(on, Ordering::Release);
}

#[inline(always)]
pub(crate) fn interop_enabled() -> bool {
    INTEROP.load(Ordering::Relaxed)
}

/// The current OpenTelemetry span's context; all zero when there is none
/// or it is invalid.
#[inline(never)]
pub(crate) fn otel_current() -> TraceContext {
    opentelemetry::Context::map_current(|cx| {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return TraceContext::default();
        }
        TraceContext {
            trace_id: u128::from_be_bytes(sc.trace_id().to_bytes()),
            span_id: u64::from_be_bytes(sc.span_id().to_bytes()),
            parent_span_id: 0,
            trace_flags: sc.trace_flags().to_u8(),
        }
    })
}
