//! W3C Trace Context / Baggage propagation and the correlation id: parsing
//! rules from the specs, limits, counters, and inject → extract round trips
//! over plain maps (and `http::HeaderMap` with the `http` feature).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use datapunk_log::propagation::{
    Baggage, Extractor, Injector, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS, Propagated,
    PropagationCounters, TraceParent, TraceState, counters, extract, generate_correlation_id,
    inject, is_valid_correlation_id,
};
use proptest::prelude::*;

/// The counters are process-wide: tests that read them hold this lock, and
/// so does every test that calls `extract` / `inject`.
static LOCK: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counter increments since `before`.
fn delta(before: PropagationCounters) -> PropagationCounters {
    let now = counters();
    PropagationCounters {
        malformed_traceparent: now.malformed_traceparent - before.malformed_traceparent,
        malformed_tracestate: now.malformed_tracestate - before.malformed_tracestate,
        malformed_baggage_members: now.malformed_baggage_members - before.malformed_baggage_members,
        baggage_over_limit: now.baggage_over_limit - before.baggage_over_limit,
        tracestate_duplicate_keys: now.tracestate_duplicate_keys - before.tracestate_duplicate_keys,
    }
}

fn map(headers: &[(&str, &str)]) -> HashMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: u128 = 0x4bf92f3577b34da6a3ce929d0e0e4736;
const SPAN_ID: u64 = 0x00f067aa0ba902b7;

