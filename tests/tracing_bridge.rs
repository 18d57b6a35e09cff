//! The `tracing` crate's events and spans flow into the engine: events as
//! records with typed fields (JSON and export), spans as native spans
//! (ids, parent, attributes, `record`, follows-from, close), nested both
//! ways with native spans under the same trace ids; the filter directives
//! apply; reserved names are renamed; no allocation per bridged event after
//! a call site's first; a megabyte event is cut and marked.
//!
//! One engine for the whole binary (one engine per process); `init()`
//! installs the bridge as `tracing`'s global default.

mod common;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use std::fmt;

use common::{SharedEngine, lines_for, serial};
use counting_alloc::allocations;
use datapunk_log::export::OwnedValue;

fn setup() -> &'static SharedEngine {
    common::shared_with_exporter(|b| b.filter("info,tr.noisy=warn,tr.verbose=trace"))
}

#[derive(Debug)]
struct Refused;

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("card refused")
    }
}

impl std::error::Error for Refused {}

#[test]
fn events_arrive_with_typed_fields() {
    let _s = serial();
    let setup = setup();
    let err = Refused;
    tracing::warn!(
        target: "tr.kv",
        user_id = 7u64,
        delta = -3i64,
        latency = 0.5,
        ok = true,
        name = "x",
        big = 1u128 << 100,
        tags = ?["a", "b"],
        shown = %"disp",
        error = &err as &(dyn std::error::Error + 'static),
        "with {} fields",
        "typed"
    );
    tracing::info!(target: "tr.nomsg", only = 1u64);
    // A `message` field after another field (not where the macros put it).
    tracing::info!(target: "tr.latemsg", first = 1u64, message = "late", last = true);
    datapunk_log::flush();
    let late = &lines_for(&setup.sink, "tr.latemsg")[0];
    assert_eq!(late.message(), "late");
    assert_eq!(late.u64("first"), 1);
    assert_eq!(late.get("last").as_bool(), Some(true));
    let l = &lines_for(&setup.sink, "tr.kv")[0];
    assert_eq!(l.str("level"), "WARN");
    assert_eq!(l.message(), "with typed fields");
    assert_eq!(l.u64("user_id"), 7);
    assert_eq!(l.get("delta").as_i64(), Some(-3));
    assert_eq!(l.get("latency").as_f64(), Some(0.5));
    assert_eq!(l.get("ok").as_bool(), Some(true));
    assert_eq!(l.str("name"), "x");
    assert_eq!(l.raw_value("big"), (1u128 << 100).to_string());
    assert_eq!(l.str("tags"), r#"["a", "b"]"#);
    assert_eq!(l.str("shown"), "disp");
    assert_eq!(l.str("exception.message"), "card refused");
    assert!(l.str("exception.type").contains("Refused"));
    assert!(!l.has("trace_id"), "no span is current");
    let nomsg = &lines_for(&setup.sink, "tr.nomsg")[0];
    assert_eq!(nomsg.message(), "");
    assert_eq!(nomsg.u64("only"), 1);

    let exported = setup.exported_log("tr.kv");
    assert_eq!(exported.message, "with typed fields");
    assert_eq!(exported.field("user_id"), Some(&OwnedValue::U64(7)));
    assert_eq!(exported.field("delta"), Some(&OwnedValue::I64(-3)));
    assert_eq!(exported.field("ok"), Some(&OwnedValue::Bool(true)));
    assert_eq!(exported.field("name"), Some(&OwnedValue::Str("x".into())));
}

#[test]
fn the_filter_directives_apply() {
    let _s = serial();
    let setup = setup();
    tracing::debug!(target: "tr.quiet", "below the default level");
    tracing::info!(target: "tr.noisy", "below noisy's level");
    tracing::warn!(target: "tr.noisy", "at noisy's level");
    tracing::trace!(target: "tr.verbose", "verbose is open to trace");
    let quiet_span = tracing::debug_span!(target: "tr.quiet", "quiet-span");
    drop(quiet_span);
    datapunk_log::flush();
    assert!(lines_for(&setup.sink, "tr.quiet").is_empty());
    let noisy = lines_for(&setup.sink, "tr.noisy");
    assert_eq!(noisy.len(), 1);
    assert_eq!(noisy[0].message(), "at noisy's level");
    assert_eq!(lines_for(&setup.sink, "tr.verbose").len(), 1);
    assert!(
        setup
            .exporter
            .spans()
            .iter()
            .all(|s| s.name != "quiet-span")
    );
}

#[test]
fn tracing_and_native_spans_nest_both_ways_under_one_trace() {
    let _s = serial();
    let setup = setup();
    {
        let outer = tracing::info_span!(target: "tr.nest", "tr-outer", route = "/pay");
        let _o = outer.enter();
        tracing::info!(target: "tr.nest.a", "tracing event in a tracing span");
        let native = datapunk_log::span!("native-mid");
        let _n = native.enter();
        datapunk_log::info!(target: "tr.nest.b", "native event in the native span");
        let inner = tracing::info_span!(target: "tr.nest", "tr-inner");
        let _i = inner.enter();
        tracing::info!(target: "tr.nest.c", "tracing event in the innermost span");
        datapunk_log::info!(target: "tr.nest.d", "native event in the innermost span");
    }
    datapunk_log::flush();
    let outer = setup.exported_span("tr-outer");
    let mid = setup.exported_span("native-mid");
    let inner = setup.exported_span("tr-inner");
    let trace = outer.context.trace_id;
    assert_ne!(trace, 0);
    assert_eq!(mid.context.trace_id, trace);
    assert_eq!(inner.context.trace_id, trace);
    assert_eq!(outer.context.parent_span_id, 0, "tr-outer is a root");
    assert_eq!(mid.context.parent_span_id, outer.context.span_id);
    assert_eq!(inner.context.parent_span_id, mid.context.span_id);
    assert_eq!(outer.field("route"), Some(&OwnedValue::Str("/pay".into())));
    assert_eq!(outer.target, "tr.nest");
    for (target, span) in [
        ("tr.nest.a", &outer),
        ("tr.nest.b", &mid),
        ("tr.nest.c", &inner),
        ("tr.nest.d", &inner),
    ] {
        let l = &lines_for(&setup.sink, target)[0];
        assert_eq!(l.str("trace_id"), format!("{trace:032x}"), "{target}");
        assert_eq!(
            l.str("span_id"),
            format!("{:016x}", span.context.span_id),
            "{target}"
        );
        let exported = setup.exported_log(target);
        assert_eq!(exported.trace.trace_id, trace, "{target}");
        assert_eq!(exported.trace.span_id, span.context.span_id, "{target}");
    }
}

#[test]
fn span_fields_record_follows_from_and_explicit_parents() {
    let _s = serial();
    let setup = setup();
    let parent = tracing::info_span!(target: "tr.rec", "tr-parent");
    let cause = tracing::info_span!(target: "tr.rec", "tr-cause");
    {
        let span = tracing::info_span!(
            target: "tr.rec",
            parent: &parent,
            "tr-child",
            status = tracing::field::Empty,
            n = 1u64
        );
        span.record("status", 200u64);
        span.record("n", 2u64);
        span.follows_from(&cause);
        tracing::info!(target: "tr.rec.ev", parent: &span, "explicit parent");
    }
    drop(cause);
    drop(parent);
    datapunk_log::flush();
    let parent = setup.exported_span("tr-parent");
    let cause = setup.exported_span("tr-cause");
    let child = setup.exported_span("tr-child");
    assert_eq!(child.context.trace_id, parent.context.trace_id);
    assert_eq!(child.context.parent_span_id, parent.context.span_id);
    assert_eq!(child.field("status"), Some(&OwnedValue::U64(200)));
    assert_eq!(child.field("n"), Some(&OwnedValue::U64(2)));
    assert_eq!(
        child.field("follows_from"),
        Some(&OwnedValue::Str(format!(
            "{:032x}-{:016x}",
            cause.context.trace_id, cause.context.span_id
        )))
    );
    let ev = setup.exported_log("tr.rec.ev");
    assert_eq!(ev.trace.span_id, child.context.span_id);
    assert!(child.end_unix_nano >= child.start_unix_nano);
}

#[test]
fn spans_left_out_of_order_restore_the_context() {
    let _s = serial();
    let setup = setup();
    let a = tracing::info_span!(target: "tr.order", "tr-a");
    let b = tracing::info_span!(target: "tr.order", "tr-b");
    let ga = a.enter();
    let gb = b.enter();
    drop(ga);
    tracing::info!(target: "tr.order.in_b", "b is still entered");
    drop(gb);
    tracing::info!(target: "tr.order.none", "nothing is entered");
    drop(b);
    drop(a);
    datapunk_log::flush();
    let b = setup.exported_span("tr-b");
    let in_b = &lines_for(&setup.sink, "tr.order.in_b")[0];
    assert_eq!(in_b.str("span_id"), format!("{:016x}", b.context.span_id));
    let none = &lines_for(&setup.sink, "tr.order.none")[0];
    assert!(!none.has("span_id"), "{}", none.raw);
}

#[test]
fn reserved_names_are_renamed() {
    let _s = serial();
    let setup = setup();
    tracing::info!(target: "tr.reserved", level = 3u64, timestamp = "t", "reserved");
    datapunk_log::flush();
    let l = &lines_for(&setup.sink, "tr.reserved")[0];
    assert_eq!(l.str("level"), "INFO");
    assert_eq!(l.u64("fields.level"), 3);
    assert_eq!(l.str("fields.timestamp"), "t");
}

fn bridged(i: u64) {
    tracing::info!(target: "tr.alloc", i, route = "/a", "request {} done", i);
}

#[test]
fn a_bridged_event_allocates_nothing_after_its_call_sites_first() {
    let _s = serial();
    let setup = setup();
    let span = tracing::info_span!(target: "tr.alloc", "tr-alloc");
    let _e = span.enter();
    bridged(0);
    let n = allocations(|| {
        for i in 1..=1000 {
            bridged(i);
        }
    });
    assert_eq!(n, 0, "{n} allocations in 1000 bridged events");
    datapunk_log::flush();
    let lines = lines_for(&setup.sink, "tr.alloc");
    assert_eq!(lines.len(), 1001);
    assert_eq!(lines[1000].message(), "request 1000 done");
    assert_eq!(lines[1000].u64("i"), 1000);
    assert!(lines[1000].has("trace_id"));
}

#[test]
fn an_event_of_megabytes_is_cut_and_marked() {
    let _s = serial();
    let setup = setup();
    let big = "x".repeat(4 << 20);
    tracing::info!(target: "tr.big", blob = big.as_str(), "huge {}", big);
    datapunk_log::flush();
    let lines = lines_for(&setup.sink, "tr.big");
    assert_eq!(lines.len(), 1);
    let l = &lines[0];
    assert_eq!(l.get("truncated").as_bool(), Some(true));
    assert!(l.raw.len() < 64 << 10, "{} bytes", l.raw.len());
    assert!(l.message().starts_with("huge xxx"));
}

#[test]
fn the_sampler_decides_tracing_spans_as_native_ones() {
    use datapunk_log::sampler::{self, Rule, Sampler, SamplingConfig};
    let _s = serial();
    let setup = setup();
    sampler::update(SamplingConfig::new(Sampler::parent_based(Sampler::rules(
        vec![
            Rule::new(Sampler::AlwaysOff).name("tr-off*"),
            Rule::new(Sampler::AlwaysOn),
        ],
    ))));
    let (native_child, native_root) = {
        let root = tracing::info_span!(target: "tr.samp", "tr-off-root");
        let _r = root.enter();
        tracing::info!(target: "tr.samp.in_tr", "in an unsampled tracing span");
        let child = datapunk_log::span!("native-under-off");
        let native_child = child.context();
        drop(_r);
        let native = datapunk_log::span!("tr-off-native");
        let _n = native.enter();
        let tr_child = tracing::info_span!(target: "tr.samp", "tr-under-off-native");
        let _c = tr_child.enter();
        tracing::info!(target: "tr.samp.in_native", "in a tracing span under an unsampled native root");
        (native_child, native.context())
    };
    sampler::update(SamplingConfig::default());
    datapunk_log::flush();
    // The records are written (the log sampler keeps them by default) with
    // the unsampled flags; none of the four spans is exported.
    assert_eq!(native_child.trace_flags & 1, 0);
    assert_eq!(native_root.trace_flags & 1, 0);
    let in_tr = &lines_for(&setup.sink, "tr.samp.in_tr")[0];
    assert_eq!(in_tr.str("trace_flags"), "02");
    assert_eq!(
        in_tr.str("trace_id"),
        format!("{:032x}", native_child.trace_id)
    );
    let in_native = &lines_for(&setup.sink, "tr.samp.in_native")[0];
    assert_eq!(in_native.str("trace_flags"), "02");
    assert_eq!(
        in_native.str("trace_id"),
        format!("{:032x}", native_root.trace_id)
    );
    for name in [
        "tr-off-root",
        "native-under-off",
        "tr-off-native",
        "tr-under-off-native",
    ] {
        assert!(
            setup.exporter.spans().iter().all(|s| s.name != name),
            "{name} was exported"
        );
    }
}

#[test]
fn secrets_in_tracing_fields_and_span_attributes_are_masked() {
    let _s = serial();
    let setup = setup();
    {
        let span = tracing::info_span!(
            target: "tr.secret",
            "tr-secret-span",
            api_key = "sk-span-start",
            token = tracing::field::Empty
        );
        span.record("token", "tok-recorded-later");
        let _e = span.enter();
        tracing::info!(target: "tr.secret", password = "hunter2", user = "ana", "login");
    }
    datapunk_log::flush();
    let l = &lines_for(&setup.sink, "tr.secret")[0];
    assert_eq!(l.str("password"), datapunk_log::MASK);
    assert_eq!(l.str("user"), "ana");
    assert!(!l.raw.contains("hunter2"));
    let exported = setup.exported_log("tr.secret");
    assert_eq!(
        exported.field("password"),
        Some(&OwnedValue::Str(datapunk_log::MASK.into()))
    );
    let span = setup.exported_span("tr-secret-span");
    assert_eq!(
        span.field("api_key"),
        Some(&OwnedValue::Str(datapunk_log::MASK.into()))
    );
    assert_eq!(
        span.field("token"),
        Some(&OwnedValue::Str(datapunk_log::MASK.into()))
    );
}
