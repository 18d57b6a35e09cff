//! An inner service's `Err` on a span: status, `error.type` and an
//! `exception` event.
//!
//! Services' errors are only `Display` in general (tower's `BoxError`,
//! `Box<dyn Error + Send + Sync>`, does not implement `Error`), so the error
//! is looked at as a boxed error first (its own `Error` impl, with the source
//! chain) and otherwise carried as its type name and its `Display`.

use std::any::{Any, type_name};
use std::error::Error;
use std::fmt;

use crate::span::{Span, Status};
use crate::value::TypeName;

/// Records `e` on `span`: status `Error` with `e`'s `Display` as the
/// description, attribute `error.type`, and an `exception` event. Nothing is
/// formatted for a span that is not sampled (it records nothing).
pub(crate) fn record_failure<E: fmt::Display + 'static>(span: &Span, e: &E) {
    if !span.is_sampled() {
        return;
    }
    let message = e.to_string();
    span.set_status(Status::Error(&message));
    let any: &dyn Any = e;
    let boxed: Option<&(dyn Error + 'static)> =
        if let Some(b) = any.downcast_ref::<Box<dyn Error + Send + Sync>>() {
            Some(&**b)
        } else if let Some(b) = any.downcast_ref::<Box<dyn Error + Send>>() {
            Some(&**b)
        } else if let Some(b) = any.downcast_ref::<Box<dyn Error>>() {
            Some(&**b)
        } else {
            None
        };
    if let Some(err) = boxed {
        let mut name = TypeName::new();
        span.record("error.type", name.of(err).unwrap_or("_OTHER"));
        span.record_error(err);
    } else if let Some(err) = any.downcast_ref::<std::io::Error>() {
        span.record("error.type", type_name::<E>());
        span.record_error(err);
    } else {
        span.record("error.type", type_name::<E>());
        span.record_error(&Failure {
            type_name: type_name::<E>(),
            message,
        });
    }
}

/// An error known by its type name and message.
struct Failure {
    type_name: &'static str,
    message: String,
}

/// The type name: the engine takes `exception.type` from the start of an
/// error's `Debug`.
impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for Failure {}
