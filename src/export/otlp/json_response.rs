//! The `partialSuccess` of an OTLP/HTTP JSON response
//! (`ExportLogsServiceResponse` or `ExportTraceServiceResponse`):
//! [`partial_success`] reads `rejectedLogRecords` / `rejectedSpans` and
//! `errorMessage` out of the collector's answer to a successful request.
//!
//! A small, strict reader rather than a JSON library (the library has no
//! JSON parser among its dependencies): the body must be one JSON object
//! (RFC 8259: no trailing commas, no comments, valid UTF-8, escapes
//! checked), or be empty (a collector may answer 200 with no body). As the
//! specification says of OTLP/JSON receivers, unknown fields are skipped;
//! as the proto3 JSON mapping says, the original (snake_case) field names
//! are accepted beside the lowerCamelCase ones, a 64-bit integer may be a
//! number or a decimal string, and `null` is the default. Nesting is
//! bounded, so that no input can exhaust the stack; no input panics.

use super::config::Signal;
use super::stats::PartialSuccess;

/// Deepest nesting of arrays and objects read.
const MAX_DEPTH: u32 = 64;

/// Why a response body could not be read.
pub(super) type BadResponse = &'static str;

/// The `partial_success` of a JSON response to a request of `signal`
/// (the default, nothing rejected, when the field is absent or the body is
/// empty).
pub(super) fn partial_success(body: &[u8], signal: Signal) -> Result<PartialSuccess, BadResponse> {
    let (camel, snake) = match signal {
        Signal::Logs => ("rejectedLogRecords", "rejected_log_records"),
        Signal::Traces => ("rejectedSpans", "rejected_spans"),
    };
    let mut r = Reader {
        b: body,
        i: 0,
        depth: 0,
        scratch: Vec::new(),
    };
    r.ws();
    if r.i >= body.len() {
        return Ok(PartialSuccess::default());
    }
    let mut out = PartialSuccess::default();
    r.object(&mut |r, key| match key {
        "partialSuccess" | "partial_success" => {
            out = PartialSuccess::default();
            if r.null()? {
                return Ok(());
            }
            r.object(&mut |r, key| match key {
                k if k == camel || k == snake => {
                    out.rejected = r.int64_count()?;
                    Ok(())
                }
                "errorMessage" | "error_message" => {
                    out.error_message = if r.null()? {
                        String::new()
                    } else {
                        r.string_value()?
                    };
                    Ok(())
                }
                _ => r.skip_value(),
            })
        }
        _ => r.skip_value(),
    })?;
    r.ws();
    if r.i != body.len() {
        return Err("trailing bytes after the JSON object");
    }
    Ok(out)
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
    depth: u32,
    /// The bytes of the string being read.
    scratch: Vec<u8>,
}

