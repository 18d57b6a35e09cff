//! How each argument type records itself into a record.
//!
//! Numbers, bools, chars and strings are copied as bytes; only `%` (Display),
//! `?` (Debug) and errors are formatted, and they are formatted straight into
//! the record, never into a heap string.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use crate::record::RecordBuf;

/// A value that can be recorded as a field.
pub trait Value {
    /// Writes the value into the record.
    fn record(&self, buf: &mut RecordBuf);
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl Value for $t {
            #[inline(always)]
            fn record(&self, buf: &mut RecordBuf) { buf.u64(*self as u64) }
        }
    )*};
}
macro_rules! signed {
    ($($t:ty),*) => {$(
        impl Value for $t {
            #[inline(always)]
            fn record(&self, buf: &mut RecordBuf) { buf.i64(*self as i64) }
        }
    )*};
}
unsigned!(u8, u16, u32, u64, usize);
signed!(i8, i16, i32, i64, isize);

macro_rules! nonzero {
    ($($t:ty),*) => {$(
        impl Value for $t {
            #[inline(always)]
            fn record(&self, buf: &mut RecordBuf) { self.get().record(buf) }
        }
    )*};
}
nonzero!(
    std::num::NonZeroU8,
    std::num::NonZeroU16,
    std::num::NonZeroU32,
    std::num::NonZeroU64,
    std::num::NonZeroUsize,
    std::num::NonZeroI8,
    std::num::NonZeroI16,
    std::num::NonZeroI32,
    std::num::NonZeroI64,
    std::num::NonZeroIsize
);

impl Value for u128 {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        buf.u128(*self)
    }
}
impl Value for i128 {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        buf.i128(*self)
    }
}
impl Value for f64 {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        buf.f64(*self)
    }
}
impl Value for f32 {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        buf.f32(*self)
    }
}
impl Value for bool {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        buf.bool(*self)
    }
}
impl Value for char {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        buf.char(*self)
    }
}
impl Value for str {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        buf.str(self)
    }
}
impl Value for [u8] {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        buf.bytes(self)
    }
}
impl Value for Vec<u8> {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        buf.bytes(self)
    }
}
impl<const N: usize> Value for [u8; N] {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        buf.bytes(self)
    }
}
impl Value for String {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        buf.str(self)
    }
}
impl Value for Cow<'_, str> {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        buf.str(self)
    }
}
impl<T: Value + ?Sized> Value for &T {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        (**self).record(buf)
    }
}
impl<T: Value + ?Sized> Value for &mut T {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        (**self).record(buf)
    }
}
impl<T: Value + ?Sized> Value for Box<T> {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        (**self).record(buf)
    }
}
impl<T: Value + ?Sized> Value for Arc<T> {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        (**self).record(buf)
    }
}
impl<T: Value + ?Sized> Value for Rc<T> {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        (**self).record(buf)
    }
}
impl<T: Value> Value for Option<T> {
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf) {
        match self {
            Some(v) => v.record(buf),
            None => buf.none(),
        }
    }
}

/// Errors write `exception.type`, `exception.message` and the chain of
/// sources as `exception.stacktrace`.
impl Value for dyn Error + '_ {
    fn record(&self, buf: &mut RecordBuf) {
        record_error(self, buf)
    }
}
impl Value for dyn Error + Send + '_ {
    fn record(&self, buf: &mut RecordBuf) {
        record_error(self, buf)
    }
}
impl Value for dyn Error + Send + Sync + '_ {
    fn record(&self, buf: &mut RecordBuf) {
        record_error(self, buf)
    }
}
impl Value for std::io::Error {
    fn record(&self, buf: &mut RecordBuf) {
        buf.error("std::io::Error", self)
    }
}

fn record_error(e: &dyn Error, buf: &mut RecordBuf) {
    let mut name = TypeName {
        buf: [0; 64],
        len: 0,
        done: false,
    };
    // The error is type-erased: its Debug output starts with the type's name
    // for derived and most hand-written impls ("ParseIntError { .. }").
    let _ = fmt::write(&mut name, format_args!("{e:?}"));
    let type_name = if name.len == 0 {
        "Error"
    } else {
        // Only ASCII identifier bytes were kept, so this cannot fail.
        std::str::from_utf8(&name.buf[..name.len]).unwrap_or("Error")
    };
    buf.error(type_name, e)
}

/// Collects the leading identifier (`[A-Za-z0-9_:]`, up to 64 bytes) of a
/// Debug rendering and ignores the rest.
struct TypeName {
    buf: [u8; 64],
    len: usize,
    done: bool,
}

impl fmt::Write for TypeName {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.done {
            return Err(fmt::Error);
        }
        for &b in s.as_bytes() {
            if (b.is_ascii_alphanumeric() || b == b'_' || b == b':') && self.len < self.buf.len() {
                self.buf[self.len] = b;
                self.len += 1;
            } else {
                self.done = true;
                return Err(fmt::Error);
            }
        }
        Ok(())
    }
}

/// A value recorded through its `Display` impl (`%value` in the macros).
#[derive(Clone, Copy)]
pub struct DisplayValue<T>(pub T);
/// A value recorded through its `Debug` impl (`?value` in the macros).
#[derive(Clone, Copy)]
pub struct DebugValue<T>(pub T);

impl<T: fmt::Display> Value for DisplayValue<T> {
    #[inline]
    fn record(&self, buf: &mut RecordBuf) {
        buf.fmt(format_args!("{}", self.0))
    }
}
impl<T: fmt::Debug> Value for DebugValue<T> {
    #[inline]
    fn record(&self, buf: &mut RecordBuf) {
        buf.fmt(format_args!("{:?}", self.0))
    }
}

/// Wraps a value to record it with `Display`.
pub fn display<T: fmt::Display>(v: T) -> DisplayValue<T> {
    DisplayValue(v)
}
/// Wraps a value to record it with `Debug`.
pub fn debug<T: fmt::Debug>(v: T) -> DebugValue<T> {
    DebugValue(v)
}
