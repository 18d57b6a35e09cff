//! The `partial_success` of an OTLP protobuf response
//! (`ExportLogsServiceResponse` or `ExportTraceServiceResponse`, over gRPC
//! or OTLP/HTTP with `application/x-protobuf`): [`partial_success`] reads
//! `rejected_log_records` / `rejected_spans` and `error_message` out of the
//! collector's answer to a successful request.
//!
//! Both responses have the same shape on the wire, whatever the signal:
//!
//! ```text
//! message Export<Signal>ServiceResponse {
//!   Export<Signal>PartialSuccess partial_success = 1;   // wire type 2
//! }
//! message Export<Signal>PartialSuccess {
//!   int64  rejected_<signal> = 1;                        // wire type 0
//!   string error_message     = 2;                        // wire type 2
//! }
//! ```
//!
//! A small, strict reader rather than a protobuf library (the library
//! carries no protobuf runtime): it reads what `prost` reads, with the same
//! results, and refuses
//! - a tag whose field number is 0 or that does not fit 32 bits, or whose
//!   wire type is 6 or 7,
//! - a varint longer than 10 bytes or beyond 64 bits,
//! - an end-group tag that closes no group (or another field's group),
//!   groups nested deeper than 100 (`prost`'s recursion limit),
//! - a length or a fixed-size value that runs past the end of its message,
//! - a known field with another wire type than its own,
//! - an `error_message` that is not UTF-8,
//! - a negative rejected count (the one that stands once every
//!   `partial_success` is merged; `prost` would take it).
//!
//! Unknown fields (of any wire type, groups included) are skipped, at both
//! levels; the empty body is the default (nothing rejected); a field given
//! twice keeps its last value, and a `partial_success` given twice is
//! merged, as protobuf says. No input panics; only groups recurse, and
//! their depth is bounded.

use super::stats::PartialSuccess;

/// Why a response body could not be read.
pub(super) type BadResponse = &'static str;

/// The field number of `partial_success` in the response, and of the
/// rejected count in the partial success.
const FIELD_ONE: u32 = 1;
/// The field number of `error_message` in the partial success.
const FIELD_MESSAGE: u32 = 2;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

/// How deep unknown groups may nest in the response (one less inside the
/// partial success), as `prost` counts.
const RECURSION_LIMIT: u32 = 100;

/// The `partial_success` of a protobuf response (the default, nothing
/// rejected, when the field is absent or the body is empty).
pub(super) fn partial_success(body: &[u8]) -> Result<PartialSuccess, BadResponse> {
    let mut rejected: i64 = 0;
    let mut error_message = String::new();
    let mut r = Reader { b: body };
    while let Some((field, wire)) = r.key()? {
        if field == FIELD_ONE {
            if wire != LEN {
                return Err("partial_success is not a message");
            }
            let inner = r.bytes()?;
            read_partial(inner, &mut rejected, &mut error_message)?;
        } else {
            r.skip(field, wire, RECURSION_LIMIT)?;
        }
    }
    // The count that stands, after every merge.
    let rejected = u64::try_from(rejected).map_err(|_| "negative rejected count")?;
    Ok(PartialSuccess {
        rejected,
        error_message,
    })
}

/// Merges one `Export<Signal>PartialSuccess` message into `rejected` and
/// `error_message`.
fn read_partial(
    body: &[u8],
    rejected: &mut i64,
    error_message: &mut String,
) -> Result<(), BadResponse> {
    let mut r = Reader { b: body };
    while let Some((field, wire)) = r.key()? {
        match field {
            FIELD_ONE => {
                if wire != VARINT {
                    return Err("the rejected count is not a varint");
                }
                // int64: the varint's 64 bits, two's complement.
                *rejected = r.varint()? as i64;
            }
            FIELD_MESSAGE => {
                if wire != LEN {
                    return Err("error_message is not a string");
                }
                let text = std::str::from_utf8(r.bytes()?)
                    .map_err(|_| "invalid UTF-8 in error_message")?;
                text.clone_into(error_message);
            }
            _ => r.skip(field, wire, RECURSION_LIMIT - 1)?,
        }
    }
    Ok(())
}