fn sample() -> Propagated {
    let mut tracestate = TraceState::new();
    tracestate.insert("congo", "t61rcWkgMzE").unwrap();
    tracestate.insert("rojo", "00f067aa0ba902b7").unwrap();
    tracestate
        .insert("tenant@vendor", " leading space kept")
        .unwrap();
    let mut baggage = Baggage::new();
    baggage.insert("user", "alice").unwrap();
    baggage
        .insert("note", "50% off, \"quoted\"; back\\slash = ü ✓ \n")
        .unwrap();
    baggage
        .insert_with_properties("region", "eu-west", "ttl=60;sticky")
        .unwrap();
    baggage.insert("empty", "").unwrap();
    Propagated {
        parent: Some(TraceParent {
            trace_id: TRACE_ID,
            span_id: SPAN_ID,
            flags: 1,
        }),
        tracestate,
        baggage,
        correlation_id: Some("req-42/abc".to_string()),
        debug: false,
    }
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

#[test]
fn round_trip_hashmap() {
    let _g = serial();
    let before = counters();
    let p = sample();
    let mut carrier: HashMap<String, String> = HashMap::new();
    inject(&p, &mut carrier);

    // What was written parses back, field by field.
    assert_eq!(
        TraceParent::parse(&carrier["traceparent"]).unwrap(),
        p.parent.unwrap()
    );
    assert_eq!(
        TraceState::parse(&carrier["tracestate"]).unwrap(),
        p.tracestate
    );
    let written = Baggage::parse(&carrier["baggage"]).unwrap();
    assert_eq!(written.iter().next().unwrap().key(), "correlation_id");
    assert_eq!(written.get("correlation_id"), Some("req-42/abc"));
    assert_eq!(written.get("note"), p.baggage.get("note"));

    let back = extract(&carrier);
    assert_eq!(back, p);
    assert_eq!(delta(before), PropagationCounters::default());
}

#[test]
fn round_trip_btreemap() {
    let _g = serial();
    let p = sample();
    let mut carrier: BTreeMap<String, String> = BTreeMap::new();
    inject(&p, &mut carrier);
    assert_eq!(
        carrier.keys().map(String::as_str).collect::<Vec<_>>(),
        ["baggage", "traceparent", "tracestate"]
    );
    assert_eq!(extract(&carrier), p);
}

#[test]
fn round_trip_empty_writes_nothing() {
    let _g = serial();
    let mut carrier: HashMap<String, String> = HashMap::new();
    inject(&Propagated::default(), &mut carrier);
    assert!(carrier.is_empty());
    assert_eq!(extract(&carrier), Propagated::default());
}

#[test]
fn map_carriers_lowercase_keys() {
    let _g = serial();
    let mut carrier: HashMap<String, String> = HashMap::new();
    carrier.set("TraceParent", TP.to_string());
    assert!(carrier.contains_key("traceparent"));
    assert_eq!(Extractor::get(&carrier, "TRACEPARENT"), Some(TP));
    let mut b: BTreeMap<String, String> = BTreeMap::new();
    b.set("X-Request-Id", "r1".to_string());
    assert_eq!(Extractor::get(&b, "x-request-id"), Some("r1"));
}

#[test]
fn invalid_parent_is_not_injected() {
    let _g = serial();
    let mut p = sample();
    p.parent = Some(TraceParent {
        trace_id: 0,
        span_id: 1,
        flags: 1,
    });
    let mut carrier: HashMap<String, String> = HashMap::new();
    inject(&p, &mut carrier);
    assert!(!carrier.contains_key("traceparent"));
    // tracestate is only meaningful with a traceparent.
    assert!(!carrier.contains_key("tracestate"));
    assert!(carrier.contains_key("baggage"));
}

#[test]
fn unknown_flags_are_cleared() {
    let _g = serial();
    // Sampled (0x01) and random (0x02, level 2) are kept; the rest cleared.
    let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09").unwrap();
    assert_eq!(tp.flags, 0x01);
    assert!(tp.is_sampled());
    let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe").unwrap();
    assert_eq!(tp.flags, 0x02);

    let p = Propagated {
        parent: Some(TraceParent {
            trace_id: 1,
            span_id: 2,
            flags: 0xff,
        }),
        ..Propagated::default()
    };
    let mut carrier: HashMap<String, String> = HashMap::new();
    inject(&p, &mut carrier);
    assert_eq!(
        TraceParent::parse(&carrier["traceparent"]).unwrap(),
        TraceParent {
            trace_id: 1,
            span_id: 2,
            flags: 3
        }
    );
    assert!(carrier["traceparent"].ends_with("-03"));
}

// ---------------------------------------------------------------------------
// traceparent
// ---------------------------------------------------------------------------

#[test]
fn traceparent_valid_forms() {
    let expect = TraceParent {
        trace_id: TRACE_ID,
        span_id: SPAN_ID,
        flags: 1,
    };
    let cases = [
        TP.to_string(),
        format!(" {TP}"),
        format!("\t{TP}"),
        format!("{TP} "),
        format!("{TP}\t"),
        format!("\t {TP} \t"),
        // Future versions: first four fields read, the rest ignored.
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like"
            .to_string(),
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-".to_string(),
        "fe-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-ünïcode-later".to_string(),
    ];
    for c in &cases {
        assert_eq!(TraceParent::parse(c), Ok(expect), "{c:?}");
        assert_eq!(c.parse::<TraceParent>(), Ok(expect), "{c:?}");
    }
    assert_eq!(expect.to_string(), TP);
    let unsampled = TraceParent::parse(&TP.replace("-01", "-00")).unwrap();
    assert_eq!(unsampled.flags, 0);
    assert!(!unsampled.is_sampled());
}

#[test]
fn traceparent_display_is_canonical() {
    let tp = TraceParent {
        trace_id: 1,
        span_id: 0xab,
        flags: 1,
    };
    let s = tp.to_string();
    assert_eq!(s.len(), 55);
    assert_eq!(TraceParent::parse(&s), Ok(tp));
    assert_eq!(s, "00-00000000000000000000000000000001-00000000000000ab-01");
}

#[test]
fn traceparent_malformed_table() {
    let _g = serial();
    let table: &[(&str, &str)] = &[
        ("", "empty"),
        ("   \t ", "white space only"),
        ("00", "version only"),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "missing flags",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-",
            "empty flags",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "flags too short",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-001",
            "flags too long",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e47360-00f067aa0ba902b7-01",
            "trace id too long",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "trace id too short",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b70-01",
            "span id too long",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            "span id too short",
        ),
        (
            "000-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "version too long",
        ),
        (
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "version too short",
        ),
        (
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "uppercase trace id",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "uppercase span id",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
            "uppercase flags",
        ),
        (
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "uppercase version",
        ),
        (
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "version ff",
        ),
        (
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "all-zero trace id",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "all-zero span id",
        ),
        (
            "00-00000000000000000000000000000000-0000000000000000-01",
            "all-zero ids",
        ),
        (
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "underscore separators",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736+00f067aa0ba902b7-01",
            "plus separator",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7.01",
            "dot separator",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "non-hex trace id",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
            "non-hex span id",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
            "non-hex flags",
        ),
        (
            ".0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "non-hex version",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "version 00 with trailing dash",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "version 00 with extra field",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.",
            "version 00 with trailing character",
        ),
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what-the-future",
            "future version, no dash after flags",
        ),
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "future version, 56th character not a dash",
        ),
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "future version shorter than 55",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0é",
            "unicode in flags",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
            "unicode in trace id",
        ),
        (
            "\u{a0}00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "non-OWS white space",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n",
            "trailing newline",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736,00f067aa0ba902b7-01",
            "comma (two headers combined)",
        ),
    ];
    let before = counters();
    for (value, why) in table {
        let err = TraceParent::parse(value).expect_err(why);
        assert_eq!(err.header(), "traceparent");
        assert!(
            err.to_string().starts_with("invalid traceparent: "),
            "{why}: {err}"
        );
        // A malformed traceparent starts a new trace; its tracestate is ignored.
        let p = extract(&map(&[("traceparent", value), ("tracestate", "foo=1")]));
        assert_eq!(p.parent, None, "{why}");
        assert!(p.tracestate.is_empty(), "{why}");
    }
    let d = delta(before);
    assert_eq!(d.malformed_traceparent, table.len() as u64);
    assert_eq!(d.malformed_tracestate, 0, "tracestate not parsed");

    // Absent is not malformed.
    let before = counters();
    let p = extract(&map(&[("tracestate", "foo=1")]));
    assert_eq!(p.parent, None);
    assert!(p.tracestate.is_empty());
    assert_eq!(delta(before), PropagationCounters::default());
}

#[test]
fn traceparent_error_messages_say_what_is_wrong() {
    let reason = |v: &str| TraceParent::parse(v).unwrap_err().reason().to_string();
    assert!(reason("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").contains("ff"));
    assert!(reason("00-00000000000000000000000000000000-00f067aa0ba902b7-01").contains("zero"));
    assert!(reason(&format!("{TP}-x")).contains("55"));
    assert!(reason(&TP.to_uppercase()).contains("lowercase"));
}

