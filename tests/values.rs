//! Every value type round-trips through a record: integers at their limits
//! (compared on the raw number text), floats bit-exact, non-finite floats,
//! text, bytes, options, smart pointers and errors; plus a property test.

mod common;

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{Line, lines_for, lines_of, serial, single};
use datapunk_log::MemorySink;
use proptest::prelude::*;
use serde_json::json;

/// The engine all tests of this file share.
fn sink() -> &'static MemorySink {
    common::shared_sink(|b| b.filter("trace"))
}

#[test]
fn integers_at_their_limits() {
    sink();
    datapunk_log::info!(
        target: "v.int",
        u8min = u8::MIN, u8max = u8::MAX,
        u16max = u16::MAX, u32max = u32::MAX,
        u64max = u64::MAX, usizemax = usize::MAX,
        i8min = i8::MIN, i8max = i8::MAX,
        i16min = i16::MIN, i16max = i16::MAX,
        i32min = i32::MIN, i32max = i32::MAX,
        i64min = i64::MIN, i64max = i64::MAX,
        isizemin = isize::MIN, isizemax = isize::MAX,
        u128max = u128::MAX, u128mid = 1u128 << 64,
        i128min = i128::MIN, i128max = i128::MAX, i128neg = -1i128,
        zero = 0u64, negzero = -0i32,
        nzu = std::num::NonZeroU64::new(u64::MAX).unwrap(),
        nzi = std::num::NonZeroI8::new(i8::MIN).unwrap(),
        nz32 = std::num::NonZeroU32::new(7).unwrap(),
    );
    let l = single(sink(), "v.int");
    let want: [(&str, String); 26] = [
        ("u8min", u8::MIN.to_string()),
        ("u8max", u8::MAX.to_string()),
        ("u16max", u16::MAX.to_string()),
        ("u32max", u32::MAX.to_string()),
        ("u64max", u64::MAX.to_string()),
        ("usizemax", usize::MAX.to_string()),
        ("i8min", i8::MIN.to_string()),
        ("i8max", i8::MAX.to_string()),
        ("i16min", i16::MIN.to_string()),
        ("i16max", i16::MAX.to_string()),
        ("i32min", i32::MIN.to_string()),
        ("i32max", i32::MAX.to_string()),
        ("i64min", i64::MIN.to_string()),
        ("i64max", i64::MAX.to_string()),
        ("isizemin", isize::MIN.to_string()),
        ("isizemax", isize::MAX.to_string()),
        ("u128max", u128::MAX.to_string()),
        ("u128mid", (1u128 << 64).to_string()),
        ("i128min", i128::MIN.to_string()),
        ("i128max", i128::MAX.to_string()),
        ("i128neg", "-1".to_string()),
        ("zero", "0".to_string()),
        ("negzero", "0".to_string()),
        ("nzu", u64::MAX.to_string()),
        ("nzi", i8::MIN.to_string()),
        ("nz32", "7".to_string()),
    ];
    for (k, v) in &want {
        assert_eq!(l.raw_value(k), v, "raw text of {k}");
    }
    // serde_json agrees where it can represent the value.
    assert_eq!(l.get("u64max").as_u64(), Some(u64::MAX));
    assert_eq!(l.get("i64min").as_i64(), Some(i64::MIN));
    // 128-bit values parse exactly from the raw text.
    assert_eq!(l.raw_value("u128max").parse::<u128>().unwrap(), u128::MAX);
    assert_eq!(l.raw_value("i128min").parse::<i128>().unwrap(), i128::MIN);
}

#[test]
fn floats_are_bit_exact_and_non_finite_become_strings() {
    sink();
    let f64s = [
        0.0,
        -0.0,
        1.0,
        -2.5,
        0.1,
        1.0 / 3.0,
        1e300,
        -1e-300,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        5e-324,
        f64::EPSILON,
        123456789.0,
    ];
    for (i, v) in f64s.iter().enumerate() {
        datapunk_log::info!(target: "v.f64", i, v = *v);
    }
    let f32s = [
        0.0f32,
        -0.0,
        0.1,
        -1.5,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        1e-45,
        16_777_217.0,
        3.4028235e38,
    ];
    for (i, v) in f32s.iter().enumerate() {
        datapunk_log::info!(target: "v.f32", i, v = *v);
    }
    datapunk_log::info!(
        target: "v.nonfinite",
        nan = f64::NAN,
        inf = f64::INFINITY,
        ninf = f64::NEG_INFINITY,
        nan32 = f32::NAN,
        inf32 = f32::INFINITY,
        ninf32 = f32::NEG_INFINITY,
        negnan = -f64::NAN,
    );

    let lines = lines_for(sink(), "v.f64");
    assert_eq!(lines.len(), f64s.len());
    for l in &lines {
        let want = f64s[l.u64("i") as usize];
        let raw = l.raw_value("v");
        let got: f64 = raw.parse().unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "f64 {want:e} written as {raw}"
        );
        assert_eq!(l.get("v").as_f64().unwrap().to_bits(), want.to_bits());
    }
    let lines = lines_for(sink(), "v.f32");
    assert_eq!(lines.len(), f32s.len());
    for l in &lines {
        let want = f32s[l.u64("i") as usize];
        let raw = l.raw_value("v");
        let got: f32 = raw.parse().unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "f32 {want:e} written as {raw}"
        );
        // The shortest f32 text, not the f64 widening (0.1f32 is "0.1").
        assert!(raw.len() <= 16, "f32 {want:e} written as long text {raw}");
    }
    let l = single(sink(), "v.nonfinite");
    for (k, v) in [
        ("nan", "NaN"),
        ("inf", "inf"),
        ("ninf", "-inf"),
        ("nan32", "NaN"),
        ("inf32", "inf"),
        ("ninf32", "-inf"),
        ("negnan", "NaN"),
    ] {
        assert_eq!(l.get(k), &json!(v), "{k}");
    }
}

