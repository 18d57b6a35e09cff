//! Span lines (`Builder::span_fields`, `Builder::span_ends`): each line
//! inside a span carries the innermost span's name and fields, attributes
//! recorded later appear on later lines, and each ended span gets a line of
//! its own (duration, status, error), in JSON and in the console format.
//! No exporter: span lines alone turn span recording on.

mod common;

use std::sync::OnceLock;

use common::{Line, lines_of, parse_line, serial};
use datapunk_log::{Format, Guard, MemorySink, Span, Status};
use serde_json::{Value, json};

struct Engine {
    json: MemorySink,
    console: MemorySink,
    _guard: Guard,
}

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let console = MemorySink::new();
        let (json, guard) = common::memory_engine_on(
            datapunk_log::builder().memory_format(&console, Format::Console),
            |b| b.span_fields(true).span_ends(true),
        );
        Engine {
            json,
            console,
            _guard: guard,
        }
    })
}

/// Flushes; the JSON lines with `message`.
fn with_message(msg: &str) -> Vec<Line> {
    datapunk_log::flush();
    lines_of(&engine().json)
        .into_iter()
        .filter(|l| l.message() == msg)
        .collect()
}

/// The one JSON line with `message`.
fn one(msg: &str) -> Line {
    let mut v = with_message(msg);
    assert_eq!(v.len(), 1, "lines with message {msg:?}: {v:?}");
    v.remove(0)
}

/// The line's `span` object, checked strictly (valid, no key twice).
fn span_of(l: &Line) -> Value {
    let inner = parse_line(l.raw_value("span"));
    inner.value
}

/// The span-end lines of spans named `name`.
fn ends_of(name: &str) -> Vec<Line> {
    with_message("span ended")
        .into_iter()
        .filter(|l| l.get("span")["name"] == name)
        .collect()
}

#[test]
fn lines_carry_the_innermost_span_and_lines_outside_none() {
    let _s = serial();
    engine();
    let outer = datapunk_log::span!("outer_op", tenant = "acme", shard = 7u64);
    {
        let _o = outer.enter();
        datapunk_log::info!("sl: in outer");
        let inner = datapunk_log::span!("inner_op", step = 2u64, name = "shadowed");
        {
            let _i = inner.enter();
            datapunk_log::info!(span = "user field", "sl: in inner");
        }
        drop(inner);
        datapunk_log::info!("sl: back in outer");
    }
    drop(outer);
    datapunk_log::info!("sl: outside");

    let l = one("sl: in outer");
    assert_eq!(
        span_of(&l),
        json!({"name": "outer_op", "tenant": "acme", "shard": 7})
    );
    assert!(l.has("span_id"));
    let l = one("sl: in inner");
    assert_eq!(
        span_of(&l),
        json!({"name": "inner_op", "step": 2, "fields.name": "shadowed"})
    );
    // A user field named like the span's key is renamed, not repeated.
    assert_eq!(l.str("fields.span"), "user field");
    let l = one("sl: back in outer");
    assert_eq!(span_of(&l)["name"], "outer_op");
    let l = one("sl: outside");
    assert!(!l.has("span"), "{}", l.raw);
    assert!(!l.has("span_id"), "{}", l.raw);
}

#[test]
fn attributes_recorded_later_appear_on_later_lines() {
    let _s = serial();
    engine();
    let span = datapunk_log::span!("attr_op", a = 1u64);
    {
        let _e = span.enter();
        datapunk_log::info!("sl: before attrs");
        span.record("b", "two");
        span.record("a", &5u64);
        span.record("name", &true);
        datapunk_log::info!("sl: after attrs");
    }
    drop(span);
    assert_eq!(
        span_of(&one("sl: before attrs")),
        json!({"name": "attr_op", "a": 1})
    );
    let after = one("sl: after attrs");
    // `a` replaced in place: no key twice (checked by `span_of`).
    assert_eq!(
        span_of(&after),
        json!({"name": "attr_op", "a": 5, "b": "two", "fields.name": true})
    );
    let ends = ends_of("attr_op");
    assert_eq!(ends.len(), 1);
    assert_eq!(span_of(&ends[0]), span_of(&after));
}