// ---------------------------------------------------------------------------
// tracestate
// ---------------------------------------------------------------------------

fn keys(ts: &TraceState) -> Vec<&str> {
    ts.iter().map(|(k, _)| k).collect()
}

#[test]
fn tracestate_valid_table() {
    let lcalpha_digits = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
    let all_value_chars: String = (0x20u8..=0x7e)
        .filter(|&c| c != b',' && c != b'=')
        .map(char::from)
        .collect();
    let long_key = "z".repeat(256);
    let tenant_key = format!("{}@{}", "t".repeat(241), "v".repeat(14));
    let long_value = "v".repeat(256);
    let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("".into(), vec![]),
        ("  ,\t, ".into(), vec![]),
        ("foo=1".into(), vec![("foo", "1")]),
        (
            "foo=1 \t , \t bar=2, \t baz=3".into(),
            vec![("foo", "1"), ("bar", "2"), ("baz", "3")],
        ),
        (
            "foo=1\t \t,\t \tbar=2,\t \tbaz=3".into(),
            vec![("foo", "1"), ("bar", "2"), ("baz", "3")],
        ),
        ("\t foo=1 \t".into(), vec![("foo", "1")]),
        (",,foo=1,,".into(), vec![("foo", "1")]),
        ("foo= 1".into(), vec![("foo", " 1")]),
        ("foo=a b".into(), vec![("foo", "a b")]),
        (format!("{lcalpha_digits}=x"), vec![(lcalpha_digits, "x")]),
        (
            format!("{lcalpha_digits}@a-z0-9_-*/=x"),
            vec![("abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/", "x")],
        ),
        ("0tenant@sys=1".into(), vec![("0tenant@sys", "1")]),
        // The current grammar: `(lcalpha / DIGIT) 0*255(keychar)`, `@`
        // anywhere after the first character, any number of times.
        ("1foo=1".into(), vec![("1foo", "1")]),
        ("foo@=1".into(), vec![("foo@", "1")]),
        ("foo@@bar=1".into(), vec![("foo@@bar", "1")]),
        ("foo@bar@baz=1".into(), vec![("foo@bar@baz", "1")]),
        ("foo@1bar=1".into(), vec![("foo@1bar", "1")]),
        (
            format!("{}@v=1", "t".repeat(242)),
            vec![(format!("{}@v", "t".repeat(242)).leak() as &str, "1")],
        ),
        (
            format!("t@{}=1", "v".repeat(15)),
            vec![(format!("t@{}", "v".repeat(15)).leak() as &str, "1")],
        ),
        (
            format!("k={all_value_chars}"),
            vec![("k", all_value_chars.as_str())],
        ),
        (format!("{long_key}=1"), vec![(long_key.as_str(), "1")]),
        (format!("{tenant_key}=1"), vec![(tenant_key.as_str(), "1")]),
        (format!("k={long_value}"), vec![("k", long_value.as_str())]),
    ];
    for (value, expect) in &cases {
        let ts = TraceState::parse(value).unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert_eq!(ts.iter().collect::<Vec<_>>(), *expect, "{value:?}");
        // Display parses back to the same value.
        assert_eq!(TraceState::parse(&ts.to_string()).unwrap(), ts);
    }
}

#[test]
fn tracestate_invalid_table() {
    let cases: Vec<(String, &str)> = vec![
        ("foo".into(), "no '='"),
        ("foo =1".into(), "space in key"),
        ("FOO=1".into(), "uppercase key"),
        ("foo.bar=1".into(), "dot in key"),
        ("_foo=1".into(), "key starting with '_'"),
        ("=1".into(), "empty key"),
        ("@foo=1,bar=2".into(), "key starting with '@'"),
        (format!("{}@v=1", "t".repeat(255)), "key of 257 with '@'"),
        (format!("{}=1", "z".repeat(257)), "key of 257"),
        ("foo=".into(), "empty value"),
        ("foo=,bar=3".into(), "empty value before a valid member"),
        ("foo=bar=baz".into(), "'=' in value"),
        ("foo=a\tb".into(), "tab in value"),
        ("foo=ü".into(), "non-ASCII value"),
        ("foo=a\u{7f}".into(), "DEL in value"),
        (format!("k={}", "v".repeat(257)), "value of 257"),
    ];
    for (value, why) in &cases {
        let err = TraceState::parse(value).expect_err(why);
        assert_eq!(err.header(), "tracestate", "{why}");
    }
}