type Field<'f> = dyn FnMut(&mut Reader<'_>, &str) -> Result<(), BadResponse> + 'f;

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8, what: BadResponse) -> Result<(), BadResponse> {
        if self.next() == Some(c) {
            Ok(())
        } else {
            Err(what)
        }
    }

    fn literal(&mut self, lit: &[u8]) -> Result<(), BadResponse> {
        match self.b.get(self.i..self.i + lit.len()) {
            Some(s) if s == lit => {
                self.i += lit.len();
                Ok(())
            }
            _ => Err("invalid literal"),
        }
    }

    /// Reads `null` when it comes next (after white space).
    fn null(&mut self) -> Result<bool, BadResponse> {
        self.ws();
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn enter(&mut self) -> Result<(), BadResponse> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("nested too deeply");
        }
        Ok(())
    }

    /// An object, calling `field` with each key; `field` reads the value.
    fn object(&mut self, field: &mut Field<'_>) -> Result<(), BadResponse> {
        self.ws();
        self.expect(b'{', "expected an object")?;
        self.enter()?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.ws();
            let key = self.string_value()?;
            self.ws();
            self.expect(b':', "expected ':' after a key")?;
            field(self, &key)?;
            self.ws();
            match self.next() {
                Some(b',') => {}
                Some(b'}') => break,
                _ => return Err("expected ',' or '}' in an object"),
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn array(&mut self) -> Result<(), BadResponse> {
        self.ws();
        self.expect(b'[', "expected an array")?;
        self.enter()?;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.skip_value()?;
            self.ws();
            match self.next() {
                Some(b',') => {}
                Some(b']') => break,
                _ => return Err("expected ',' or ']' in an array"),
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// Reads any value, checking its syntax.
    fn skip_value(&mut self) -> Result<(), BadResponse> {
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(&mut |r, _| r.skip_value()),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(drop),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            _ => Err("expected a value"),
        }
    }

    /// A number (RFC 8259 grammar); its text.
    fn number(&mut self) -> Result<&[u8], BadResponse> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.next() {
            Some(b'0') => {}
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err("invalid number"),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.some_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.some_digits()?;
        }
        Ok(self.b.get(start..self.i).unwrap_or_default())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> Result<(), BadResponse> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err("invalid number");
        }
        self.digits();
        Ok(())
    }

    /// A rejected count: an int64 as a number or a decimal string (proto3
    /// JSON), or `null` (0); negative counts are refused.
    fn int64_count(&mut self) -> Result<u64, BadResponse> {
        if self.null()? {
            return Ok(0);
        }
        let text: Vec<u8> = match self.peek() {
            Some(b'"') => self.string()?.to_vec(),
            _ => self.number()?.to_vec(),
        };
        parse_count(&text)
    }

    /// A string, decoded; the bytes are in `self.scratch` (valid UTF-8).
    fn string(&mut self) -> Result<&[u8], BadResponse> {
        self.expect(b'"', "expected a string")?;
        self.scratch.clear();
        loop {
            let run = self.i;
            while matches!(self.peek(), Some(c) if c != b'"' && c != b'\\' && c >= 0x20) {
                self.i += 1;
            }
            let plain = self.b.get(run..self.i).unwrap_or_default();
            self.scratch.extend_from_slice(plain);
            match self.next() {
                Some(b'"') => break,
                Some(b'\\') => self.escape()?,
                Some(_) => return Err("control character in a string"),
                None => return Err("unterminated string"),
            }
        }
        if std::str::from_utf8(&self.scratch).is_err() {
            return Err("invalid UTF-8 in a string");
        }
        Ok(&self.scratch)
    }

    fn string_value(&mut self) -> Result<String, BadResponse> {
        let bytes = self.string()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "invalid UTF-8 in a string")
    }

    /// The escape after a `\`, decoded into `self.scratch`.
    fn escape(&mut self) -> Result<(), BadResponse> {
        let c = match self.next() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let hi = self.hex4()?;
                let code = match hi {
                    0xD800..=0xDBFF => {
                        self.literal(b"\\u").map_err(|_| "unpaired surrogate")?;
                        let lo = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err("unpaired surrogate");
                        }
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err("unpaired surrogate"),
                    _ => hi,
                };
                char::from_u32(code).ok_or("invalid \\u escape")?
            }
            _ => return Err("invalid escape"),
        };
        let mut buf = [0; 4];
        self.scratch
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, BadResponse> {
        let mut v = 0;
        for _ in 0..4 {
            let d = match self.next() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err("invalid \\u escape"),
            };
            v = (v << 4) | u32::from(d);
        }
        Ok(v)
    }
}

