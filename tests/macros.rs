//! Every macro form, the record layout (key order, timestamp, thread, trace
//! context) and reserved-name handling, checked by parsing each line.

mod common;

use std::net::SocketAddr;

use common::{Line, lines_for, lines_where, now_nanos, parse_line, single};
use datapunk_log::{Level, MemorySink, TraceContext};
use serde_json::json;

/// The engine all tests of this file share.
fn sink() -> &'static MemorySink {
    common::shared_sink(|b| b.filter("trace"))
}

/// The user fields of a line: everything after `thread`.
fn fields(l: &Line) -> Vec<(&str, &serde_json::Value)> {
    let keys = l.keys();
    let at = keys
        .iter()
        .position(|k| *k == "thread")
        .expect("thread key");
    keys[at + 1..]
        .iter()
        .map(|k| (*k, l.get(k)))
        .collect::<Vec<_>>()
}

#[test]
fn helper_rejects_duplicate_keys() {
    // The strict reader is what the collision tests rely on: it must see
    // duplicates that serde_json's map silently collapses.
    let r = std::panic::catch_unwind(|| parse_line(r#"{"a":1,"b":2,"a":3}"#));
    assert!(r.is_err(), "duplicate keys were not detected");
    let ok = parse_line(r#"{"a":"x,\"}y","b":[1,{"c":2}],"d":-1.5e3}"#);
    assert_eq!(ok.keys(), ["a", "b", "d"]);
    assert_eq!(ok.raw_value("d"), "-1.5e3");
    assert_eq!(ok.raw_value("b"), r#"[1,{"c":2}]"#);
}

#[test]
fn every_level_macro() {
    sink();
    datapunk_log::trace!(target: "m.levels", n = 1, "t");
    datapunk_log::debug!(target: "m.levels", n = 2, "d");
    datapunk_log::info!(target: "m.levels", n = 3, "i");
    datapunk_log::warn!(target: "m.levels", n = 4, "w");
    datapunk_log::error!(target: "m.levels", n = 5, "e");
    datapunk_log::log!(Level::Trace, target: "m.levels", n = 6, "lt");
    datapunk_log::log!(Level::Debug, target: "m.levels", n = 7, "ld");
    datapunk_log::log!(Level::Info, target: "m.levels", n = 8, "li");
    datapunk_log::log!(Level::Warn, target: "m.levels", n = 9, "lw");
    datapunk_log::log!(Level::Error, target: "m.levels", n = 10, "le");
    const LVL: Level = Level::Warn;
    datapunk_log::log!(LVL, target: "m.levels", n = 11, "const level");
    datapunk_log::fatal!(target: "m.levels", n = 12, "f");
    datapunk_log::log!(Level::Fatal, target: "m.levels", n = 13, "lf");

    let got: Vec<(String, String, u64)> = lines_for(sink(), "m.levels")
        .iter()
        .map(|l| {
            (
                l.str("level").to_owned(),
                l.message().to_owned(),
                l.u64("n"),
            )
        })
        .collect();
    let want = [
        ("TRACE", "t", 1),
        ("DEBUG", "d", 2),
        ("INFO", "i", 3),
        ("WARN", "w", 4),
        ("ERROR", "e", 5),
        ("TRACE", "lt", 6),
        ("DEBUG", "ld", 7),
        ("INFO", "li", 8),
        ("WARN", "lw", 9),
        ("ERROR", "le", 10),
        ("WARN", "const level", 11),
        ("FATAL", "f", 12),
        ("FATAL", "lf", 13),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c));
    assert_eq!(got, want);
    assert_eq!(Level::Info.as_str(), "INFO");
    assert_eq!("warn".parse::<Level>().unwrap(), Level::Warn);
    assert_eq!(Level::Error.to_string(), "ERROR");
    assert_eq!(Level::Fatal.to_string(), "FATAL");
    assert_eq!(Level::Fatal.severity_number(), 21);
}

#[test]
fn target_defaults_to_module_path() {
    sink();
    datapunk_log::info!(probe = "default-target-1b7e", "default target");
    let lines = lines_where(sink(), "probe", "default-target-1b7e");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].target(), module_path!());
    assert_eq!(lines[0].target(), "macros");
}

#[test]
fn field_forms() {
    sink();
    #[derive(Debug)]
    struct Tags {
        #[allow(dead_code)] // read through Debug
        v: Vec<u8>,
    }
    struct Req {
        id: u32,
        peer: SocketAddr,
        tags: Tags,
    }
    let req = Req {
        id: 77,
        peer: SocketAddr::from(([10, 0, 0, 7], 443)),
        tags: Tags { v: vec![1, 2] },
    };
    let user_id = 42u64;
    let addr = SocketAddr::from(([127, 0, 0, 1], 8080));
    let list = vec!["a", "b"];
    datapunk_log::info!(
        target: "m.forms",
        user_id,
        %addr,
        ?list,
        plain = 1 + 2,
        shown = %addr,
        dbg = ?Some("x"),
        http.status = 200,
        http.request.method = "GET",
        req.id,
        %req.peer,
        ?req.tags,
        neg = -5,
        "fields then {} message",
        "formatted",
    );
    let l = single(sink(), "m.forms");
    assert_eq!(l.message(), "fields then formatted message");
    let got: Vec<(&str, serde_json::Value)> = fields(&l)
        .into_iter()
        .map(|(k, v)| (k, v.clone()))
        .collect();
    let want: Vec<(&str, serde_json::Value)> = vec![
        ("user_id", json!(42)),
        ("addr", json!("127.0.0.1:8080")),
        ("list", json!("[\"a\", \"b\"]")),
        ("plain", json!(3)),
        ("shown", json!("127.0.0.1:8080")),
        ("dbg", json!("Some(\"x\")")),
        ("http.status", json!(200)),
        ("http.request.method", json!("GET")),
        ("req.id", json!(77)),
        ("req.peer", json!("10.0.0.7:443")),
        ("req.tags", json!("Tags { v: [1, 2] }")),
        ("neg", json!(-5)),
    ];
    assert_eq!(got, want);
}

#[test]
fn message_forms() {
    sink();
    let (size, n) = (1024, 7);
    let x = "captured";
    datapunk_log::info!(target: "m.msg", case = 1, "plain message");
    datapunk_log::info!(target: "m.msg", case = 2);
    datapunk_log::info!(target: "m.msg", case = 3, "cache size {} after {} evictions", size, n);
    datapunk_log::info!(target: "m.msg", case = 4, "inline {x} and {size:>6} ({})", "arg");
    datapunk_log::info!(target: "m.msg", case = 5, "{{literal}} braces");
    datapunk_log::info!(target: "m.msg", case = 6, "{:?} {:.2} {:#x}", "q", 1.5, 255);
    datapunk_log::info!(target: "m.msg", case = 7, "named {a}-{b}", a = 1, b = "two");
    datapunk_log::info!(target: "m.msg", case = 8,);
    datapunk_log::info!(target: "m.msg", case = 9, "trailing comma",);
    datapunk_log::info!(target: "m.msg", case = 10, "args trailing {}", 5,);
    datapunk_log::info!(target: "m.msg", "message only");
    datapunk_log::info!(target: "m.msg", "message only, trailing comma",);
    datapunk_log::info!(target: "m.msg");
    datapunk_log::info!(target: "m.msg",);
    datapunk_log::info!(target: "m.msg", "{}", "only args");

    let got: Vec<(Option<u64>, String)> = lines_for(sink(), "m.msg")
        .iter()
        .map(|l| (l.value["case"].as_u64(), l.message().to_owned()))
        .collect();
    let want: Vec<(Option<u64>, &str)> = vec![
        (Some(1), "plain message"),
        (Some(2), ""),
        (Some(3), "cache size 1024 after 7 evictions"),
        (Some(4), "inline captured and   1024 (arg)"),
        (Some(5), "{literal} braces"),
        (Some(6), "\"q\" 1.50 0xff"),
        (Some(7), "named 1-two"),
        (Some(8), ""),
        (Some(9), "trailing comma"),
        (Some(10), "args trailing 5"),
        (None, "message only"),
        (None, "message only, trailing comma"),
        (None, ""),
        (None, ""),
        (None, "only args"),
    ];
    let want: Vec<(Option<u64>, String)> =
        want.into_iter().map(|(a, b)| (a, b.to_owned())).collect();
    assert_eq!(got, want);
    // A record without fields has nothing after `thread`.
    for l in lines_for(sink(), "m.msg").iter().filter(|l| !l.has("case")) {
        assert_eq!(fields(l), vec![]);
        assert_eq!(l.keys().last(), Some(&"thread"));
    }
}

#[test]
fn default_target_forms_without_target() {
    sink();
    let marker = "no-target-forms-5c1";
    datapunk_log::warn!(marker, "w {}", 1);
    datapunk_log::error!(marker);
    datapunk_log::log!(Level::Debug, marker, "log without target");
    let got: Vec<(String, String)> = lines_where(sink(), "marker", marker)
        .into_iter()
        .map(|l| {
            assert_eq!(l.target(), "macros");
            (l.str("level").to_owned(), l.message().to_owned())
        })
        .collect();
    assert_eq!(
        got,
        [
            ("WARN", "w 1"),
            ("ERROR", ""),
            ("DEBUG", "log without target")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
}

#[test]
fn key_order_timestamp_and_thread() {
    sink();
    let before = now_nanos();
    datapunk_log::info!(target: "m.order", z = 1, a = 2, m = 3, "ordered");
    let l = single(sink(), "m.order");
    let after = now_nanos();
    assert_eq!(
        l.keys(),
        [
            "timestamp",
            "level",
            "target",
            "message",
            "thread",
            "z",
            "a",
            "m"
        ]
    );
    let ts = l.timestamp_nanos();
    // A sanity bound, not a timing assertion: the stamp is today's time.
    let slack = 5_000_000_000;
    assert!(
        ts + slack >= before && ts <= after + slack,
        "timestamp {} is far from now",
        l.str("timestamp")
    );
    assert_eq!(
        l.str("thread"),
        std::thread::current()
            .name()
            .expect("test threads are named")
    );
}

#[test]
fn thread_field_is_the_thread_name_or_id() {
    sink();
    let named = std::thread::Builder::new()
        .name("worker-\"7\"".into())
        .spawn(|| datapunk_log::info!(target: "m.thread", kind = "named"))
        .unwrap();
    named.join().unwrap();
    let unnamed = std::thread::spawn(|| {
        datapunk_log::info!(target: "m.thread", kind = "unnamed");
        format!("{:?}", std::thread::current().id())
    });
    let id = unnamed.join().unwrap();
    let lines = lines_for(sink(), "m.thread");
    assert_eq!(lines.len(), 2);
    for l in &lines {
        match l.str("kind") {
            "named" => assert_eq!(l.str("thread"), "worker-\"7\""),
            "unnamed" => {
                assert_eq!(l.str("thread"), id);
                assert!(id.starts_with("ThreadId("), "{id}");
            }
            k => panic!("unexpected kind {k}"),
        }
    }
}

#[test]
fn trace_context_fields() {
    sink();
    assert_eq!(datapunk_log::current_context(), TraceContext::default());
    datapunk_log::info!(target: "m.ctx", case = 0);
    let ctx = TraceContext {
        trace_id: 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
        span_id: 0x00f0_67aa_0ba9_02b7,
        parent_span_id: 0,
        trace_flags: 1,
    };
    let prev = datapunk_log::set_context(ctx);
    assert_eq!(prev, TraceContext::default());
    assert_eq!(datapunk_log::current_context(), ctx);
    datapunk_log::info!(target: "m.ctx", case = 1, "in span {}", 1);
    let child = TraceContext {
        trace_id: 1,
        span_id: 2,
        parent_span_id: 0x00f0_67aa_0ba9_02b7,
        trace_flags: 0,
    };
    assert_eq!(datapunk_log::set_context(child), ctx);
    datapunk_log::info!(target: "m.ctx", case = 2);
    // The context is per thread.
    std::thread::spawn(|| {
        assert_eq!(datapunk_log::current_context(), TraceContext::default());
        datapunk_log::info!(target: "m.ctx", case = 3);
    })
    .join()
    .unwrap();
    // trace_id 0 means "no trace", whatever the other ids say.
    datapunk_log::set_context(TraceContext {
        trace_id: 0,
        span_id: 9,
        parent_span_id: 9,
        trace_flags: 1,
    });
    datapunk_log::info!(target: "m.ctx", case = 4);
    datapunk_log::set_context(TraceContext::default());
    datapunk_log::info!(target: "m.ctx", case = 5);

    let lines = lines_for(sink(), "m.ctx");
    let by_case = |c: u64| -> &Line {
        let found: Vec<&Line> = lines.iter().filter(|l| l.u64("case") == c).collect();
        assert_eq!(found.len(), 1, "case {c}");
        found[0]
    };
    const TRACE_KEYS: [&str; 4] = ["trace_id", "span_id", "parent_span_id", "trace_flags"];
    for c in [0, 3, 4, 5] {
        let l = by_case(c);
        for k in TRACE_KEYS {
            assert!(!l.has(k), "case {c} has {k}: {}", l.raw);
        }
    }
    let l = by_case(1);
    assert_eq!(
        l.keys(),
        [
            "timestamp",
            "level",
            "target",
            "message",
            "trace_id",
            "span_id",
            "trace_flags",
            "thread",
            "case"
        ]
    );
    assert_eq!(l.message(), "in span 1");
    assert_eq!(l.str("trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(l.str("span_id"), "00f067aa0ba902b7");
    assert_eq!(l.str("trace_flags"), "01");
    let l = by_case(2);
    assert_eq!(
        l.keys(),
        [
            "timestamp",
            "level",
            "target",
            "message",
            "trace_id",
            "span_id",
            "parent_span_id",
            "trace_flags",
            "thread",
            "case"
        ]
    );
    assert_eq!(l.str("trace_id"), format!("{:032x}", 1));
    assert_eq!(l.str("span_id"), "0000000000000002");
    assert_eq!(l.str("parent_span_id"), "00f067aa0ba902b7");
    assert_eq!(l.str("trace_flags"), "00");
    for k in ["trace_id", "span_id", "parent_span_id"] {
        let s = l.str(k);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{k}={s}"
        );
    }
}

#[test]
fn reserved_names_and_duplicates_are_renamed() {
    sink();
    datapunk_log::info!(
        target: "m.reserved",
        message = "user message",
        level = 3,
        timestamp = "user ts",
        thread = "user thread",
        target = "user target",
        truncated = false,
        trace_id = 5,
        span_id = 6,
        exception.type = "user exc",
        a = 1,
        a = 2,
        a = 3,
        fields.level = "explicit",
        "real message"
    );
    let l = single(sink(), "m.reserved");
    assert_eq!(l.message(), "real message");
    assert_eq!(l.str("level"), "INFO");
    assert_eq!(l.target(), "m.reserved");
    assert!(!l.has("truncated"));
    assert!(!l.has("trace_id"));
    assert!(!l.has("exception.type"));
    let got: Vec<(&str, serde_json::Value)> = fields(&l)
        .into_iter()
        .map(|(k, v)| (k, v.clone()))
        .collect();
    let want: Vec<(&str, serde_json::Value)> = vec![
        ("fields.message", json!("user message")),
        ("fields.level", json!(3)),
        ("fields.timestamp", json!("user ts")),
        ("fields.thread", json!("user thread")),
        ("fields.target", json!("user target")),
        ("fields.truncated", json!(false)),
        ("fields.trace_id", json!(5)),
        ("fields.span_id", json!(6)),
        ("fields.exception.type", json!("user exc")),
        ("a", json!(1)),
        ("a#2", json!(2)),
        ("a#3", json!(3)),
        ("fields.level#2", json!("explicit")),
    ];
    assert_eq!(got, want);
}

#[test]
fn many_fields() {
    // 60 fields (tests/max_fields.rs checks the documented maximum of 64).
    sink();
    datapunk_log::info!(
        target: "m.many",
        f00 = 0, f01 = 1, f02 = 2, f03 = 3, f04 = 4, f05 = 5, f06 = 6, f07 = 7,
        f08 = 8, f09 = 9, f10 = 10, f11 = 11, f12 = 12, f13 = 13, f14 = 14, f15 = 15,
        f16 = 16, f17 = 17, f18 = 18, f19 = 19, f20 = 20, f21 = 21, f22 = 22, f23 = 23,
        f24 = 24, f25 = 25, f26 = 26, f27 = 27, f28 = 28, f29 = 29, f30 = 30, f31 = 31,
        f32 = 32, f33 = 33, f34 = 34, f35 = 35, f36 = 36, f37 = 37, f38 = 38, f39 = 39,
        f40 = 40, f41 = 41, f42 = 42, f43 = 43, f44 = 44, f45 = 45, f46 = 46, f47 = 47,
        f48 = 48, f49 = 49, f50 = 50, f51 = 51, f52 = 52, f53 = 53, f54 = 54, f55 = 55,
        f56 = 56, f57 = 57, f58 = 58,
        f59 = u128::MAX,
        "sixty fields"
    );
    let l = single(sink(), "m.many");
    let f = fields(&l);
    assert_eq!(f.len(), 60);
    for (i, (k, v)) in f.iter().enumerate().take(59) {
        assert_eq!(*k, format!("f{i:02}"));
        assert_eq!(v.as_u64(), Some(i as u64));
    }
    assert_eq!(l.raw_value("f59"), u128::MAX.to_string());
}

#[test]
fn each_value_expression_is_evaluated_once() {
    sink();
    let mut calls = 0;
    let mut next = || {
        calls += 1;
        calls
    };
    datapunk_log::info!(target: "m.once", a = next(), b = %next(), "{}", next());
    assert_eq!(calls, 3);
    let l = single(sink(), "m.once");
    let (a, b, m) = (l.u64("a"), l.str("b").to_owned(), l.message().to_owned());
    let mut seen = vec![a, b.parse().unwrap(), m.parse().unwrap()];
    seen.sort();
    assert_eq!(seen, [1, 2, 3]);
}

#[test]
fn percent_signs_and_escaped_braces() {
    sink();
    datapunk_log::info!(target: "m.nofmt", "100% done, {{}} kept");
    assert_eq!(single(sink(), "m.nofmt").message(), "100% done, {} kept");
}

#[test]
fn raw_identifier_keys_drop_the_r_prefix() {
    // `type` and `match` are common field names; Rust spells them `r#type`
    // and `r#match`. The key must be the name, not the raw-identifier syntax
    // (as in `tracing`).
    sink();
    let r#type = "login";
    datapunk_log::info!(target: "m.raw", r#type, r#match = 1, r#loop.r#in = 2);
    let l = single(sink(), "m.raw");
    assert_eq!(
        fields(&l).into_iter().map(|(k, _)| k).collect::<Vec<_>>(),
        ["type", "match", "loop.in"],
        "{}",
        l.raw
    );
    assert_eq!(l.str("type"), "login");
}