#[test]
fn tracestate_member_limit_and_multiple_headers() {
    let fields32 = [
        "bar01=01,bar02=02,bar03=03,bar04=04,bar05=05,bar06=06,bar07=07,bar08=08,bar09=09,bar10=10",
        "bar11=11,bar12=12,bar13=13,bar14=14,bar15=15,bar16=16,bar17=17,bar18=18,bar19=19,bar20=20",
        "bar21=21,bar22=22,bar23=23,bar24=24,bar25=25,bar26=26,bar27=27,bar28=28,bar29=29,bar30=30",
        "bar31=31,bar32=32",
    ];
    let ts = TraceState::parse_fields(fields32).unwrap();
    assert_eq!(ts.len(), 32);
    assert_eq!(ts.get("bar01"), Some("01"));
    assert_eq!(ts.get("bar32"), Some("32"));
    assert_eq!(
        TraceState::parse(&fields32.join(",")).unwrap(),
        ts,
        "combining by comma is the same"
    );

    let mut fields33 = fields32;
    fields33[3] = "bar31=31,bar32=32,bar33=33";
    assert!(TraceState::parse_fields(fields33).is_err());

    // Empty members do not count toward the limit.
    let with_empties = format!("{},,, ,", fields32.join(",,"));
    assert_eq!(TraceState::parse(&with_empties).unwrap().len(), 32);

    // Combined in order; an empty field is allowed.
    let ts = TraceState::parse_fields(["foo=1,bar=2", "", "rojo=1,congo=2", "baz=3"]).unwrap();
    assert_eq!(keys(&ts), ["foo", "bar", "rojo", "congo", "baz"]);
    // A key repeated across fields: the first member wins, the repeat is
    // dropped (not the whole header) and counted.
    let _l = serial();
    let before = counters();
    let ts = TraceState::parse_fields(["foo=1", "bar=2,foo=2"]).unwrap();
    assert_eq!(ts.iter().collect::<Vec<_>>(), [("foo", "1"), ("bar", "2")]);
    for (value, want) in [
        ("foo=1,foo=1", vec![("foo", "1")]),
        ("foo=1,foo=2", vec![("foo", "1")]),
        ("bar=1,foo=1,foo=2", vec![("bar", "1"), ("foo", "1")]),
    ] {
        let ts = TraceState::parse(value).unwrap();
        assert_eq!(ts.iter().collect::<Vec<_>>(), want, "{value}");
    }
    assert_eq!(delta(before).tracestate_duplicate_keys, 4);
    // One bad field discards everything.
    assert!(TraceState::parse_fields(["foo=1", "z".repeat(257).as_str()]).is_err());
}

#[test]
fn tracestate_insert_moves_to_front() {
    let mut ts = TraceState::parse("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7").unwrap();
    ts.insert("rojo", "new").unwrap();
    assert_eq!(
        ts.iter().collect::<Vec<_>>(),
        [("rojo", "new"), ("congo", "t61rcWkgMzE")]
    );
    ts.insert("fresh", "1").unwrap();
    assert_eq!(keys(&ts), ["fresh", "rojo", "congo"]);
    assert_eq!(ts.to_string(), "fresh=1,rojo=new,congo=t61rcWkgMzE");

    // Refused inserts change nothing.
    let before = ts.clone();
    assert!(ts.insert("Bad", "1").is_err());
    assert!(ts.insert("ok", "").is_err());
    assert!(ts.insert("ok", "a,b").is_err());
    assert!(ts.insert("ok", "trailing ").is_err());
    assert_eq!(ts, before);

    assert_eq!(ts.remove("rojo"), Some("new".to_string()));
    assert_eq!(ts.remove("rojo"), None);
    assert_eq!(keys(&ts), ["fresh", "congo"]);

    // At 32 entries a new key pushes the last one out.
    let mut full = TraceState::new();
    for i in 0..32 {
        full.insert(&format!("k{i}"), "v").unwrap();
    }
    assert_eq!(full.len(), 32);
    assert_eq!(full.get("k0"), Some("v"));
    full.insert("newest", "v").unwrap();
    assert_eq!(full.len(), 32);
    assert_eq!(keys(&full)[0], "newest");
    assert_eq!(full.get("k0"), None, "the oldest (last) entry is dropped");
    // Updating an existing key at the limit drops nothing.
    full.insert("k1", "w").unwrap();
    assert_eq!(full.len(), 32);
    assert_eq!(keys(&full)[0], "k1");
}

#[test]
fn tracestate_malformed_is_counted_and_discarded() {
    let _g = serial();
    let before = counters();
    let p = extract(&map(&[("traceparent", TP), ("tracestate", "foo=1,FOO=2")]));
    assert_eq!(p.parent.map(|t| t.trace_id), Some(TRACE_ID));
    assert!(p.tracestate.is_empty());
    let d = delta(before);
    assert_eq!(d.malformed_tracestate, 1);
    assert_eq!(d.malformed_traceparent, 0);

    // An empty tracestate header is accepted, not counted.
    let before = counters();
    let p = extract(&map(&[("traceparent", TP), ("tracestate", " ")]));
    assert!(p.parent.is_some());
    assert!(p.tracestate.is_empty());
    assert_eq!(delta(before), PropagationCounters::default());
}

// ---------------------------------------------------------------------------
// Baggage
// ---------------------------------------------------------------------------

