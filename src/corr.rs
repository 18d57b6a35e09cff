//! The correlation id a request carries, by value (no allocation, no
//! reference count), and its bound.

use std::fmt;

/// Longest valid correlation id, in bytes; longer ones are cut when carried.
pub const MAX_CORRELATION_ID_LEN: usize = 128;

/// A correlation id carried by value (no allocation, no reference count).
#[derive(Clone, Copy)]
pub(crate) struct CorrId {
    len: u8,
    bytes: [u8; MAX_CORRELATION_ID_LEN],
}

impl CorrId {
    pub(crate) const EMPTY: CorrId = CorrId {
        len: 0,
        bytes: [0; MAX_CORRELATION_ID_LEN],
    };

    /// The id, cut to [`MAX_CORRELATION_ID_LEN`] bytes at a character boundary; `None` when empty.
    pub(crate) fn new(id: &str) -> Option<CorrId> {
        let end = id.floor_char_boundary(MAX_CORRELATION_ID_LEN);
        if end == 0 {
            return None;
        }
        let mut c = CorrId::EMPTY;
        c.bytes[..end].copy_from_slice(&id.as_bytes()[..end]);
        c.len = end as u8;
        Some(c)
    }

    /// Length of the id in bytes.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub(crate) fn as_str(&self) -> &str {
        let b = &self.bytes[..usize::from(self.len)];
        // `new` copies whole characters of a `str` only.
        std::str::from_utf8(b).unwrap_or("")
    }
}

impl fmt::Debug for CorrId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CorrId").field(&self.as_str()).finish()
    }
}