#[derive(Debug)]
struct Declined;

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined by issuer")
    }
}

impl std::error::Error for Declined {}

#[test]
fn span_end_lines_carry_duration_status_and_error() {
    let _s = serial();
    engine();
    let failed = datapunk_log::span!("charge_op", amount = 12.5);
    let ctx = failed.context();
    failed.record_error(&Declined);
    failed.set_status(Status::Error("payment failed"));
    drop(failed);
    let ok = datapunk_log::span!("ok_op");
    ok.set_status(Status::Ok);
    drop(ok);
    // No fields, nothing recorded on it.
    let bare = datapunk_log::span!("bare_op");
    let bare_ctx = bare.context();
    drop(bare);

    let ends = ends_of("charge_op");
    assert_eq!(ends.len(), 1);
    let e = &ends[0];
    assert_eq!(span_of(e), json!({"name": "charge_op", "amount": 12.5}));
    assert_eq!(e.str("level"), "INFO");
    assert_eq!(e.str("trace_id"), format!("{:032x}", ctx.trace_id));
    assert_eq!(e.str("span_id"), format!("{:016x}", ctx.span_id));
    assert_eq!(e.str("otel.status_code"), "ERROR");
    assert_eq!(e.str("otel.status_description"), "payment failed");
    assert!(e.str("exception.type").ends_with("Declined"), "{}", e.raw);
    assert_eq!(e.str("exception.message"), "card declined by issuer");
    let start = common::parse_timestamp(e.str("start_timestamp"));
    let end = e.timestamp_nanos();
    assert!(start <= end);
    assert_eq!(e.u64("duration_ns"), end - start);

    let ok = &ends_of("ok_op")[0];
    assert_eq!(ok.str("otel.status_code"), "OK");
    assert!(!ok.has("otel.status_description"));
    let bare = ends_of("bare_op");
    assert_eq!(bare.len(), 1);
    assert_eq!(span_of(&bare[0]), json!({"name": "bare_op"}));
    assert!(!bare[0].has("otel.status_code"));
    assert!(bare[0].has("duration_ns"));
    assert_eq!(bare[0].str("span_id"), format!("{:016x}", bare_ctx.span_id));
}

#[test]
fn the_console_format_shows_span_names_fields_and_ends() {
    let _s = serial();
    engine();
    let span = datapunk_log::span!("console_op", user = "ada lovelace", n = 3u64);
    {
        let _e = span.enter();
        datapunk_log::info!("sl: console inside");
    }
    span.set_status(Status::Error("went wrong"));
    drop(span);
    datapunk_log::flush();
    let text = String::from_utf8(engine().console.contents()).unwrap();
    let inside = text
        .lines()
        .find(|l| l.contains("sl: console inside"))
        .expect("console line");
    assert!(
        inside.contains(" console_op{user=\"ada lovelace\" n=3}: "),
        "{inside}"
    );
    let end = text
        .lines()
        .find(|l| l.contains("console_op{") && l.contains("span ended"))
        .expect("console end line");
    assert!(end.contains(" duration="), "{end}");
    assert!(end.contains(" status=error"), "{end}");
    assert!(end.contains(" status_message=\"went wrong\""), "{end}");
}

/// The table's documented bound (`Stats::span_table_full`).
const MAX_LIVE_SPANS: usize = 4096;