#[test]
fn baggage_parse_spec_examples() {
    let b = Baggage::parse(
        "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue",
    )
    .unwrap();
    let members: Vec<_> = b
        .iter()
        .map(|m| (m.key(), m.value(), m.properties()))
        .collect();
    assert_eq!(
        members,
        [
            ("key1", "value1", "property1;property2"),
            ("key2", "value2", ""),
            ("key3", "value3", "propertyKey=propertyValue"),
        ]
    );
    // Properties survive Display → parse.
    assert_eq!(Baggage::parse(&b.to_string()).unwrap(), b);

    let b = Baggage::parse("userId=alice,serverNode=DF%2028,isProduction=false").unwrap();
    assert_eq!(b.get("serverNode"), Some("DF 28"));
    assert_eq!(b.get("isProduction"), Some("false"));

    let b =
        Baggage::parse("userId =   alice, serverNode = DF%2028 ,\tisProduction = false").unwrap();
    assert_eq!(b.get("userId"), Some("alice"));
    assert_eq!(b.get("serverNode"), Some("DF 28"));

    // '=' may appear in values; an empty value is valid.
    let b = Baggage::parse("a=b=c,e=,p=x;k = v ; flag ;k2=").unwrap();
    assert_eq!(b.get("a"), Some("b=c"));
    assert_eq!(b.get("e"), Some(""));
    assert_eq!(b.member("p").unwrap().properties(), "k=v;flag;k2=");
    // Invalid UTF-8 after decoding becomes U+FFFD; a lone '%' stays as is.
    let b = Baggage::parse("bad=%FF%FEok,pct=100%,pz=%zz").unwrap();
    assert_eq!(b.get("bad"), Some("\u{FFFD}\u{FFFD}ok"));
    assert_eq!(b.get("pct"), Some("100%"));
    assert_eq!(b.get("pz"), Some("%zz"));
    // A repeated key: the last value wins, in the first one's place.
    let b = Baggage::parse("a=1,b=2,a=3").unwrap();
    assert_eq!(
        b.iter().map(|m| (m.key(), m.value())).collect::<Vec<_>>(),
        [("a", "3"), ("b", "2")]
    );
}

#[test]
fn baggage_api() {
    let mut b = Baggage::new();
    b.insert("a", "1").unwrap();
    b.insert_with_properties("b", "x y", " p1 ; p2 = v ")
        .unwrap();
    b.insert("c", "3").unwrap();
    b.insert("a", "again").unwrap();
    assert_eq!(
        b.iter().map(|m| m.key()).collect::<Vec<_>>(),
        ["a", "b", "c"],
        "replaced in place"
    );
    assert_eq!(b.get("a"), Some("again"));
    assert_eq!(b.member("b").unwrap().properties(), "p1;p2=v");
    assert_eq!(b.to_string(), "a=again,b=x%20y;p1;p2=v,c=3");
    assert!(b.insert("bad key", "1").is_err());
    assert!(b.insert("", "1").is_err());
    assert!(b.insert_with_properties("k", "v", "a b").is_err());
    assert!(b.insert_with_properties("k", "v", ";a").is_err());
    assert!(b.insert_with_properties("k", "v", "a=\"q\"").is_err());
    assert_eq!(b.len(), 3);
    assert_eq!(
        b.remove("b").map(|m| m.value().to_string()),
        Some("x y".into())
    );
    assert_eq!(b.remove("b"), None);
    assert_eq!(b.len(), 2);
    assert_eq!((&b).into_iter().count(), 2);
}

#[test]
fn baggage_malformed_members_skipped_individually() {
    let _g = serial();
    let header = "good=1,no-equals,bad key=2,sp=a b,q=\"x\",ok2=two;prop,\
                  semi=1;,back=a\\b,=v,prop=1;bad prop,last=3";
    assert!(Baggage::parse(header).is_err());
    let (b, skipped) = Baggage::parse_lenient(header);
    assert_eq!(skipped, 8);
    assert_eq!(
        b.iter().map(|m| (m.key(), m.value())).collect::<Vec<_>>(),
        [("good", "1"), ("ok2", "two"), ("last", "3")]
    );
    assert_eq!(b.member("ok2").unwrap().properties(), "prop");

    let before = counters();
    let p = extract(&map(&[("baggage", header)]));
    assert_eq!(p.baggage, b);
    assert_eq!(delta(before).malformed_baggage_members, 8);

    // Empty members are not malformed.
    let before = counters();
    let p = extract(&map(&[("baggage", " , a=1,,\t,b=2, ")]));
    assert_eq!(p.baggage.len(), 2);
    assert_eq!(delta(before), PropagationCounters::default());
}

#[test]
fn baggage_member_limit_on_inject() {
    let _g = serial();
    let mut p = Propagated::default();
    for i in 0..100 {
        p.baggage.insert(&format!("k{i:03}"), "v").unwrap();
    }
    let before = counters();
    let mut carrier: HashMap<String, String> = HashMap::new();
    inject(&p, &mut carrier);
    assert_eq!(
        delta(before).baggage_over_limit,
        100 - MAX_BAGGAGE_MEMBERS as u64
    );
    let sent = Baggage::parse(&carrier["baggage"]).unwrap();
    assert_eq!(sent.len(), MAX_BAGGAGE_MEMBERS);
    // The first 64, in order, whole.
    let expect: Vec<_> = p.baggage.iter().take(MAX_BAGGAGE_MEMBERS).collect();
    assert_eq!(sent.iter().collect::<Vec<_>>(), expect);

    // With a correlation id, it goes first and counts as a member.
    p.correlation_id = Some("cid".into());
    let before = counters();
    inject(&p, &mut carrier);
    assert_eq!(delta(before).baggage_over_limit, 100 - 63);
    let back = extract(&carrier);
    assert_eq!(back.correlation_id.as_deref(), Some("cid"));
    assert_eq!(back.baggage.len(), 63);
}

