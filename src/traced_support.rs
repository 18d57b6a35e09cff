//! Runtime support for `#[traced]` (the `datapunk-log-macros` crate).
//! Reached through `__private::traced`; nothing here is a stable API.
//!
//! Two families of traits pick, at the call site and by type, how an
//! argument is recorded and what a returned value means for the span. Each
//! family uses autoref specialization: the generated code calls a method on
//! several references to a wrapper, and the impl on the most references whose
//! bounds hold wins. In a generic function only the declared bounds are
//! known, so a `T: Debug` argument is recorded with `Debug`.

use std::any::Any;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::record::RecordBuf;
use crate::span::{Span, Status};
use crate::value::{DebugValue, DisplayValue, Value};

/// The mask `redact(...)` arguments are recorded as.
pub use crate::secret::MASK;

// ---------------------------------------------------------------------------
// Arguments: `(&&&&Arg(&x)).__dp_arg()`.

/// An argument of a traced function, by reference.
pub struct Arg<'a, T: ?Sized>(pub &'a T);

/// Records nothing (`null`): an argument with no `Value`, `Debug` or
/// `Display` impl.
#[derive(Clone, Copy)]
pub struct Unrecorded;

impl Value for Unrecorded {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.none()
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        Some(1)
    }
}

/// First choice: the argument's own [`Value`] impl (typed).
pub trait ArgValue<'a, T: ?Sized> {
    /// The value to record.
    fn __dp_arg(&self) -> &'a T;
}
impl<'a, T: Value + ?Sized> ArgValue<'a, T> for &&&Arg<'a, T> {
    #[inline(always)]
    fn __dp_arg(&self) -> &'a T {
        self.0
    }
}

/// Second choice: `Debug`.
pub trait ArgDebug<'a, T: ?Sized> {
    /// The value to record.
    fn __dp_arg(&self) -> DebugValue<&'a T>;
}
impl<'a, T: fmt::Debug + ?Sized> ArgDebug<'a, T> for &&Arg<'a, T> {
    #[inline(always)]
    fn __dp_arg(&self) -> DebugValue<&'a T> {
        DebugValue(self.0)
    }
}

/// Third choice: `Display`.
pub trait ArgDisplay<'a, T: ?Sized> {
    /// The value to record.
    fn __dp_arg(&self) -> DisplayValue<&'a T>;
}
impl<'a, T: fmt::Display + ?Sized> ArgDisplay<'a, T> for &Arg<'a, T> {
    #[inline(always)]
    fn __dp_arg(&self) -> DisplayValue<&'a T> {
        DisplayValue(self.0)
    }
}

/// Last: nothing to format with; recorded as `null`.
pub trait ArgOther {
    /// The value to record.
    fn __dp_arg(&self) -> Unrecorded;
}
impl<T: ?Sized> ArgOther for Arg<'_, T> {
    #[inline(always)]
    fn __dp_arg(&self) -> Unrecorded {
        Unrecorded
    }
}

// ---------------------------------------------------------------------------
// Returned values: `(&&&&&&Ret(&r)).__dp_ret(&span)`.

/// A traced function's returned value, by reference.
pub struct Ret<'a, T: ?Sized>(pub &'a T);

/// An error known only by its message (a panic, or an `Err` whose type is
/// only `Display`): recorded as an `exception` event.
pub struct MessageError {
    type_name: &'static str,
    message: String,
}

impl fmt::Debug for MessageError {
    // `Value for dyn Error` takes the type name from the leading identifier
    // of the Debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name)
    }
}
impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl Error for MessageError {}