#[test]
fn text_bool_char_option_and_pointers() {
    sink();
    let owned = String::from("owned string");
    let borrowed: Cow<str> = Cow::Borrowed("cow borrowed");
    let cow_owned: Cow<str> = Cow::Owned("cow owned".into());
    let arc: Arc<str> = Arc::from("arc str");
    let rc = Rc::new(String::from("rc string"));
    let boxed = Box::new(17u32);
    let mut m = 5i64;
    let mref = &mut m;
    datapunk_log::info!(
        target: "v.misc",
        t = true,
        f = false,
        c = 'é',
        quote = '"',
        nl = '\n',
        emoji = '😀',
        s = "literal str",
        owned,
        borrowed,
        cow_owned,
        arc,
        rc,
        boxed,
        mref,
        some = Some(5u8),
        none = None::<u8>,
        some_str = Some("x"),
        nested = Some(Some(2.5f64)),
        refref = &&&9u16,
        empty = "",
        unit_dbg = ?(),
    );
    let l = single(sink(), "v.misc");
    let want = json!({
        "t": true, "f": false, "c": "é", "quote": "\"", "nl": "\n", "emoji": "😀",
        "s": "literal str", "owned": "owned string", "borrowed": "cow borrowed",
        "cow_owned": "cow owned", "arc": "arc str", "rc": "rc string", "boxed": 17,
        "mref": 5, "some": 5, "none": null, "some_str": "x", "nested": 2.5,
        "refref": 9, "empty": "", "unit_dbg": "()",
    });
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(l.get(k), v, "{k}");
    }
}

#[test]
fn byte_strings_replace_invalid_utf8_and_count_it() {
    let _s = serial();
    sink();
    datapunk_log::flush();
    let before = datapunk_log::stats().invalid_utf8;
    let valid: &[u8] = "plain é".as_bytes();
    let invalid: &[u8] = b"ab\xffcd\xc3";
    let vec = vec![0xf0u8, 0x9f, 0x98, b'x'];
    let arr = *b"arr\x80";
    datapunk_log::info!(
        target: "v.bytes",
        valid,
        invalid,
        vec,
        arr = &arr[..],
        fixed = arr,
        ctrl = &b"\x00\"\\\n"[..],
    );
    let l = single(sink(), "v.bytes");
    assert_eq!(l.str("valid"), "plain é");
    assert_eq!(l.str("invalid"), String::from_utf8_lossy(invalid));
    assert_eq!(l.str("invalid"), "ab\u{FFFD}cd\u{FFFD}");
    assert_eq!(l.str("vec"), "\u{FFFD}x");
    assert_eq!(l.str("arr"), "arr\u{FFFD}");
    assert_eq!(l.str("fixed"), "arr\u{FFFD}");
    assert_eq!(l.str("ctrl"), "\u{0}\"\\\n");
    // One count per byte-string value holding invalid UTF-8.
    assert_eq!(datapunk_log::stats().invalid_utf8 - before, 4);
}

#[derive(Debug)]
struct Inner;
impl fmt::Display for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("disk on fire")
    }
}
impl Error for Inner {}

#[derive(Debug)]
struct Middle(Inner);
impl fmt::Display for Middle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot write block")
    }
}
impl Error for Middle {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

#[derive(Debug)]
struct Outer {
    inner: Middle,
}
impl fmt::Display for Outer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("save failed: \"doc\"")
    }
}
impl Error for Outer {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.inner)
    }
}

/// An error whose Debug output does not start with a type name.
struct Opaque;
impl fmt::Debug for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<opaque>")
    }
}
impl fmt::Display for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("opaque failure")
    }
}
impl Error for Opaque {}