#[test]
fn baggage_byte_limit_on_inject() {
    let _g = serial();
    // 10 members of 1000 bytes each ("kN=" + value): 8 fit in 8192 bytes.
    let mut p = Propagated::default();
    for i in 0..10 {
        p.baggage
            .insert(&format!("k{i}"), &"x".repeat(997))
            .unwrap();
    }
    let before = counters();
    let mut carrier: HashMap<String, String> = HashMap::new();
    inject(&p, &mut carrier);
    let header = &carrier["baggage"];
    assert!(header.len() <= MAX_BAGGAGE_BYTES);
    let sent = Baggage::parse(header).unwrap();
    assert_eq!(sent.len(), 8);
    for m in sent.iter() {
        assert_eq!(m.value().len(), 997, "members are never cut");
    }
    assert_eq!(delta(before).baggage_over_limit, 2);

    // Percent-encoding counts: a value that only fits decoded is dropped.
    let mut p = Propagated::default();
    p.baggage.insert("small", "1").unwrap();
    p.baggage.insert("big", &" ".repeat(3000)).unwrap(); // 9000 bytes encoded
    p.baggage.insert("after", "2").unwrap();
    let before = counters();
    let mut carrier: HashMap<String, String> = HashMap::new();
    inject(&p, &mut carrier);
    let sent = Baggage::parse(&carrier["baggage"]).unwrap();
    assert_eq!(
        sent.iter().map(|m| m.key()).collect::<Vec<_>>(),
        ["small"],
        "members dropped from the end"
    );
    assert_eq!(delta(before).baggage_over_limit, 2);

    // Exactly 8192 bytes fits.
    let mut p = Propagated::default();
    p.baggage.insert("k", &"x".repeat(8190)).unwrap();
    let mut carrier: HashMap<String, String> = HashMap::new();
    let before = counters();
    inject(&p, &mut carrier);
    assert_eq!(carrier["baggage"].len(), 8192);
    assert_eq!(delta(before).baggage_over_limit, 0);
    p.baggage.insert("k", &"x".repeat(8191)).unwrap();
    let mut carrier: HashMap<String, String> = HashMap::new();
    inject(&p, &mut carrier);
    assert!(!carrier.contains_key("baggage"), "nothing left to send");
    assert_eq!(delta(before).baggage_over_limit, 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any text survives inject → extract as a baggage value.
    #[test]
    fn baggage_values_round_trip(value in any::<String>(), key in "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}") {
        let _g = serial();
        prop_assume!(key != "correlation_id" && key != "z");
        let mut p = Propagated::default();
        p.baggage.insert(&key, &value).unwrap();
        p.baggage.insert("z", "tail").unwrap();
        let mut carrier: HashMap<String, String> = HashMap::new();
        inject(&p, &mut carrier);
        let back = extract(&carrier);
        prop_assert_eq!(back.baggage.get(&key), Some(value.as_str()));
        prop_assert_eq!(back, p);
    }

    /// Whatever the headers hold, extract does not panic, and what it
    /// returns re-injects into headers that extract to the same value.
    #[test]
    fn extract_never_panics_and_round_trip_is_stable(
        tp in prop_oneof![any::<String>(), "[0-9a-f-]{50,60}", Just(TP.to_string())],
        ts in any::<String>(),
        bg in prop_oneof![any::<String>(), "[ -~]{0,80}"],
        cid in any::<String>(),
        rid in any::<String>(),
    ) {
        let _g = serial();
        let headers = map(&[
            ("traceparent", &tp),
            ("tracestate", &ts),
            ("baggage", &bg),
            ("x-correlation-id", &cid),
            ("x-request-id", &rid),
        ]);
        let p1 = extract(&headers);
        let mut h1: HashMap<String, String> = HashMap::new();
        inject(&p1, &mut h1);
        let p2 = extract(&h1);
        prop_assert_eq!(&p2, &p1);
        let mut h2: HashMap<String, String> = HashMap::new();
        inject(&p2, &mut h2);
        prop_assert_eq!(h2, h1);
    }

    /// Parsers never panic, and Display output parses back.
    #[test]
    fn parsers_total(s in any::<String>()) {
        if let Ok(tp) = TraceParent::parse(&s) {
            prop_assert_eq!(TraceParent::parse(&tp.to_string()), Ok(tp));
        }
        if let Ok(ts) = TraceState::parse(&s) {
            prop_assert_eq!(TraceState::parse(&ts.to_string()), Ok(ts));
        }
        let (lenient, _) = Baggage::parse_lenient(&s);
        prop_assert_eq!(Baggage::parse(&lenient.to_string()), Ok(lenient));
    }
}

// ---------------------------------------------------------------------------
// Correlation id
// ---------------------------------------------------------------------------

#[test]
fn correlation_id_precedence() {
    let _g = serial();
    let cid = |headers: &[(&str, &str)]| extract(&map(headers)).correlation_id;
    let all = [
        ("baggage", "correlation_id=from-baggage,other=1"),
        ("x-correlation-id", "from-xcid"),
        ("x-request-id", "from-xrid"),
    ];
    assert_eq!(cid(&all).as_deref(), Some("from-baggage"));
    assert_eq!(cid(&all[1..]).as_deref(), Some("from-xcid"));
    assert_eq!(cid(&all[2..]).as_deref(), Some("from-xrid"));
    assert_eq!(cid(&[]), None);

    // The baggage member used is moved into `correlation_id`.
    let p = extract(&map(&all));
    assert_eq!(p.baggage.get("correlation_id"), None);
    assert_eq!(p.baggage.get("other"), Some("1"));

    // Invalid candidates are skipped.
    let too_long = "x".repeat(129);
    let invalid_baggage = [
        ("baggage", "correlation_id=has%20space"),
        ("x-correlation-id", ""),
        ("x-request-id", "  rid-7  "),
    ];
    assert_eq!(cid(&invalid_baggage).as_deref(), Some("rid-7"));
    // ... and an invalid baggage member stays an ordinary member.
    let p = extract(&map(&invalid_baggage));
    assert_eq!(p.baggage.get("correlation_id"), Some("has space"));
    assert_eq!(
        cid(&[
            ("baggage", "correlation_id="),
            ("x-correlation-id", &too_long),
            ("x-request-id", "ok"),
        ])
        .as_deref(),
        Some("ok")
    );
    assert_eq!(
        cid(&[("x-correlation-id", "tab\tinside"), ("x-request-id", "ünï")]),
        None
    );
    let max = "y".repeat(128);
    assert_eq!(
        cid(&[("x-correlation-id", &max)]).as_deref(),
        Some(max.as_str())
    );

    // Injected as baggage, extracted back.
    let p = Propagated {
        correlation_id: Some("abc-123".into()),
        ..Propagated::default()
    };
    let mut carrier: HashMap<String, String> = HashMap::new();
    inject(&p, &mut carrier);
    assert_eq!(carrier["baggage"], "correlation_id=abc-123");
    assert_eq!(extract(&carrier), p);

    // The correlation id replaces a baggage member of the same key.
    let mut p = Propagated::default();
    p.baggage.insert("correlation_id", "old value").unwrap();
    p.baggage.insert("k", "v").unwrap();
    p.correlation_id = Some("new".into());
    let mut carrier: HashMap<String, String> = HashMap::new();
    inject(&p, &mut carrier);
    let sent = Baggage::parse(&carrier["baggage"]).unwrap();
    assert_eq!(
        sent.iter()
            .map(|m| (m.key(), m.value()))
            .collect::<Vec<_>>(),
        [("correlation_id", "new"), ("k", "v")]
    );
}

#[test]
fn correlation_id_validity() {
    assert!(is_valid_correlation_id("a"));
    assert!(is_valid_correlation_id("!~{}"));
    assert!(is_valid_correlation_id(&"x".repeat(128)));
    assert!(!is_valid_correlation_id(""));
    assert!(!is_valid_correlation_id(&"x".repeat(129)));
    assert!(!is_valid_correlation_id("a b"));
    assert!(!is_valid_correlation_id("é"));
    assert!(!is_valid_correlation_id("a\n"));
}

#[test]
fn generated_correlation_ids() {
    let mut seen = HashSet::new();
    for _ in 0..10_000 {
        let id = generate_correlation_id();
        assert_eq!(id.len(), 32);
        assert!(
            id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{id}"
        );
        assert!(seen.insert(id), "duplicate id");
    }

    let mut p = Propagated::default();
    let id = p.ensure_correlation_id().to_string();
    assert_eq!(id.len(), 32);
    assert_eq!(p.correlation_id.as_deref(), Some(id.as_str()));
    assert_eq!(p.ensure_correlation_id(), id, "kept once set");

    let mut p = Propagated {
        correlation_id: Some("mine".into()),
        ..Propagated::default()
    };
    assert_eq!(p.ensure_correlation_id(), "mine");
    let mut p = Propagated {
        correlation_id: Some("not valid".into()),
        ..Propagated::default()
    };
    assert_ne!(p.ensure_correlation_id(), "not valid");

    let mut seen = HashSet::new();
    for _ in 0..10_000 {
        let mut p = Propagated::default();
        assert!(seen.insert(p.ensure_correlation_id().to_string()));
    }
}

// ---------------------------------------------------------------------------
// http::HeaderMap
// ---------------------------------------------------------------------------

#[cfg(feature = "http")]
mod http_carrier {
    use super::*;
    use http::{HeaderMap, HeaderName, HeaderValue};

    #[test]
    fn round_trip_header_map() {
        let _g = serial();
        let before = counters();
        let p = sample();
        let mut headers = HeaderMap::new();
        inject(&p, &mut headers);
        assert_eq!(headers.len(), 3);
        assert_eq!(
            TraceParent::parse(headers["traceparent"].to_str().unwrap()).unwrap(),
            p.parent.unwrap()
        );
        assert_eq!(extract(&headers), p);
        // Injecting again replaces, never appends.
        inject(&p, &mut headers);
        assert_eq!(headers.get_all("baggage").iter().count(), 1);
        assert_eq!(extract(&headers), p);
        assert_eq!(delta(before), PropagationCounters::default());
    }

    #[test]
    fn header_names_case_insensitive_and_fields_combined() {
        let _g = serial();
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("traceparent"),
            HeaderValue::from_static(TP),
        );
        headers.append("tracestate", HeaderValue::from_static("foo=1,bar=2"));
        headers.append("tracestate", HeaderValue::from_static(""));
        headers.append("tracestate", HeaderValue::from_static("rojo=1,congo=2"));
        headers.append("baggage", HeaderValue::from_static("a=1"));
        headers.append("baggage", HeaderValue::from_static("b=2,a=3"));
        assert_eq!(Extractor::get(&headers, "TraceParent"), Some(TP));
        assert_eq!(Extractor::get(&headers, "not a header name"), None);
        let p = extract(&headers);
        assert_eq!(p.parent.map(|t| t.span_id), Some(SPAN_ID));
        assert_eq!(keys(&p.tracestate), ["foo", "bar", "rojo", "congo"]);
        assert_eq!(
            p.baggage
                .iter()
                .map(|m| (m.key(), m.value()))
                .collect::<Vec<_>>(),
            [("a", "3"), ("b", "2")]
        );

        // A key repeated across tracestate fields: the repeat is dropped.
        headers.append("tracestate", HeaderValue::from_static("foo=9"));
        let before = counters();
        let p = extract(&headers);
        assert!(p.parent.is_some());
        assert_eq!(keys(&p.tracestate), ["foo", "bar", "rojo", "congo"]);
        assert_eq!(p.tracestate.get("foo"), Some("1"));
        assert_eq!(delta(before).tracestate_duplicate_keys, 1);
        assert_eq!(delta(before).malformed_tracestate, 0);
    }

    #[test]
    fn duplicate_traceparent_is_malformed() {
        let _g = serial();
        let mut headers = HeaderMap::new();
        headers.append("traceparent", HeaderValue::from_static(TP));
        headers.append(
            "traceparent",
            HeaderValue::from_static("00-12345678901234567890123456789012-1234567890123456-01"),
        );
        headers.append("tracestate", HeaderValue::from_static("foo=1"));
        let before = counters();
        let p = extract(&headers);
        assert_eq!(p.parent, None);
        assert!(p.tracestate.is_empty());
        assert_eq!(delta(before).malformed_traceparent, 1);
    }

    #[test]
    fn non_text_values_are_malformed_not_panics() {
        let _g = serial();
        let bad =
            HeaderValue::from_bytes(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\xff")
                .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", bad.clone());
        headers.append("baggage", HeaderValue::from_static("ok=1"));
        headers.append(
            "baggage",
            HeaderValue::from_bytes(b"caf\xc3\xa9=1").unwrap(),
        );
        headers.insert("x-correlation-id", bad.clone());
        headers.insert("x-request-id", HeaderValue::from_static("rid"));
        let before = counters();
        let p = extract(&headers);
        assert_eq!(p.parent, None);
        assert_eq!(p.baggage.get("ok"), Some("1"));
        assert_eq!(p.baggage.len(), 1);
        assert_eq!(p.correlation_id.as_deref(), Some("rid"));
        let d = delta(before);
        assert_eq!(d.malformed_traceparent, 1);
        assert_eq!(d.malformed_baggage_members, 1);

        // Valid traceparent, non-text tracestate: tracestate dropped, counted.
        headers.insert("traceparent", HeaderValue::from_static(TP));
        headers.insert("tracestate", bad);
        let before = counters();
        let p = extract(&headers);
        assert!(p.parent.is_some());
        assert!(p.tracestate.is_empty());
        assert_eq!(delta(before).malformed_tracestate, 1);
    }

    #[test]
    fn injector_skips_invalid_names_and_values() {
        let mut headers = HeaderMap::new();
        headers.set("bad name", "v".into());
        headers.set("ok", "bad\nvalue".into());
        assert!(headers.is_empty());
        headers.set("X-Mixed", "v".into());
        assert_eq!(headers["x-mixed"], "v");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary bytes in header values never panic extract.
        #[test]
        fn extract_header_map_never_panics(
            values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 5),
        ) {
            let _g = serial();
            let names = ["traceparent", "tracestate", "baggage", "x-correlation-id", "x-request-id"];
            let mut headers = HeaderMap::new();
            for (name, v) in names.iter().zip(&values) {
                if let Ok(v) = HeaderValue::from_bytes(v) {
                    headers.append(*name, v);
                }
            }
            let p1 = extract(&headers);
            let mut h1 = HeaderMap::new();
            inject(&p1, &mut h1);
            prop_assert_eq!(extract(&h1), p1);
        }
    }
}

#[test]
fn multi_field_map_carriers_keep_repeated_headers() {
    let _g = serial();
    let fields = |pairs: &[(&str, &[&str])]| -> HashMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect()
    };
    let h = fields(&[
        ("traceparent", &[TP]),
        ("tracestate", &["foo=1,bar=2", "rojo=3"]),
        ("baggage", &["a=1", "b=2"]),
    ]);
    let p = extract(&h);
    assert_eq!(p.parent.map(|t| t.trace_id), Some(TRACE_ID));
    assert_eq!(keys(&p.tracestate), ["foo", "bar", "rojo"]);
    assert_eq!(p.baggage.get("b"), Some("2"));
    let b: std::collections::BTreeMap<String, Vec<String>> = h.clone().into_iter().collect();
    assert_eq!(extract(&b), p);

    // Two traceparent fields: the context is invalid, counted once, and
    // the tracestate is ignored with it.
    let before = counters();
    let two = fields(&[("traceparent", &[TP, TP]), ("tracestate", &["foo=1"])]);
    let p = extract(&two);
    assert_eq!(p.parent, None);
    assert!(p.tracestate.is_empty());
    assert_eq!(delta(before).malformed_traceparent, 1);
}