#[cold]
#[inline(never)]
fn fail_with_error(span: &Span, e: &(dyn Error + 'static)) {
    if span.is_none() {
        return;
    }
    span.set_status(Status::Error(&e.to_string()));
    span.record_error(e);
}

#[cold]
#[inline(never)]
fn fail_with_message(span: &Span, type_name: &'static str, message: String) {
    if span.is_none() {
        return;
    }
    span.set_status(Status::Error(&message));
    span.record_error(&MessageError { type_name, message });
}

/// `Err(e)` with `E: Error + 'static`: status and `exception` event.
pub trait RetError {
    /// Marks the span failed when the value is an error.
    fn __dp_ret(&self, span: &Span);
}
impl<T, E: Error + 'static> RetError for &&&&&Ret<'_, Result<T, E>> {
    #[inline(always)]
    fn __dp_ret(&self, span: &Span) {
        if let Err(e) = self.0 {
            fail_with_error(span, e);
        }
    }
}

/// `Err(e)` where `e` derefs to `dyn Error + Send + Sync` (`Box<dyn Error +
/// Send + Sync>`, `anyhow::Error`).
pub trait RetDynErrorSendSync {
    /// Marks the span failed when the value is an error.
    fn __dp_ret(&self, span: &Span);
}
impl<T, E> RetDynErrorSendSync for &&&&Ret<'_, Result<T, E>>
where
    E: Deref<Target = dyn Error + Send + Sync + 'static>,
{
    #[inline(always)]
    fn __dp_ret(&self, span: &Span) {
        if let Err(e) = self.0 {
            fail_with_error(span, &**e);
        }
    }
}

/// `Err(e)` where `e` derefs to `dyn Error` (`Box<dyn Error>`).
pub trait RetDynError {
    /// Marks the span failed when the value is an error.
    fn __dp_ret(&self, span: &Span);
}
impl<T, E> RetDynError for &&&Ret<'_, Result<T, E>>
where
    E: Deref<Target = dyn Error + 'static>,
{
    #[inline(always)]
    fn __dp_ret(&self, span: &Span) {
        if let Err(e) = self.0 {
            fail_with_error(span, &**e);
        }
    }
}

/// `Err(e)` with `E: Display` only: status and an `exception` event with
/// the message (type name from `std::any::type_name`).
pub trait RetDisplay {
    /// Marks the span failed when the value is an error.
    fn __dp_ret(&self, span: &Span);
}
impl<T, E: fmt::Display> RetDisplay for &&Ret<'_, Result<T, E>> {
    #[inline(always)]
    fn __dp_ret(&self, span: &Span) {
        if let Err(e) = self.0 {
            fail_with_message(span, std::any::type_name::<E>(), e.to_string());
        }
    }
}

/// `Err(e)` with `E: Debug` only: the same with the Debug text.
pub trait RetDebug {
    /// Marks the span failed when the value is an error.
    fn __dp_ret(&self, span: &Span);
}
impl<T, E: fmt::Debug> RetDebug for &Ret<'_, Result<T, E>> {
    #[inline(always)]
    fn __dp_ret(&self, span: &Span) {
        if let Err(e) = self.0 {
            fail_with_message(span, std::any::type_name::<E>(), format!("{e:?}"));
        }
    }
}

/// Anything else (`Ok` types, non-`Result` returns): nothing.
pub trait RetOther {
    /// Does nothing.
    fn __dp_ret(&self, span: &Span);
}
impl<T: ?Sized> RetOther for Ret<'_, T> {
    #[inline(always)]
    fn __dp_ret(&self, _: &Span) {}
}

// ---------------------------------------------------------------------------
// Panics.

/// The message of a panic payload (`&str` or `String`), if it has one.
pub fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

/// Marks the span failed by a panic: status `panic: <message>` and an
/// `exception` event (type `panic`).
#[cold]
#[inline(never)]
pub fn record_panic(span: &Span, payload: &(dyn Any + Send)) {
    if span.is_none() {
        return;
    }
    let message = panic_message(payload);
    let status = format!("panic: {message}");
    span.set_status(Status::Error(&status));
    span.record_error(&MessageError {
        type_name: "panic",
        message: message.to_owned(),
    });
}

/// Runs the body of a traced sync function with `span` entered. A panic
/// marks the span failed and continues unwinding.
///
/// Taking `f` as `impl FnOnce` makes the generated closure `FnOnce`, so a
/// body may return references into what it captured (`&mut self`).
#[inline(always)]
pub fn call<R>(span: &Span, f: impl FnOnce() -> R) -> R {
    let entered = span.enter();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            drop(entered);
            record_panic(span, &*payload);
            resume_unwind(payload)
        }
    }
}

pin_project_lite::pin_project! {
    /// The body of a traced `async fn`: entered on every poll, a panic in a
    /// poll marks the span failed (and unwinds on), and on completion the
    /// span comes back with the output so the caller can inspect it.
    pub struct TracedFuture<F> {
        #[pin]
        inner: F,
        span: Option<Span>,
    }
}

impl<F> TracedFuture<F> {
    /// Carries `span` with `inner`.
    #[inline(always)]
    pub fn new(span: Span, inner: F) -> TracedFuture<F> {
        TracedFuture {
            inner,
            span: Some(span),
        }
    }
}

impl<F: Future> Future for TracedFuture<F> {
    type Output = (F::Output, Span);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(span) = this.span.as_ref() else {
            panic!("TracedFuture polled after completion");
        };
        let entered = span.enter();
        let inner = this.inner;
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => {
                drop(entered);
                let span = this.span.take().unwrap_or_else(Span::none);
                Poll::Ready((out, span))
            }
            Err(payload) => {
                drop(entered);
                record_panic(span, &*payload);
                resume_unwind(payload)
            }
        }
    }
}
