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
///
/// An impl records exactly one value through one of [`RecordBuf`]'s methods.
/// `encoded_len` returns the exact number of bytes `record` writes when it is
/// known without formatting (a 1-byte tag plus the payload: 9 for an integer,
/// 5 + length for text); then the call writes straight into the ring. `None`
/// (the default) takes the scratch-buffer path. A wrong length is safe: the
/// record is bounds-checked and the value left out or cut.
pub trait Value {
    /// Writes the value into the record.
    fn record(&self, buf: &mut RecordBuf<'_>);
    /// Bytes `record` will write, when known up front.
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        None
    }
    /// Feeds the value's text (numbers in decimal, booleans as
    /// `true`/`false`, strings as they are, `None` as nothing) to `f`, for
    /// the sampler's rules and rate-limit keys; false when the value has no
    /// such text without being encoded (the sampler then encodes it).
    #[doc(hidden)]
    #[inline(always)]
    fn feed_text(&self, f: &mut dyn FnMut(&[u8])) -> bool {
        let _ = f;
        false
    }
    /// True when `record` is known to record exactly one value (every impl
    /// of this crate); for the others (false, the default) the record holds
    /// the call to one value per field: none becomes `null`, a second and
    /// later ones are dropped and counted (`Stats::misrecorded_values`).
    #[doc(hidden)]
    #[inline(always)]
    fn records_one(&self) -> bool {
        false
    }
}