/// A count given as an int64's decimal text: digits only (a leading `-`
/// only for zero), within `i64`.
fn parse_count(text: &[u8]) -> Result<u64, BadResponse> {
    let digits = match text.strip_prefix(b"-") {
        Some(d) if !d.is_empty() && d.iter().all(|&c| c == b'0') => return Ok(0),
        Some(_) => return Err("negative rejected count"),
        None => text,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err("rejected count is not an integer");
    }
    let mut n: u64 = 0;
    for &c in digits {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
            .ok_or("rejected count out of range")?;
    }
    if n > i64::MAX as u64 {
        return Err("rejected count out of range");
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ps(rejected: u64, msg: &str) -> PartialSuccess {
        PartialSuccess {
            rejected,
            error_message: msg.into(),
        }
    }

    #[test]
    fn reads_partial_success() {
        let logs = |b: &str| partial_success(b.as_bytes(), Signal::Logs);
        let spans = |b: &str| partial_success(b.as_bytes(), Signal::Traces);
        assert_eq!(logs(""), Ok(ps(0, "")));
        assert_eq!(logs(" \r\n\t"), Ok(ps(0, "")));
        assert_eq!(logs("{}"), Ok(ps(0, "")));
        assert_eq!(logs(r#"{"partialSuccess":{}}"#), Ok(ps(0, "")));
        assert_eq!(logs(r#"{"partialSuccess":null}"#), Ok(ps(0, "")));
        assert_eq!(
            logs(
                r#"{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"bad \"x\"\n\u00e9\ud83d\ude00"}}"#
            ),
            Ok(ps(3, "bad \"x\"\né😀"))
        );
        // A number, the snake_case names, unknown fields (any value) skipped.
        assert_eq!(
            logs(
                r#" { "extra": [1, -2.5e+3, {"a": [true, false, null]}, "s"],
                     "partial_success": {"rejected_log_records": 7, "error_message": "m", "x": {}},
                     "more": 0 } "#
            ),
            Ok(ps(7, "m"))
        );
        // The other signal's count is not this one's.
        assert_eq!(
            logs(r#"{"partialSuccess":{"rejectedSpans":"5"}}"#),
            Ok(ps(0, ""))
        );
        assert_eq!(
            spans(r#"{"partialSuccess":{"rejectedSpans":"5","errorMessage":"too old"}}"#),
            Ok(ps(5, "too old"))
        );
        // A warning only: nothing rejected.
        assert_eq!(
            spans(r#"{"partialSuccess":{"errorMessage":"slow down"}}"#),
            Ok(ps(0, "slow down"))
        );
        // null is the default; "-0" is 0; the largest int64.
        assert_eq!(
            logs(r#"{"partialSuccess":{"rejectedLogRecords":null,"errorMessage":null}}"#),
            Ok(ps(0, ""))
        );
        assert_eq!(
            logs(r#"{"partialSuccess":{"rejectedLogRecords":"-0"}}"#),
            Ok(ps(0, ""))
        );
        assert_eq!(
            logs(r#"{"partialSuccess":{"rejectedLogRecords":"9223372036854775807"}}"#),
            Ok(ps(i64::MAX as u64, ""))
        );
    }

    #[test]
    fn refuses_malformed_bodies_without_panicking() {
        let bad: &[&[u8]] = &[
            b"{",
            b"}",
            b"[]",
            b"null",
            b"\"x\"",
            b"{\"a\"}",
            b"{\"a\":}",
            b"{\"a\":1,}",
            b"{,}",
            b"{\"a\":1 \"b\":2}",
            b"{\"a\":01}",
            b"{\"a\":1.}",
            b"{\"a\":-}",
            b"{\"a\":1e}",
            b"{\"a\":tru}",
            b"{\"a\":nul}",
            b"{\"a\":[1,]}",
            b"{\"a\":[1 2]}",
            b"{\"a\":\"\\x\"}",
            b"{\"a\":\"\\u12\"}",
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":\"\\udc00\"}",
            b"{\"a\":\"\\ud800\\u0041\"}",
            b"{\"a\":\"\x01\"}",
            b"{\"a\":\"\xff\"}",
            b"{\"a\":\"\xe2\x82\"}",
            b"{\"a\":\"unterminated}",
            b"{} {}",
            b"{}x",
            b"\xef\xbb\xbf{}",
            b"{\"partialSuccess\":{\"rejectedLogRecords\":\"-3\"}}",
            b"{\"partialSuccess\":{\"rejectedLogRecords\":-3}}",
            b"{\"partialSuccess\":{\"rejectedLogRecords\":1.5}}",
            b"{\"partialSuccess\":{\"rejectedLogRecords\":\"1e2\"}}",
            b"{\"partialSuccess\":{\"rejectedLogRecords\":\" 3\"}}",
            b"{\"partialSuccess\":{\"rejectedLogRecords\":\"\"}}",
            b"{\"partialSuccess\":{\"rejectedLogRecords\":\"9223372036854775808\"}}",
            b"{\"partialSuccess\":{\"rejectedLogRecords\":\"99999999999999999999999\"}}",
            b"{\"partialSuccess\":{\"rejectedLogRecords\":true}}",
            b"{\"partialSuccess\":{\"errorMessage\":3}}",
            b"{\"partialSuccess\":[]}",
            b"{\"partialSuccess\":\"x\"}",
        ];
        for body in bad {
            assert!(
                partial_success(body, Signal::Logs).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
            // The same for spans, with their field.
            let text = String::from_utf8_lossy(body).replace("rejectedLogRecords", "rejectedSpans");
            if text.as_bytes() == *body || text.contains("rejectedSpans") {
                assert!(
                    partial_success(text.as_bytes(), Signal::Traces).is_err(),
                    "{text:?}"
                );
            }
        }
        // Deep nesting is refused, not a stack overflow.
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(partial_success(deep.as_bytes(), Signal::Logs).is_err());
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(60), "]".repeat(60));
        assert!(partial_success(ok.as_bytes(), Signal::Logs).is_ok());
        // Every prefix of a valid body, and every byte changed: no panic.
        let body = br#"{"partialSuccess":{"rejectedLogRecords":"12","errorMessage":"\u00e9\ud83d\ude00 x"},"z":[1,{"k":null}]}"#;
        for n in 0..body.len() {
            let _ = partial_success(&body[..n], Signal::Logs);
            for b in [0u8, b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', 0xff] {
                let mut v = body.to_vec();
                v[n] = b;
                let _ = partial_success(&v, Signal::Logs);
            }
        }
        assert_eq!(partial_success(body, Signal::Logs), Ok(ps(12, "é😀 x")));
    }

    #[test]
    fn agrees_with_serde_json() {
        use proptest::prelude::*;
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(512));
        let value = proptest::collection::vec(
            prop_oneof![
                Just(&b"{"[..]),
                Just(&b"}"[..]),
                Just(&b"["[..]),
                Just(&b"]"[..]),
                Just(&b","[..]),
                Just(&b":"[..]),
                Just(&b"\"partialSuccess\""[..]),
                Just(&b"\"rejectedLogRecords\""[..]),
                Just(&b"\"errorMessage\""[..]),
                Just(&b"\"3\""[..]),
                Just(&b"42"[..]),
                Just(&b"-1"[..]),
                Just(&b"null"[..]),
                Just(&b"true"[..]),
                Just(&b"\"\\u00e9\""[..]),
                Just(&b" "[..]),
            ],
            0..24,
        );
        let result = runner.run(&value, |parts| {
            let body: Vec<u8> = parts.concat();
            let ours = partial_success(&body, Signal::Logs);
            // Bodies serde_json reads as an object: the same verdict where
            // the fields have the types the protocol gives them.
            if let Ok(serde_json::Value::Object(map)) =
                serde_json::from_slice::<serde_json::Value>(&body)
            {
                // Duplicate keys: serde_json keeps the last value, this
                // reader refuses a bad first one; compare where no field
                // repeats.
                let count = |k: &str| parts.iter().filter(|p| **p == k.as_bytes()).count();
                let repeats = [
                    "\"partialSuccess\"",
                    "\"rejectedLogRecords\"",
                    "\"errorMessage\"",
                ]
                .into_iter()
                .any(|k| count(k) > 1);
                let ps = map.get("partialSuccess");
                let expected = match ps {
                    None | Some(serde_json::Value::Null) => Some(PartialSuccess::default()),
                    Some(serde_json::Value::Object(p)) => {
                        let rejected = match p.get("rejectedLogRecords") {
                            None | Some(serde_json::Value::Null) => Some(0),
                            Some(serde_json::Value::String(s)) => s.parse::<u64>().ok(),
                            Some(serde_json::Value::Number(n)) => n.as_u64(),
                            Some(_) => None,
                        }
                        .filter(|&n| n <= i64::MAX as u64);
                        let message = match p.get("errorMessage") {
                            None | Some(serde_json::Value::Null) => Some(String::new()),
                            Some(serde_json::Value::String(s)) => Some(s.clone()),
                            Some(_) => None,
                        };
                        rejected
                            .zip(message)
                            .map(|(rejected, error_message)| PartialSuccess {
                                rejected,
                                error_message,
                            })
                    }
                    Some(_) => None,
                };
                match (expected, repeats) {
                    (Some(e), false) => prop_assert_eq!(ours, Ok(e)),
                    (None, false) => prop_assert!(ours.is_err()),
                    (e, true) => {
                        if let Ok(o) = ours {
                            prop_assert_eq!(Some(o), e);
                        }
                    }
                }
            } else if !body.iter().all(u8::is_ascii_whitespace) {
                prop_assert!(ours.is_err(), "{:?}", String::from_utf8_lossy(&body));
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}
