//! The answer to an OTLP/HTTP JSON export comes from the collector (or
//! whatever answers in its place): any bytes give the `partialSuccess`'s
//! rejected count and message, or a refusal, never a panic. A body the
//! reader takes is one JSON object (or nothing) that serde_json reads too
//! (but for numbers beyond f64, which RFC 8259 allows and serde_json
//! refuses: the reader only skips them), with the same count and message
//! where each field is named once.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let spans = first & 1 == 1;
    let ours = datapunk_log::__fuzz::otlp_json_response(body, spans);
    let Some((rejected, message)) = ours else {
        return;
    };
    assert!(rejected <= i64::MAX as u64);
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        assert_eq!((rejected, message.as_str()), (0, ""));
        return;
    }
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) if e.to_string().contains("number out of range") => return,
        Err(e) => panic!("accepted a body serde_json refuses: {e}"),
    };
    let Value::Object(top) = parsed else {
        panic!("accepted a body that is not an object");
    };
    let (camel, snake) = if spans {
        ("rejectedSpans", "rejected_spans")
    } else {
        ("rejectedLogRecords", "rejected_log_records")
    };
    if top.contains_key("partial_success") {
        return;
    }
    let Some(ps) = top.get("partialSuccess") else {
        assert_eq!((rejected, message.as_str()), (0, ""));
        return;
    };
    let Value::Object(ps) = ps else {
        assert!(ps.is_null());
        assert_eq!((rejected, message.as_str()), (0, ""));
        return;
    };
    if ps.contains_key(snake) || ps.contains_key("error_message") {
        return;
    }
    let expected = match ps.get(camel) {
        None | Some(Value::Null) => 0,
        Some(Value::String(s)) => s.parse::<u64>().unwrap_or_else(|_| {
            assert!(s.chars().all(|c| c == '-' || c == '0'), "{s:?}");
            0
        }),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(other) => panic!("accepted a count {other}"),
    };
    assert_eq!(rejected, expected);
    let expected_message = match ps.get("errorMessage") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(other) => panic!("accepted a message {other}"),
    };
    assert_eq!(message, expected_message);
});
