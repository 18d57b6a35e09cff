//! The `log` crate's records flow into the engine: level, target and the
//! formatted message; key-values as typed fields (JSON and export); the
//! filter directives and `log::max_level`; the current span's trace ids;
//! reserved names renamed; no allocation per record after a call site's
//! first; a `log` call site is one interned call site of ours.
//!
//! One engine for the whole binary (one engine per process).

mod common;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use common::{SharedEngine, lines_for, serial};
use counting_alloc::allocations;
use datapunk_log::export::OwnedValue;

fn setup() -> &'static SharedEngine {
    common::shared_with_exporter(|b| b.filter("info,noisy=warn,verbose=trace"))
}

#[test]
fn records_and_key_values_arrive_typed() {
    let _s = serial();
    let setup = setup();
    log::info!(target: "dep", "plain {}", 42);
    log::warn!(target: "dep.kv", user_id = 7, delta = -3, latency = 0.5, ok = true, name = "x"; "with kv");
    datapunk_log::flush();
    let plain = lines_for(&setup.sink, "dep");
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0].str("level"), "INFO");
    assert_eq!(plain[0].message(), "plain 42");
    let kv = &lines_for(&setup.sink, "dep.kv")[0];
    assert_eq!(kv.str("level"), "WARN");
    assert_eq!(kv.message(), "with kv");
    assert_eq!(kv.u64("user_id"), 7);
    assert_eq!(kv.get("delta").as_i64(), Some(-3));
    assert_eq!(kv.get("latency").as_f64(), Some(0.5));
    assert_eq!(kv.get("ok").as_bool(), Some(true));
    assert_eq!(kv.str("name"), "x");
    let exported = setup.exported_log("dep.kv");
    assert_eq!(exported.message, "with kv");
    assert_eq!(exported.field("user_id"), Some(&OwnedValue::U64(7)));
    assert_eq!(exported.field("name"), Some(&OwnedValue::Str("x".into())));
}

#[test]
fn the_filter_directives_apply_and_max_level_follows_them() {
    let _s = serial();
    let setup = setup();
    assert_eq!(log::max_level(), log::LevelFilter::Trace);
    log::debug!(target: "quiet", "below the default level");
    log::info!(target: "noisy", "below noisy's level");
    log::warn!(target: "noisy", "at noisy's level");
    log::trace!(target: "verbose", "verbose is open to trace");
    datapunk_log::flush();
    assert!(lines_for(&setup.sink, "quiet").is_empty());
    let noisy = lines_for(&setup.sink, "noisy");
    assert_eq!(noisy.len(), 1);
    assert_eq!(noisy[0].message(), "at noisy's level");
    assert_eq!(lines_for(&setup.sink, "verbose").len(), 1);
}

#[test]
fn records_carry_the_current_span_and_reserved_names_are_renamed() {
    let _s = serial();
    let setup = setup();
    let span = datapunk_log::span!("bridge-span");
    {
        let _e = span.enter();
        log::info!(target: "dep.span", message = "a field named message", level = 3; "inside");
    }
    datapunk_log::flush();
    let l = &lines_for(&setup.sink, "dep.span")[0];
    assert_eq!(l.message(), "inside");
    assert_eq!(
        l.str("trace_id"),
        format!("{:032x}", span.context().trace_id)
    );
    assert_eq!(l.str("span_id"), format!("{:016x}", span.context().span_id));
    assert_eq!(l.str("fields.message"), "a field named message");
    assert_eq!(l.u64("fields.level"), 3);
}

fn bridged(i: u64) {
    log::info!(target: "dep.alloc", i = i, route = "/a"; "request {} done", i);
}

#[test]
fn a_bridged_record_allocates_nothing_after_its_call_sites_first() {
    let _s = serial();
    setup();
    bridged(0);
    let n = allocations(|| {
        for i in 1..=1000 {
            bridged(i);
        }
    });
    assert_eq!(n, 0, "{n} allocations in 1000 bridged records");
    datapunk_log::flush();
    let lines = lines_for(&setup().sink, "dep.alloc");
    assert_eq!(lines.len(), 1001);
    assert_eq!(lines[1000].message(), "request 1000 done");
    assert_eq!(lines[1000].u64("i"), 1000);
}

#[test]
fn a_record_of_megabytes_is_cut_and_marked() {
    let _s = serial();
    let setup = setup();
    let big = "x".repeat(4 << 20);
    log::info!(target: "dep.big", blob = big.as_str(); "huge {}", big);
    datapunk_log::flush();
    let lines = lines_for(&setup.sink, "dep.big");
    assert_eq!(lines.len(), 1);
    let l = &lines[0];
    assert_eq!(
        l.get("truncated").as_bool(),
        Some(true),
        "{}",
        &l.raw[..200]
    );
    // The record limit (16 KiB by default) bounds the line.
    assert!(l.raw.len() < 64 << 10, "{} bytes", l.raw.len());
    assert!(l.message().starts_with("huge xxx"));
}

#[derive(Debug)]
struct Timeout;

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream timed out")
    }
}

impl std::error::Error for Timeout {}

#[test]
fn an_error_key_value_is_an_exception() {
    let _s = serial();
    let setup = setup();
    let e = Timeout;
    log::error!(target: "dep.err", cause:err = e, attempt = 3; "call failed");
    datapunk_log::flush();
    let l = &lines_for(&setup.sink, "dep.err")[0];
    assert_eq!(l.message(), "call failed");
    assert_eq!(l.str("exception.message"), "upstream timed out");
    assert!(l.str("exception.type").contains("Timeout"), "{}", l.raw);
    assert_eq!(l.u64("attempt"), 3);
}
