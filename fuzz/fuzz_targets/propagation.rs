//! Propagation headers come from the network: extracting them must never
//! panic, and what is extracted must survive inject → extract unchanged
//! (after the first inject, which may only drop baggage over the limits or
//! replace a baggage `correlation_id` that was no valid id).
#![no_main]
use std::collections::HashMap;

use datapunk_log::propagation::{Baggage, TraceParent, TraceState, extract, inject};
use libfuzzer_sys::fuzz_target;

const HEADERS: [&str; 5] = [
    "traceparent",
    "tracestate",
    "baggage",
    "x-correlation-id",
    "x-request-id",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut carrier: HashMap<String, String> = HashMap::new();
    for (name, value) in HEADERS.iter().zip(text.split('\n')) {
        carrier.insert(name.to_string(), value.to_string());

        // Each parser on its own: Display output parses back to the same value.
        if let Ok(tp) = TraceParent::parse(value) {
            assert_eq!(TraceParent::parse(&tp.to_string()), Ok(tp));
        }
        if let Ok(ts) = TraceState::parse(value) {
            assert_eq!(TraceState::parse(&ts.to_string()), Ok(ts));
        }
        let (b, _) = Baggage::parse_lenient(value);
        assert_eq!(Baggage::parse(&b.to_string()), Ok(b));
    }

    let p1 = extract(&carrier);
    let mut h1: HashMap<String, String> = HashMap::new();
    inject(&p1, &mut h1);
    let p2 = extract(&h1);
    assert_eq!(p2.parent, p1.parent);
    assert_eq!(p2.tracestate, p1.tracestate);
    assert_eq!(p2.correlation_id, p1.correlation_id);
    for m in p2.baggage.iter() {
        assert_eq!(
            p1.baggage.member(m.key()),
            Some(m),
            "baggage member changed"
        );
    }

    // From here on the round trip is exact.
    let mut h2: HashMap<String, String> = HashMap::new();
    inject(&p2, &mut h2);
    assert_eq!(h2, h1);
    assert_eq!(extract(&h2), p2);
});