#[test]
fn errors_with_source_chains() {
    sink();
    let e = Outer {
        inner: Middle(Inner),
    };
    datapunk_log::error!(target: "v.err", case = 1, error = &e as &dyn Error, "failed");
    let boxed: Box<dyn Error + Send + Sync> = Box::new(Middle(Inner));
    datapunk_log::error!(target: "v.err", case = 2, err = boxed);
    let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file: a.txt");
    datapunk_log::error!(target: "v.err", case = 3, io);
    let leaf = Inner;
    datapunk_log::error!(target: "v.err", case = 4, e = &leaf as &dyn Error);
    let opaque = Opaque;
    datapunk_log::error!(target: "v.err", case = 5, e = &opaque as &dyn Error);
    let (first, second) = (Inner, Middle(Inner));
    datapunk_log::error!(
        target: "v.err",
        case = 6,
        first = &first as &dyn Error,
        second = &second as &dyn Error,
        after = 1,
    );
    let send: &(dyn Error + Send) = &leaf;
    datapunk_log::error!(target: "v.err", case = 7, send);

    let lines = lines_for(sink(), "v.err");
    assert_eq!(lines.len(), 7);
    let case = |c: u64| lines.iter().find(|l| l.u64("case") == c).unwrap();

    let l = case(1);
    assert_eq!(l.message(), "failed");
    assert!(
        !l.has("error"),
        "the error's own key is replaced: {}",
        l.raw
    );
    assert_eq!(l.str("exception.type"), "Outer");
    assert_eq!(l.str("exception.message"), "save failed: \"doc\"");
    assert_eq!(
        l.str("exception.stacktrace"),
        "Outer: save failed: \"doc\"\ncaused by: cannot write block\ncaused by: disk on fire"
    );
    assert!(l.str("exception.stacktrace").contains("caused by:"));
    assert_eq!(
        &l.keys()[l.keys().len() - 4..],
        [
            "case",
            "exception.type",
            "exception.message",
            "exception.stacktrace"
        ]
    );

    let l = case(2);
    assert_eq!(l.str("exception.type"), "Middle");
    assert_eq!(l.str("exception.message"), "cannot write block");
    assert_eq!(
        l.str("exception.stacktrace"),
        "Middle: cannot write block\ncaused by: disk on fire"
    );

    let l = case(3);
    assert_eq!(l.str("exception.type"), "std::io::Error");
    assert_eq!(l.str("exception.message"), "no such file: a.txt");
    assert!(
        l.str("exception.stacktrace")
            .starts_with("std::io::Error: no such file: a.txt"),
        "{}",
        l.raw
    );

    let l = case(4);
    assert_eq!(l.str("exception.type"), "Inner");
    assert_eq!(l.str("exception.stacktrace"), "Inner: disk on fire");

    let l = case(5);
    assert_eq!(l.str("exception.type"), "Error");
    assert_eq!(l.str("exception.message"), "opaque failure");

    let l = case(6);
    assert_eq!(l.str("exception.type"), "Inner");
    assert_eq!(l.str("exception.message"), "disk on fire");
    assert!(!l.has("first"));
    assert_eq!(l.str("second"), "cannot write block");
    assert_eq!(l.u64("after"), 1);

    let l = case(7);
    assert_eq!(l.str("exception.type"), "Inner");
}

/// An enum error: its `Debug` output starts with the variant's name.
#[derive(Debug)]
enum PayError {
    Declined { code: u16 },
}
impl fmt::Display for PayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayError::Declined { code } => write!(f, "card declined ({code})"),
        }
    }
}
impl Error for PayError {}

#[test]
fn err_names_the_concrete_type() {
    sink();
    let declined = PayError::Declined { code: 51 };
    datapunk_log::error!(target: "v.err_typed", case = 1, error = datapunk_log::err(&declined));
    datapunk_log::error!(target: "v.err_typed", case = 2, error = &declined as &dyn Error);
    let e = Outer {
        inner: Middle(Inner),
    };
    datapunk_log::error!(target: "v.err_typed", case = 3, error = datapunk_log::err(&e));
    let opaque = Opaque;
    datapunk_log::error!(target: "v.err_typed", case = 4, error = datapunk_log::err(&opaque));
    // A `dyn` inside the type: named from its Debug output, as a `dyn Error`.
    let shared: Arc<dyn Error + Send + Sync> = Arc::new(Inner);
    datapunk_log::error!(target: "v.err_typed", case = 5, error = datapunk_log::err(&shared));
    let by_ref = &&declined;
    datapunk_log::error!(target: "v.err_typed", case = 6, error = datapunk_log::err(by_ref));

    let lines = lines_for(sink(), "v.err_typed");
    assert_eq!(lines.len(), 6);
    let case = |c: u64| lines.iter().find(|l| l.u64("case") == c).unwrap();

    let l = case(1);
    assert_eq!(l.str("exception.type"), "values::PayError");
    assert_eq!(l.str("exception.message"), "card declined (51)");
    assert_eq!(
        l.str("exception.stacktrace"),
        "values::PayError: card declined (51)"
    );
    assert!(!l.has("error"));
    // The fallback for `dyn Error`: the variant's name.
    assert_eq!(case(2).str("exception.type"), "Declined");
    let l = case(3);
    assert_eq!(l.str("exception.type"), "values::Outer");
    assert_eq!(
        l.str("exception.stacktrace"),
        "values::Outer: save failed: \"doc\"\ncaused by: cannot write block\ncaused by: disk on fire"
    );
    assert_eq!(case(4).str("exception.type"), "values::Opaque");
    assert_eq!(case(5).str("exception.type"), "Inner");
    assert_eq!(case(6).str("exception.type"), "values::PayError");
}