/// The values of one call, as a cons list `(v1, (v2, (v3, ())))` built by the
/// macros so each value expression is evaluated once.
#[doc(hidden)]
pub trait ValueList {
    /// Records every value in order.
    fn record_all(&self, buf: &mut RecordBuf<'_>);
    /// Sum of the values' known lengths; `None` if any is unknown.
    fn encoded_len(&self) -> Option<usize>;
    /// Records only value `n` (counting from 0); false when there is none.
    /// The sampler reads a span's attribute through it. The default records
    /// nothing.
    fn record_nth(&self, n: usize, buf: &mut RecordBuf<'_>) -> bool {
        let _ = (n, buf);
        false
    }
    /// [`Value::feed_text`] of value `n`; false when there is none or it
    /// has no such text.
    fn feed_nth(&self, n: usize, f: &mut dyn FnMut(&[u8])) -> bool {
        let _ = (n, f);
        false
    }
}

impl ValueList for () {
    #[inline(always)]
    fn record_all(&self, _: &mut RecordBuf<'_>) {}
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        Some(0)
    }
}

/// Records one field's value: exactly one value, whatever `v`'s impl does
/// (see [`Value::records_one`]).
#[inline(always)]
pub(crate) fn record_field<V: Value + ?Sized>(v: &V, buf: &mut RecordBuf<'_>) {
    if v.records_one() {
        v.record(buf);
    } else {
        buf.record_one(|b| v.record(b));
    }
}

impl<H: Value, T: ValueList> ValueList for (H, T) {
    #[inline(always)]
    fn record_all(&self, buf: &mut RecordBuf<'_>) {
        record_field(&self.0, buf);
        self.1.record_all(buf);
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        Some(self.0.encoded_len()? + self.1.encoded_len()?)
    }
    #[inline]
    fn record_nth(&self, n: usize, buf: &mut RecordBuf<'_>) -> bool {
        if n == 0 {
            record_field(&self.0, buf);
            true
        } else {
            self.1.record_nth(n - 1, buf)
        }
    }
    #[inline]
    fn feed_nth(&self, n: usize, f: &mut dyn FnMut(&[u8])) -> bool {
        if n == 0 {
            self.0.feed_text(f)
        } else {
            self.1.feed_nth(n - 1, f)
        }
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl Value for $t {
            #[inline(always)]
            fn records_one(&self) -> bool {
                true
            }
            #[inline(always)]
            fn record(&self, buf: &mut RecordBuf<'_>) { buf.u64(*self as u64) }
            #[inline(always)]
            fn encoded_len(&self) -> Option<usize> { Some(9) }
            #[inline]
            fn feed_text(&self, f: &mut dyn FnMut(&[u8])) -> bool {
                f(itoa::Buffer::new().format(*self).as_bytes());
                true
            }
        }
    )*};
}
macro_rules! signed {
    ($($t:ty),*) => {$(
        impl Value for $t {
            #[inline(always)]
            fn records_one(&self) -> bool {
                true
            }
            #[inline(always)]
            fn record(&self, buf: &mut RecordBuf<'_>) { buf.i64(*self as i64) }
            #[inline(always)]
            fn encoded_len(&self) -> Option<usize> { Some(9) }
            #[inline]
            fn feed_text(&self, f: &mut dyn FnMut(&[u8])) -> bool {
                f(itoa::Buffer::new().format(*self).as_bytes());
                true
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64, usize);
signed!(i8, i16, i32, i64, isize);

macro_rules! nonzero {
    ($($t:ty),*) => {$(
        impl Value for $t {
            #[inline(always)]
            fn records_one(&self) -> bool {
                true
            }
            #[inline(always)]
            fn record(&self, buf: &mut RecordBuf<'_>) { self.get().record(buf) }
            #[inline(always)]
            fn encoded_len(&self) -> Option<usize> { Some(9) }
            #[inline]
            fn feed_text(&self, f: &mut dyn FnMut(&[u8])) -> bool {
                self.get().feed_text(f)
            }
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
    fn records_one(&self) -> bool {
        true
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.u128(*self)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        Some(17)
    }
}
impl Value for i128 {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.i128(*self)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        Some(17)
    }
}
impl Value for f64 {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.f64(*self)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        Some(9)
    }
}
impl Value for f32 {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.f32(*self)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        Some(5)
    }
}
impl Value for bool {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.bool(*self)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        Some(1)
    }
    #[inline]
    fn feed_text(&self, f: &mut dyn FnMut(&[u8])) -> bool {
        f(if *self { b"true" } else { b"false" });
        true
    }
}
impl Value for char {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.char(*self)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        Some(5)
    }
}
impl Value for str {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.str(self)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        Some(5 + self.len())
    }
    #[inline]
    fn feed_text(&self, f: &mut dyn FnMut(&[u8])) -> bool {
        f(self.as_bytes());
        true
    }
}
impl Value for [u8] {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.bytes(self)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        Some(5 + self.len())
    }
}
impl Value for Vec<u8> {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.bytes(self)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        Some(5 + self.len())
    }
}
impl<const N: usize> Value for [u8; N] {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.bytes(self)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        Some(5 + self.len())
    }
}
impl Value for String {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.str(self)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        Some(5 + self.len())
    }
    #[inline]
    fn feed_text(&self, f: &mut dyn FnMut(&[u8])) -> bool {
        f(self.as_bytes());
        true
    }
}
impl Value for Cow<'_, str> {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.str(self)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        Some(5 + self.len())
    }
    #[inline]
    fn feed_text(&self, f: &mut dyn FnMut(&[u8])) -> bool {
        f(self.as_bytes());
        true
    }
}
impl<T: Value + ?Sized> Value for &T {
    #[inline(always)]
    fn records_one(&self) -> bool {
        (**self).records_one()
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        (**self).record(buf)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        (**self).encoded_len()
    }
    #[inline(always)]
    fn feed_text(&self, f: &mut dyn FnMut(&[u8])) -> bool {
        (**self).feed_text(f)
    }
}
impl<T: Value + ?Sized> Value for &mut T {
    #[inline(always)]
    fn records_one(&self) -> bool {
        (**self).records_one()
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        (**self).record(buf)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        (**self).encoded_len()
    }
    #[inline(always)]
    fn feed_text(&self, f: &mut dyn FnMut(&[u8])) -> bool {
        (**self).feed_text(f)
    }
}
impl<T: Value + ?Sized> Value for Box<T> {
    #[inline(always)]
    fn records_one(&self) -> bool {
        (**self).records_one()
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        (**self).record(buf)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        (**self).encoded_len()
    }
    #[inline(always)]
    fn feed_text(&self, f: &mut dyn FnMut(&[u8])) -> bool {
        (**self).feed_text(f)
    }
}
impl<T: Value + ?Sized> Value for Arc<T> {
    #[inline(always)]
    fn records_one(&self) -> bool {
        (**self).records_one()
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        (**self).record(buf)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        (**self).encoded_len()
    }
    #[inline(always)]
    fn feed_text(&self, f: &mut dyn FnMut(&[u8])) -> bool {
        (**self).feed_text(f)
    }
}
impl<T: Value + ?Sized> Value for Rc<T> {
    #[inline(always)]
    fn records_one(&self) -> bool {
        (**self).records_one()
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        (**self).record(buf)
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        (**self).encoded_len()
    }
    #[inline(always)]
    fn feed_text(&self, f: &mut dyn FnMut(&[u8])) -> bool {
        (**self).feed_text(f)
    }
}
impl<T: Value> Value for Option<T> {
    #[inline(always)]
    fn records_one(&self) -> bool {
        self.as_ref().is_none_or(|v| v.records_one())
    }
    #[inline(always)]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        match self {
            Some(v) => v.record(buf),
            None => buf.none(),
        }
    }
    #[inline(always)]
    fn encoded_len(&self) -> Option<usize> {
        match self {
            Some(v) => v.encoded_len(),
            None => Some(1),
        }
    }
    #[inline]
    fn feed_text(&self, f: &mut dyn FnMut(&[u8])) -> bool {
        match self {
            Some(v) => v.feed_text(f),
            None => {
                f(b"");
                true
            }
        }
    }
}

