//! Values that are never written: [`Secret`] (and `secrecy`'s types behind
//! the `secrecy` feature) record, display and debug-print a mask.

use std::fmt;

use crate::record::RecordBuf;
use crate::value::Value;

/// What a secret is written as, in every output.
pub const MASK: &str = "[REDACTED]";

/// A value that is never written: as a field it records [`MASK`], and its
/// `Display` and `Debug` print [`MASK`] too, so it stays hidden inside a
/// `?struct` or a formatted message as well. The value itself is reached
/// only through [`Secret::expose`] or [`Secret::into_inner`].
///
/// ```
/// use datapunk_log::Secret;
/// let token = Secret::new(String::from("s3cr3t"));
/// assert_eq!(format!("{token} {token:?}"), "[REDACTED] [REDACTED]");
/// assert_eq!(token.expose(), "s3cr3t");
/// datapunk_log::info!(token, "signed in"); // "token":"[REDACTED]"
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Secret<T> {
        Secret(value)
    }
    /// The value, for the code that needs it (never for logging).
    pub fn expose(&self) -> &T {
        &self.0
    }
    /// The value, unwrapped.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Secret<T> {
        Secret(value)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// A `Value` impl that records [`MASK`] (9 + 5 bytes, known up front).
macro_rules! masked_value {
    ($(#[$m:meta])* [$($g:tt)*] $t:ty) => {
        $(#[$m])*
        impl<$($g)*> Value for $t {
            #[inline(always)]
            fn record(&self, buf: &mut RecordBuf<'_>) {
                buf.str(MASK)
            }
            #[inline(always)]
            fn encoded_len(&self) -> Option<usize> {
                Some(5 + MASK.len())
            }
            #[inline(always)]
            fn records_one(&self) -> bool {
                true
            }
        }
    };
}

masked_value!([T] Secret<T>);

masked_value!(
    /// `secrecy`'s boxed secrets (`SecretBox`, `SecretString`, `SecretSlice`)
    /// record [`MASK`].
    #[cfg(feature = "secrecy")]
    [S: secrecy::zeroize::Zeroize + ?Sized] secrecy::SecretBox<S>
);