#[test]
fn more_live_spans_than_the_bound_lose_names_only() {
    let _s = serial();
    engine();
    datapunk_log::flush();
    let before = datapunk_log::stats();
    let extra = 50;
    let spans: Vec<Span> = (0..MAX_LIVE_SPANS + extra)
        .map(|i| datapunk_log::span!("bound_op", i = i as u64))
        .collect();
    {
        let _e = spans.last().unwrap().enter();
        datapunk_log::info!("sl: beyond the bound");
    }
    {
        let _e = spans[0].enter();
        datapunk_log::info!("sl: within the bound");
    }
    drop(spans);
    let after_drop = {
        let s = datapunk_log::span!("bound_after", k = 1u64);
        let _e = s.enter();
        datapunk_log::info!("sl: after the bound");
        s.context()
    };
    let beyond = one("sl: beyond the bound");
    assert!(!beyond.has("span"), "{}", beyond.raw);
    assert!(beyond.has("span_id"), "ids stay: {}", beyond.raw);
    assert_eq!(
        span_of(&one("sl: within the bound")),
        json!({"name": "bound_op", "i": 0})
    );
    let later = one("sl: after the bound");
    assert_eq!(span_of(&later)["name"], "bound_after");
    assert_eq!(later.str("span_id"), format!("{:016x}", after_drop.span_id));

    let stats = datapunk_log::stats();
    assert_eq!(stats.span_table_full - before.span_table_full, extra as u64);
    // Nothing lost: every span has its end line; those not held have their
    // name but no fields or duration.
    let ends = ends_of("bound_op");
    assert_eq!(ends.len(), MAX_LIVE_SPANS + extra);
    let bare: Vec<_> = ends.iter().filter(|l| !l.has("duration_ns")).collect();
    assert_eq!(bare.len(), extra);
    assert!(
        bare.iter()
            .all(|l| span_of(l) == json!({"name": "bound_op"}))
    );
    assert_eq!(
        stats.span_end_lines - before.span_end_lines,
        (MAX_LIVE_SPANS + extra + 1) as u64
    );
    assert_eq!(stats.dropped, 0);
    assert_eq!(stats.corrupt, 0);
}

#[test]
fn span_fields_are_redacted_and_values_without_one_left_out() {
    let _s = serial();
    engine();
    let none: Option<u64> = None;
    let span = datapunk_log::span!(
        "login_op",
        user = "bob",
        password = "hunter2",
        missing = none,
        url = "https://bob:s3cret@db.example.com/x"
    );
    {
        let _e = span.enter();
        span.record("api_token", "abc123");
        datapunk_log::info!("sl: logged in");
    }
    drop(span);
    let obj = span_of(&one("sl: logged in"));
    assert_eq!(obj["user"], "bob");
    assert!(obj.get("missing").is_none(), "{obj}");
    for key in ["password", "api_token"] {
        let v = obj[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} in {obj}"));
        assert!(!v.contains("hunter2") && !v.contains("abc123"), "{obj}");
    }
    let url = obj["url"].as_str().unwrap();
    assert!(!url.contains("s3cret"), "{url}");
    let text = String::from_utf8(engine().console.contents()).unwrap();
    assert!(!text.contains("hunter2") && !text.contains("abc123") && !text.contains("s3cret"));
}

#[test]
fn spans_of_the_tracing_bridge_name_their_lines() {
    let _s = serial();
    engine();
    let span = tracing::info_span!("tracing_op", k = 1u64, later = tracing::field::Empty);
    {
        let _e = span.enter();
        tracing::info!("sl: via tracing before");
        span.record("later", 5u64);
        tracing::info!("sl: via tracing after");
    }
    drop(span);
    assert_eq!(
        span_of(&one("sl: via tracing before")),
        json!({"name": "tracing_op", "k": 1})
    );
    assert_eq!(
        span_of(&one("sl: via tracing after")),
        json!({"name": "tracing_op", "k": 1, "later": 5})
    );
    assert_eq!(ends_of("tracing_op").len(), 1);
}

#[test]
fn a_span_entered_on_another_thread_names_its_lines_there() {
    let _s = serial();
    engine();
    let span = datapunk_log::span!("moved_op", job = 9u64);
    std::thread::scope(|s| {
        s.spawn(|| {
            let _e = span.enter();
            datapunk_log::info!("sl: on another thread");
        });
    });
    drop(span);
    let l = one("sl: on another thread");
    assert_eq!(span_of(&l), json!({"name": "moved_op", "job": 9}));
}