/// Errors write `exception.type`, `exception.message` and the chain of
/// sources as `exception.stacktrace`.
impl Value for dyn Error + '_ {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    fn record(&self, buf: &mut RecordBuf<'_>) {
        record_error(self, buf)
    }
}
impl Value for dyn Error + Send + '_ {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    fn record(&self, buf: &mut RecordBuf<'_>) {
        record_error(self, buf)
    }
}
impl Value for dyn Error + Send + Sync + '_ {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    fn record(&self, buf: &mut RecordBuf<'_>) {
        record_error(self, buf)
    }
}
impl Value for std::io::Error {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.error("std::io::Error", self)
    }
}

/// `exception.type` of an error seen only as `dyn Error` (its concrete
/// type is erased): the leading identifier of its `Debug` output, which is
/// the type's name for derived and most hand-written impls of structs, but
/// the *variant's* name for an enum (`Declined` for `PayError::Declined`),
/// and `Error` when the output starts with no identifier. [`err`] records
/// the type's own name instead.
fn record_error(e: &dyn Error, buf: &mut RecordBuf<'_>) {
    let mut name = TypeName::new();
    buf.error(name.of(e).unwrap_or("Error"), e)
}

/// An error recorded with its concrete type's name: see [`err`].
#[derive(Clone, Copy)]
pub struct ErrorValue<'a, E>(pub &'a E);

/// Records an error with the name of its concrete type as `exception.type`
/// (`std::any::type_name::<E>()`: the full path, `my_service::PayError`,
/// generics included; a `&'static str` known at compile time, so nothing is
/// formatted for it), then `exception.message` and `exception.stacktrace`
/// as for `&e as &dyn Error`: `error!(error = err(&e), "payment failed")`.
/// A type whose name holds a `dyn` (an `Arc<dyn Error>`) is named as a
/// `dyn Error` is, from its `Debug` output. `type_name`'s text is meant for
/// people and may change between compiler versions.
pub fn err<E: Error>(e: &E) -> ErrorValue<'_, E> {
    ErrorValue(e)
}

impl<E: Error> Value for ErrorValue<'_, E> {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    fn record(&self, buf: &mut RecordBuf<'_>) {
        let name = std::any::type_name::<E>().trim_start_matches('&');
        if name.contains("dyn ") {
            record_error(self.0, buf)
        } else {
            buf.error(name, self.0)
        }
    }
}

/// Collects the leading identifier (`[A-Za-z0-9_:]`, up to 64 bytes) of a
/// Debug rendering and ignores the rest.
pub(crate) struct TypeName {
    buf: [u8; 64],
    len: usize,
    done: bool,
}

impl TypeName {
    pub(crate) fn new() -> TypeName {
        TypeName {
            buf: [0; 64],
            len: 0,
            done: false,
        }
    }

    /// `e`'s type name, read from the start of its `Debug` output (the
    /// type's name for derived and most hand-written impls: "ParseIntError
    /// { .. }"); `None` when it starts with no identifier.
    pub(crate) fn of(&mut self, e: &dyn Error) -> Option<&str> {
        let _ = fmt::write(self, format_args!("{e:?}"));
        // Only ASCII identifier bytes were kept, so this cannot fail.
        std::str::from_utf8(&self.buf[..self.len])
            .ok()
            .filter(|s| !s.is_empty())
    }
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
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    #[inline]
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.fmt(format_args!("{}", self.0))
    }
}
impl<T: fmt::Debug> Value for DebugValue<T> {
    #[inline(always)]
    fn records_one(&self) -> bool {
        true
    }
    #[inline]
    fn record(&self, buf: &mut RecordBuf<'_>) {
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
