//! One decoder for every consumer of records: the line formats (JSON,
//! console), the export pipeline and the fuzz targets read a record through
//! [`RecordView`], and name a call site's fields through [`output_keys`].

use super::{
    Decoder, FLAG_CORR, FLAG_CTX, FLAG_FMT_MESSAGE, FLAG_REPLAYED, FLAG_TRUNCATED, FLAG_TS, Header,
    TraceContext, Val,
};

/// A record's parts before its values, and a reader of its values.
#[derive(Debug, Clone)]
pub(crate) struct RecordView<'a> {
    /// The header.
    pub header: Header,
    /// The trace context, when the record was made inside one.
    pub ctx: Option<TraceContext>,
    /// The correlation id (bytes as the caller gave them; may be invalid
    /// UTF-8 only if a record was forged).
    pub corr: Option<&'a [u8]>,
    /// A span start's W3C tracestate.
    pub tracestate: Option<&'a [u8]>,
    /// The formatted message (`None`: the call site's static message).
    pub message: Option<&'a [u8]>,
    /// The values, in call-site field order.
    pub values: Values<'a>,
}

impl<'a> RecordView<'a> {
    /// Reads the parts the header's flags announce. `None`: the record is
    /// malformed (bounds are checked; nothing panics).
    #[inline(always)]
    pub(crate) fn decode(rec: &'a [u8], header: Header) -> Option<RecordView<'a>> {
        let mut d = Decoder::new(rec);
        let ctx = if header.flags & FLAG_CTX != 0 {
            Some(d.context()?)
        } else {
            None
        };
        let corr = if header.flags & FLAG_CORR != 0 {
            Some(d.string()?)
        } else {
            None
        };
        let tracestate = if header.flags & FLAG_TS != 0 {
            Some(d.string()?)
        } else {
            None
        };
        let message = if header.flags & FLAG_FMT_MESSAGE != 0 {
            Some(d.string()?)
        } else {
            None
        };
        Some(RecordView {
            header,
            ctx,
            corr,
            tracestate,
            message,
            values: Values {
                d,
                next: 0,
                recorded: header.values,
            },
        })
    }

    /// The record was cut to fit the record limit.
    pub(crate) fn truncated(&self) -> bool {
        self.header.flags & FLAG_TRUNCATED != 0
    }

    /// The record was held in the debug buffer and replayed.
    pub(crate) fn replayed(&self) -> bool {
        self.header.flags & FLAG_REPLAYED != 0
    }

    /// How many records this one stands for (at least 1).
    pub(crate) fn adjusted_count(&self) -> u32 {
        self.header.adjusted.max(1)
    }
}

/// Reads a record's values one per call-site field.
#[derive(Debug, Clone)]
pub(crate) struct Values<'a> {
    d: Decoder<'a>,
    next: u16,
    recorded: u16,
}

impl<'a> Values<'a> {
    /// The next field's value: [`Val::None`] past the values recorded (a
    /// user `Value` impl that recorded nothing), `None` when the record is
    /// malformed.
    #[inline(always)]
    pub(crate) fn field(&mut self) -> Option<Val<'a>> {
        if self.next >= self.recorded {
            return Some(Val::None);
        }
        self.next += 1;
        self.d.value()
    }

    /// The next value as it is in the record (span attribute and event
    /// records hold key/value pairs rather than call-site fields); `None`
    /// when none is left or the record is malformed.
    pub(crate) fn raw(&mut self) -> Option<Val<'a>> {
        if self.next >= self.recorded {
            return None;
        }
        self.next += 1;
        self.d.value()
    }

    /// Bytes not read yet.
    pub(crate) fn remaining_bytes(&self) -> usize {
        self.d.remaining()
    }

    /// Values not read yet.
    pub(crate) fn left(&self) -> u16 {
        self.recorded - self.next
    }
}

/// The key each field of a call site is written under by the line formats:
/// [`crate::callsite::field_key`] of its name; a name in `reserved` (a key
/// the format writes itself) becomes `fields.<name>`, and a name already
/// used by an earlier field of the call site gets `#2`, `#3`… So no line
/// holds a key twice, whatever the call site names.
pub(crate) fn output_keys(fields: &[&'static str], reserved: &[&str]) -> Vec<String> {
    let mut used: Vec<String> = Vec::with_capacity(fields.len());
    for name in fields {
        let name = crate::callsite::field_key(name);
        let base = if reserved.contains(&name) {
            format!("fields.{name}")
        } else {
            name.to_string()
        };
        let mut key = base.clone();
        let mut n = 2;
        while used.contains(&key) || reserved.contains(&key.as_str()) {
            key = format!("{base}#{n}");
            n += 1;
        }
        used.push(key);
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{HEADER_LEN, RecordBuf, SLACK};
    use std::mem::MaybeUninit;

    #[test]
    fn keys_reserved_and_repeated_are_renamed_once() {
        let keys = output_keys(
            &["a", "message", "a", "r#type", "fields.message", "a#2"],
            &["message"],
        );
        assert_eq!(
            keys,
            [
                "a",
                "fields.message",
                "a#2",
                "type",
                "fields.message#2",
                "a#2#2"
            ]
        );
    }

    #[test]
    fn view_reads_prefix_and_missing_values_as_none() {
        let mut w = vec![MaybeUninit::uninit(); 512 + SLACK];
        let mut r = RecordBuf::new(&mut w, 512);
        let ctx = TraceContext {
            trace_id: 9,
            span_id: 8,
            parent_span_id: 0,
            trace_flags: 1,
        };
        r.begin(3, 77, &ctx);
        r.u64(5);
        r.finish();
        let bytes = r.written().to_vec();
        let h = Header::parse(bytes[..HEADER_LEN].try_into().unwrap());
        let mut v = RecordView::decode(&bytes, h).unwrap();
        assert_eq!(v.ctx, Some(ctx));
        assert_eq!(v.corr, None);
        assert_eq!(v.message, None);
        assert_eq!(v.values.left(), 1);
        assert_eq!(v.values.field(), Some(Val::U64(5)));
        assert_eq!(v.values.field(), Some(Val::None));
        assert_eq!(v.values.raw(), None);
        // A header announcing a context the bytes do not hold.
        assert!(RecordView::decode(&bytes[..HEADER_LEN + 4], h).is_none());
    }
}