/// The unread rest of one message.
struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    /// The next field's number and wire type; `None` at the end of the
    /// message.
    fn key(&mut self) -> Result<Option<(u32, u8)>, BadResponse> {
        if self.b.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let key = u32::try_from(key).map_err(|_| "tag out of range")?;
        let wire = (key & 7) as u8;
        let field = key >> 3;
        if field == 0 {
            return Err("field number 0");
        }
        if wire > FIXED32 {
            return Err("invalid wire type");
        }
        Ok(Some((field, wire)))
    }

    /// A base-128 varint: at most 10 bytes, within 64 bits.
    fn varint(&mut self) -> Result<u64, BadResponse> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let (&byte, rest) = self.b.split_first().ok_or("truncated varint")?;
            self.b = rest;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                if i == 9 && byte > 1 {
                    return Err("varint overflows 64 bits");
                }
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes")
    }

    /// `n` bytes.
    fn take(&mut self, n: u64) -> Result<&'a [u8], BadResponse> {
        let n = usize::try_from(n).map_err(|_| "length beyond the message")?;
        if n > self.b.len() {
            return Err("length beyond the message");
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }

    /// A length-delimited value's bytes.
    fn bytes(&mut self) -> Result<&'a [u8], BadResponse> {
        let n = self.varint()?;
        self.take(n)
    }

    /// Skips the value of the unknown field `field` of wire type `wire`:
    /// for a group, up to its end, through at most `depth` levels of
    /// groups.
    fn skip(&mut self, field: u32, wire: u8, depth: u32) -> Result<(), BadResponse> {
        if depth == 0 {
            return Err("groups nested too deeply");
        }
        match wire {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            LEN => self.bytes().map(drop),
            FIXED32 => self.take(4).map(drop),
            START_GROUP => loop {
                match self.key()?.ok_or("unterminated group")? {
                    (end, END_GROUP) if end == field => return Ok(()),
                    (_, END_GROUP) => return Err("end of another group"),
                    (inner, wire) => self.skip(inner, wire, depth - 1)?,
                }
            },
            END_GROUP => Err("end of a group that was not started"),
            _ => Err("invalid wire type"),
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::logs::v1::{
        ExportLogsPartialSuccess, ExportLogsServiceResponse,
    };
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTracePartialSuccess, ExportTraceServiceResponse,
    };
    use prost::Message as _;

    use super::*;

    fn ps(rejected: u64, msg: &str) -> PartialSuccess {
        PartialSuccess {
            rejected,
            error_message: msg.into(),
        }
    }

    fn logs_body(rejected: i64, msg: &str) -> Vec<u8> {
        ExportLogsServiceResponse {
            partial_success: Some(ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message: msg.into(),
            }),
        }
        .encode_to_vec()
    }

    fn spans_body(rejected: i64, msg: &str) -> Vec<u8> {
        ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: msg.into(),
            }),
        }
        .encode_to_vec()
    }

    /// What `prost` reads of `body`, as this reader should say it: `None`
    /// where it refuses the body (or the count is negative).
    fn prost_reads(body: &[u8]) -> Option<PartialSuccess> {
        let r = ExportLogsServiceResponse::decode(body).ok()?;
        let p = r.partial_success.unwrap_or_default();
        Some(PartialSuccess {
            rejected: u64::try_from(p.rejected_log_records).ok()?,
            error_message: p.error_message,
        })
    }

    #[test]
    fn reads_what_prost_writes() {
        assert_eq!(partial_success(b""), Ok(ps(0, "")));
        assert_eq!(
            partial_success(&ExportLogsServiceResponse::default().encode_to_vec()),
            Ok(ps(0, ""))
        );
        // An empty partial_success (present, zero-length).
        assert_eq!(partial_success(&[0x0a, 0x00]), Ok(ps(0, "")));
        assert_eq!(
            partial_success(&logs_body(3, "too old")),
            Ok(ps(3, "too old"))
        );
        assert_eq!(
            partial_success(&spans_body(5, "bad span é😀")),
            Ok(ps(5, "bad span é😀"))
        );
        // A warning only: nothing rejected.
        assert_eq!(
            partial_success(&logs_body(0, "slow down")),
            Ok(ps(0, "slow down"))
        );
        assert_eq!(
            partial_success(&logs_body(i64::MAX, "")),
            Ok(ps(i64::MAX as u64, ""))
        );
        // A long message (a two-byte length).
        let long = "x".repeat(300);
        assert_eq!(partial_success(&logs_body(1, &long)), Ok(ps(1, &long)));
    }

    #[test]
    fn skips_unknown_fields_and_merges_repeats() {
        // Unknown fields of every wire type, at both levels, around the
        // known ones.
        let unknown: &[u8] = &[
            0x18, 0x96, 0x01, // field 3, varint 150
            0x21, 1, 2, 3, 4, 5, 6, 7, 8, // field 4, fixed64
            0x2a, 0x02, 0xff, 0xfe, // field 5, 2 bytes (not UTF-8: not read)
            0x35, 1, 2, 3, 4, // field 6, fixed32
        ];
        let mut inner = unknown.to_vec();
        inner.extend_from_slice(&[0x08, 0x07]); // rejected = 7
        inner.extend_from_slice(&[0x12, 0x01, b'm']); // error_message = "m"
        inner.extend_from_slice(&[0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01]); // field 2^29-1
        let mut body = unknown.to_vec();
        body.push(0x0a);
        body.push(inner.len() as u8);
        body.extend_from_slice(&inner);
        body.extend_from_slice(unknown);
        assert_eq!(partial_success(&body), Ok(ps(7, "m")));
        assert_eq!(prost_reads(&body), Some(ps(7, "m")));

        // A repeated partial_success is merged; a repeated field keeps its
        // last value.
        let body = [
            0x0a, 0x02, 0x08, 0x04, // rejected = 4
            0x0a, 0x03, 0x12, 0x01, b'a', // message = "a"
            0x0a, 0x06, 0x08, 0x09, 0x08, 0x02, 0x12, 0x00, // rejected = 9, 2; message = ""
        ];
        assert_eq!(partial_success(&body[..9]), Ok(ps(4, "a")));
        assert_eq!(partial_success(&body), Ok(ps(2, "")));
        assert_eq!(prost_reads(&body), Some(ps(2, "")));
        // Unknown groups are skipped, whatever they hold, up to prost's
        // nesting limit.
        let grouped = [0x1b, 0x08, 0x01, 0x23, 0x24, 0x1c, 0x0a, 0x02, 0x08, 0x05];
        assert_eq!(partial_success(&grouped), Ok(ps(5, "")));
        assert_eq!(prost_reads(&grouped), Some(ps(5, "")));
        for depth in [1, 99, 100, 101, 5000] {
            let mut body = vec![0x1b; depth];
            body.extend(std::iter::repeat_n(0x1c, depth));
            assert_eq!(
                partial_success(&body).ok(),
                prost_reads(&body),
                "{depth} nested groups"
            );
            assert_eq!(partial_success(&body).is_ok(), depth <= 100, "{depth}");
            // Inside the partial success, one level less.
            let mut inner = vec![0x1b; depth];
            inner.extend(std::iter::repeat_n(0x1c, depth));
            let mut body = vec![0x0a];
            let mut n = inner.len();
            while n >= 0x80 {
                body.push((n as u8) | 0x80);
                n >>= 7;
            }
            body.push(n as u8);
            body.extend_from_slice(&inner);
            assert_eq!(
                partial_success(&body).ok(),
                prost_reads(&body),
                "{depth} nested groups inside"
            );
            assert_eq!(partial_success(&body).is_ok(), depth <= 99, "{depth}");
        }
        // A non-minimal varint is a varint.
        assert_eq!(
            partial_success(&[0x0a, 0x03, 0x08, 0x83, 0x00]),
            Ok(ps(3, ""))
        );
    }

    #[test]
    fn refuses_malformed_bodies() {
        let bad: &[(&[u8], &str)] = &[
            (&[0x0a], "truncated varint"),
            (&[0x0a, 0x05, 0x08], "length beyond the message"),
            (&[0x0a, 0x02, 0x08], "length beyond the message"),
            (&[0x0a, 0x02, 0x08, 0x80], "truncated varint"),
            (&[0x08, 0x01], "partial_success is not a message"),
            (&[0x0d, 0, 0, 0, 0], "partial_success is not a message"),
            (
                &[0x0a, 0x02, 0x0a, 0x00],
                "the rejected count is not a varint",
            ),
            (&[0x0a, 0x02, 0x10, 0x00], "error_message is not a string"),
            (
                &[0x0a, 0x03, 0x12, 0x01, 0xff],
                "invalid UTF-8 in error_message",
            ),
            (&[0x00], "field number 0"),
            (&[0x07, 0x00], "field number 0"),
            (&[0x0b, 0x0c], "partial_success is not a message"),
            (
                &[0x0a, 0x02, 0x0b, 0x0c],
                "the rejected count is not a varint",
            ),
            (&[0x1b], "unterminated group"),
            (&[0x1b, 0x10], "truncated varint"),
            (&[0x1c], "end of a group that was not started"),
            (&[0x1b, 0x24], "end of another group"),
            (&[0x0a, 0x02, 0x1b, 0x2c], "end of another group"),
            (&[0x0e], "invalid wire type"),
            (&[0x0f], "invalid wire type"),
            (&[0x80, 0x80, 0x80, 0x80, 0x10], "tag out of range"),
            (&[0x11, 1, 2, 3, 4, 5, 6, 7], "length beyond the message"),
            (&[0x15, 1, 2, 3], "length beyond the message"),
            (&[0x1a, 0x01], "length beyond the message"),
            (
                &[
                    0x1a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ],
                "length beyond the message",
            ),
            (
                &[
                    0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02,
                ],
                "varint overflows 64 bits",
            ),
            (
                &[
                    0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x00,
                ],
                "varint longer than 10 bytes",
            ),
        ];
        for (body, why) in bad {
            assert_eq!(partial_success(body), Err(*why), "{body:02x?}");
            assert_eq!(prost_reads(body), None, "prost reads {body:02x?}");
        }
        // A negative count: prost takes it, this reader refuses it.
        assert_eq!(
            partial_success(&logs_body(-1, "")),
            Err("negative rejected count")
        );
        assert_eq!(
            partial_success(&spans_body(i64::MIN, "m")),
            Err("negative rejected count")
        );
        // The largest 10-byte varint is u64::MAX: -1 as an int64.
        assert_eq!(
            partial_success(&[
                0x0a, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ]),
            Err("negative rejected count")
        );
    }

    #[test]
    fn every_prefix_and_every_changed_byte() {
        let body = logs_body(12, "é😀 x");
        assert_eq!(partial_success(&body), Ok(ps(12, "é😀 x")));
        for n in 0..body.len() {
            // A prefix cut inside the outer message's length-delimited
            // field: refused (only the empty prefix is a message).
            let prefix = &body[..n];
            assert_eq!(
                partial_success(prefix).ok(),
                prost_reads(prefix),
                "prefix {prefix:02x?}"
            );
            if n > 0 {
                assert!(partial_success(prefix).is_err(), "prefix {prefix:02x?}");
            }
            for b in [0u8, 0x01, 0x02, 0x07, 0x08, 0x0a, 0x12, 0x7f, 0x80, 0xff] {
                let mut v = body.clone();
                v[n] = b;
                assert_eq!(partial_success(&v).ok(), prost_reads(&v), "{v:02x?}");
            }
        }
    }

    #[test]
    fn agrees_with_prost() {
        use proptest::prelude::*;
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(2048));
        // Bodies made of pieces that look like fields (known and unknown,
        // right and wrong wire types, lengths that may not fit), and random
        // bytes.
        let piece = prop_oneof![
            Just(vec![0x0a]),
            Just(vec![0x08]),
            Just(vec![0x12]),
            Just(vec![0x10]),
            Just(vec![0x19]),
            Just(vec![0x1d]),
            Just(vec![0x22]),
            Just(vec![0x0b]),
            Just(vec![0x00]),
            Just(vec![0x80]),
            Just(vec![
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ]),
            Just("é".as_bytes().to_vec()),
            (0u8..16).prop_map(|n| vec![n]),
            any::<i64>().prop_map(|n| logs_body(n, "m")),
            proptest::collection::vec(any::<u8>(), 0..8),
        ];
        let body = proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat());
        // Refusals may differ in their reason, never in the verdict; random
        // bytes too, and never a panic.
        let same_verdict = |body: Vec<u8>| {
            prop_assert_eq!(
                partial_success(&body).ok(),
                prost_reads(&body),
                "{:02x?}",
                body
            );
            Ok(())
        };
        let random = proptest::collection::vec(any::<u8>(), 0..64);
        let result = runner
            .run(&body, same_verdict)
            .and_then(|()| runner.run(&random, same_verdict));
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}
