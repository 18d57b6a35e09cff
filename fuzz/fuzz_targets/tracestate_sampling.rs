//! A `tracestate` comes from the network and the sampler reads its `ot`
//! member: parsing never panics; an `ot` value written back parses to the
//! same value; and a remote parent's tracestate that parsed survives a
//! span of this process (the span's tracestate, sent on by
//! `Propagated::current()`, parses and keeps every member but `ot`).
#![no_main]
use std::collections::HashMap;
use std::sync::OnceLock;

use datapunk_log::propagation::{Propagated, extract};
use datapunk_log::sampler::threshold::{OtValue, Threshold};
use libfuzzer_sys::fuzz_target;

fn engine() {
    static GUARD: OnceLock<datapunk_log::Guard> = OnceLock::new();
    GUARD.get_or_init(|| {
        datapunk_log::builder()
            .null()
            .ignore_env()
            .init()
            .expect("init")
    });
}

fuzz_target!(|data: &[u8]| {
    engine();
    let text = String::from_utf8_lossy(data);

    let (ot, _) = OtValue::parse(&text);
    let mut written = String::new();
    ot.write(&mut written);
    let (again, issues) = OtValue::parse(&written);
    assert_eq!(again, ot, "{written:?}");
    // Only a length issue may come back: a long value stays long.
    assert!(
        !issues.th_invalid && !issues.rv_invalid && !issues.malformed && !issues.duplicate,
        "{written:?}: {issues:?}"
    );
    if let Some(t) = Threshold::parse(&text) {
        let mut buf = [0u8; 14];
        let th = t.encode(&mut buf).expect("a parsed th is encodable");
        assert_eq!(Threshold::parse(th), Some(t));
    }

    let mut headers = HashMap::new();
    headers.insert(
        "traceparent".to_string(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
    );
    headers.insert("tracestate".to_string(), text.into_owned());
    let incoming = extract(&headers);
    let span = datapunk_log::span!(parent: &incoming, "fuzz");
    let out = {
        let _e = span.enter();
        Propagated::current()
    };
    for (k, v) in incoming.tracestate.iter().filter(|(k, _)| *k != "ot") {
        assert_eq!(out.tracestate.get(k), Some(v), "member {k} lost");
    }
    // An incoming ot with a valid rv or other sub-key is sent on (its th
    // may be erased as inconsistent; a malformed one is dropped, counted).
    if let Some(ot) = incoming.tracestate.get("ot")
        && let (parsed, _) = OtValue::parse(ot)
        && (parsed.rv.is_some() || !parsed.rest.is_empty())
    {
        assert!(out.tracestate.get("ot").is_some(), "ot lost: {:?}", incoming.tracestate);
    }
    assert_eq!(span.tracestate(), out.tracestate);
});