#[test]
fn display_and_debug_wrappers() {
    sink();
    #[derive(Debug)]
    #[allow(dead_code)] // read through Debug
    struct Point {
        x: i32,
        y: i32,
    }
    let p = Point { x: 1, y: -2 };
    datapunk_log::info!(
        target: "v.wrap",
        dbg = ?p,
        pretty = datapunk_log::debug(format_args!("{:#?}", 1)),
        shown = datapunk_log::display(3.5),
        fmt_args = %format_args!("{}-{}", 1, 2),
        float = %1.0f64,
    );
    let l = single(sink(), "v.wrap");
    assert_eq!(l.str("dbg"), "Point { x: 1, y: -2 }");
    assert_eq!(l.str("pretty"), "1");
    assert_eq!(l.str("shown"), "3.5");
    assert_eq!(l.str("fmt_args"), "1-2");
    assert_eq!(l.str("float"), "1");
}

fn next_id() -> u64 {
    static ID: AtomicU64 = AtomicU64::new(0);
    ID.fetch_add(1, Ordering::Relaxed)
}

/// The line with this target and `id`, after a flush.
fn find(target: &str, id: u64) -> Line {
    datapunk_log::flush();
    let needle = format!("\"id\":{id},");
    let needle_end = format!("\"id\":{id}}}");
    let text = String::from_utf8(sink().contents()).expect("UTF-8 output");
    let found: Vec<Line> = text
        .lines()
        .filter(|l| l.contains(&needle) || l.contains(&needle_end))
        .map(common::parse_line)
        .filter(|l| l.value["target"] == target && l.value["id"] == id)
        .collect();
    assert_eq!(found.len(), 1, "line {target}/{id}");
    found.into_iter().next().unwrap()
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                (0u8..0x80).prop_map(char::from),
                prop::sample::select(vec![
                    '"', '\\', '\n', '\r', '\t', '\u{0}', '\u{1f}', '\u{7f}', '\u{80}', 'é', '€',
                    '😀', '\u{2028}', '\u{feff}', '{', '}',
                ]),
                any::<char>(),
            ],
            0..100,
        )
        .prop_map(|v| v.into_iter().collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn prop_text_and_numbers_round_trip(
        s in any_text(),
        u in any::<u64>(),
        i in any::<i64>(),
        f in any::<f64>(),
        g in any::<f32>(),
        b in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        sink();
        let id = next_id();
        let bytes = &b[..];
        datapunk_log::info!(
            target: "v.prop",
            id,
            s = s.as_str(),
            shown = %s,
            dbg = ?s,
            u,
            i,
            f,
            g,
            bytes,
            "{}",
            s
        );
        let l = find("v.prop", id);
        prop_assert_eq!(l.str("s"), s.as_str());
        prop_assert_eq!(l.str("shown"), s.as_str());
        prop_assert_eq!(l.str("dbg"), format!("{s:?}"));
        prop_assert_eq!(l.message(), s.as_str());
        prop_assert_eq!(l.u64("u"), u);
        prop_assert_eq!(l.get("i").as_i64(), Some(i));
        if f.is_finite() {
            prop_assert_eq!(l.raw_value("f").parse::<f64>().unwrap().to_bits(), f.to_bits());
        } else {
            prop_assert!(matches!(l.str("f"), "NaN" | "inf" | "-inf"));
        }
        if g.is_finite() {
            prop_assert_eq!(l.raw_value("g").parse::<f32>().unwrap().to_bits(), g.to_bits());
        }
        prop_assert_eq!(l.str("bytes"), String::from_utf8_lossy(&b));
    }
}

#[test]
fn every_line_of_this_file_is_valid_json() {
    // All tests above log into one sink; whatever ran by now must parse.
    sink();
    datapunk_log::info!(target: "v.final", id = next_id(), x = "y\u{0}");
    datapunk_log::flush();
    let lines = lines_of(sink());
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(l.has("timestamp") && l.has("level") && l.has("thread"));
    }
}
