//! Spans: ids, the thread's context stack, records inside spans, span
//! attributes / status / errors, futures across threads, remote parents and
//! correlation ids, and what the export thread hands to an exporter.

mod common;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use common::{Line, SharedEngine, lines_of, serial};
use datapunk_log::export::{OwnedSpan, OwnedStatus, OwnedValue};
use datapunk_log::propagation::{self, Propagated};
use datapunk_log::{Instrument, Level, Parent, Span, Status, TraceContext};

fn setup() -> &'static SharedEngine {
    common::shared_with_exporter(|b| b.service_name("span-tests").service_version("9.9.9"))
}

fn lines_with(msg: &str) -> Vec<Line> {
    lines_of(&setup().sink)
        .into_iter()
        .filter(|l| l.message() == msg)
        .collect()
}

fn spans_named(name: &str) -> Vec<OwnedSpan> {
    setup()
        .exporter
        .spans()
        .into_iter()
        .filter(|s| s.name == name)
        .collect()
}

fn hex32(v: u128) -> String {
    format!("{v:032x}")
}

fn hex16(v: u64) -> String {
    format!("{v:016x}")
}

#[test]
fn log_inside_a_span_carries_its_ids_and_the_span_is_exported() {
    let _s = serial();
    let s = setup();
    let ctx;
    {
        let span = datapunk_log::span!("charge_card", amount = 12.5, card = "visa");
        ctx = span.context();
        let _e = span.enter();
        assert_eq!(datapunk_log::current_context(), ctx);
        datapunk_log::info!(step = 1u8, "charging inside span");
    }
    datapunk_log::info!("after the span");
    datapunk_log::flush();

    assert_ne!(ctx.trace_id, 0);
    assert_ne!(ctx.span_id, 0);
    assert_eq!(ctx.parent_span_id, 0);
    assert_eq!(ctx.trace_flags, 0x03, "sampled + random trace id");

    let inside = lines_with("charging inside span");
    assert_eq!(inside.len(), 1);
    assert_eq!(inside[0].str("trace_id"), hex32(ctx.trace_id));
    assert_eq!(inside[0].str("span_id"), hex16(ctx.span_id));
    assert_eq!(inside[0].str("trace_flags"), "03");
    assert!(!inside[0].has("parent_span_id"));
    let after = lines_with("after the span");
    assert_eq!(after.len(), 1);
    assert!(!after[0].has("trace_id"), "{}", after[0].raw);

    let spans = spans_named("charge_card");
    assert_eq!(spans.len(), 1);
    let sp = &spans[0];
    assert_eq!(sp.context, ctx);
    assert_eq!(sp.field("amount"), Some(&OwnedValue::F64(12.5)));
    assert_eq!(sp.field("card"), Some(&OwnedValue::Str("visa".into())));
    assert!(sp.start_unix_nano > 0 && sp.start_unix_nano <= sp.end_unix_nano);
    assert_eq!(sp.status, OwnedStatus::Unset);
    assert_eq!(sp.target, module_path!());
    assert!(!sp.parent_is_remote);

    // The exported log record has the same ids.
    let logs: Vec<_> = s
        .exporter
        .logs()
        .into_iter()
        .filter(|l| l.message == "charging inside span")
        .collect();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].trace, ctx);
    assert_eq!(logs[0].field("step"), Some(&OwnedValue::U64(1)));
    assert!(logs[0].observed_unix_nano >= logs[0].time_unix_nano);

    // The resource reached the exporter, builder values first.
    let res = s.exporter.resource();
    let get = |k: &str| res.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    assert_eq!(
        get("service.name").and_then(|v| v.as_str().map(str::to_owned)),
        Some("span-tests".to_owned())
    );
    assert_eq!(
        get("service.version").and_then(|v| v.as_str().map(str::to_owned)),
        Some("9.9.9".to_owned())
    );
}

#[test]
fn nested_spans_link_to_their_parent_and_restore_on_exit() {
    let _s = serial();
    setup();
    let outer = datapunk_log::span!("outer");
    let oe = outer.enter();
    let inner = datapunk_log::span!("inner", depth = 2u32);
    {
        let _ie = inner.enter();
        datapunk_log::info!("in inner");
        assert_eq!(datapunk_log::current_context(), inner.context());
    }
    assert_eq!(datapunk_log::current_context(), outer.context());
    datapunk_log::info!("back in outer");
    drop(oe);
    assert_eq!(datapunk_log::current_context(), TraceContext::default());
    let (o, i) = (outer.context(), inner.context());
    drop(inner);
    drop(outer);
    datapunk_log::flush();

    assert_eq!(i.trace_id, o.trace_id);
    assert_eq!(i.parent_span_id, o.span_id);
    assert_ne!(i.span_id, o.span_id);
    let l = &lines_with("in inner")[0];
    assert_eq!(l.str("span_id"), hex16(i.span_id));
    assert_eq!(l.str("parent_span_id"), hex16(o.span_id));
    let l = &lines_with("back in outer")[0];
    assert_eq!(l.str("span_id"), hex16(o.span_id));

    let inner_span = &spans_named("inner")[0];
    assert_eq!(inner_span.context, i);
    let outer_span = &spans_named("outer")[0];
    assert_eq!(outer_span.context, o);
    assert!(outer_span.start_unix_nano <= inner_span.start_unix_nano);
    assert!(inner_span.end_unix_nano <= outer_span.end_unix_nano);
}

#[derive(Debug)]
struct Declined;

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}

impl std::error::Error for Declined {}

#[test]
fn attributes_status_and_errors_recorded_later() {
    let _s = serial();
    setup();
    {
        let span = datapunk_log::span!("pay", order = 7u64);
        span.record("http.status_code", &402u16);
        span.record("retry", &true);
        span.record("order", &8u64);
        span.record_error(&Declined);
        span.add_event("gave up");
        span.set_status(Status::Error("payment failed"));
    }
    {
        let span = datapunk_log::span!("pay_ok");
        span.set_status(Status::Ok);
    }
    datapunk_log::flush();
    let sp = &spans_named("pay")[0];
    assert_eq!(sp.field("http.status_code"), Some(&OwnedValue::U64(402)));
    assert_eq!(sp.field("retry"), Some(&OwnedValue::Bool(true)));
    assert_eq!(sp.field("order"), Some(&OwnedValue::U64(8)), "later wins");
    assert_eq!(sp.status, OwnedStatus::Error("payment failed".into()));
    assert_eq!(sp.events.len(), 2);
    let ev = &sp.events[0];
    assert_eq!(ev.name, "exception");
    let get = |k: &str| ev.fields.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    assert_eq!(
        get("exception.type"),
        Some(&OwnedValue::Str("Declined".into()))
    );
    assert_eq!(
        get("exception.message"),
        Some(&OwnedValue::Str("card declined".into()))
    );
    assert!(get("exception.stacktrace").is_some());
    assert!(ev.time_unix_nano >= sp.start_unix_nano && ev.time_unix_nano <= sp.end_unix_nano);
    assert_eq!(sp.events[1].name, "gave up");
    assert!(sp.events[1].fields.is_empty());
    assert_eq!(spans_named("pay_ok")[0].status, OwnedStatus::Ok);
}

/// A span without fields (and no correlation id) writes nothing when it
/// starts and one record when it ends; what it exports is the same as for a
/// span written in pieces.
#[test]
fn spans_without_fields_are_written_whole_with_their_start_time() {
    let _s = serial();
    setup();
    let unix_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos() as u64
    };
    let pause = std::time::Duration::from_millis(3);
    let before = unix_now();
    // Ended on another thread than the one it started on.
    let moved = datapunk_log::span!("whole_moved");
    let moved_ctx = moved.context();
    std::thread::sleep(pause);
    std::thread::spawn(move || drop(moved))
        .join()
        .expect("thread");
    // A remote parent (no correlation id current).
    let remote = TraceContext {
        trace_id: 0x0af7651916cd43dd8448eb211c80319c,
        span_id: 0xb7ad6b7169203331,
        parent_span_id: 0,
        trace_flags: 1,
    };
    drop(datapunk_log::span!(parent: remote, "whole_remote"));
    // Recorded on after a while: the start is written first, with the time
    // the span started.
    let recorded = datapunk_log::span!("whole_then_recorded");
    std::thread::sleep(pause);
    let mid = unix_now();
    recorded.record("attempt", &3u64);
    recorded.add_event("retrying");
    recorded.set_status(Status::Error("gave up"));
    drop(recorded);
    datapunk_log::flush();
    let after = unix_now();
    let st = datapunk_log::stats();
    assert_eq!(st.export_orphans, 0);
    assert_eq!(st.corrupt, 0);

    let m = &spans_named("whole_moved");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].context, moved_ctx);
    assert!(!m[0].parent_is_remote);
    assert!(m[0].fields.is_empty() && m[0].events.is_empty());
    assert_eq!(m[0].status, OwnedStatus::Unset);
    assert!(before <= m[0].start_unix_nano + 50_000_000);
    assert!(m[0].end_unix_nano - m[0].start_unix_nano >= pause.as_nanos() as u64);
    assert!(m[0].end_unix_nano <= after + 50_000_000);

    let r = &spans_named("whole_remote");
    assert_eq!(r.len(), 1);
    assert!(r[0].parent_is_remote);
    assert_eq!(r[0].context.trace_id, remote.trace_id);
    assert_eq!(r[0].context.parent_span_id, remote.span_id);
    assert!(r[0].start_unix_nano <= r[0].end_unix_nano);

    let w = &spans_named("whole_then_recorded");
    assert_eq!(w.len(), 1);
    let w = &w[0];
    assert_eq!(w.field("attempt"), Some(&OwnedValue::U64(3)));
    assert_eq!(w.status, OwnedStatus::Error("gave up".into()));
    assert_eq!(w.events.len(), 1);
    assert_eq!(w.events[0].name, "retrying");
    // The start is when the span began, not when the first attribute came.
    assert!(w.start_unix_nano + pause.as_nanos() as u64 <= w.events[0].time_unix_nano);
    assert!(w.start_unix_nano <= mid + 50_000_000);
    assert!(w.events[0].time_unix_nano <= w.end_unix_nano);
}

#[test]
fn in_span_runs_the_closure_inside_a_child_span() {
    let _s = serial();
    setup();
    let parent = datapunk_log::span!("in_span_parent");
    let _pe = parent.enter();
    let seen = datapunk_log::in_span("in_span_child", || {
        datapunk_log::info!("inside in_span");
        datapunk_log::current_context()
    });
    assert_eq!(seen.parent_span_id, parent.context().span_id);
    assert_eq!(seen.trace_id, parent.context().trace_id);
    assert_eq!(datapunk_log::current_context(), parent.context());
    datapunk_log::flush();
    let child = &spans_named("in_span_child")[0];
    assert_eq!(child.context, seen);
    assert_eq!(
        lines_with("inside in_span")[0].str("span_id"),
        hex16(seen.span_id)
    );
}

/// Pending on its first poll (waking itself), ready on the second; records
/// the context it sees at each poll.
struct TwoPolls {
    polls: u32,
    seen: Vec<TraceContext>,
}

impl Future for TwoPolls {
    type Output = Vec<TraceContext>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let c = datapunk_log::current_context();
        self.seen.push(c);
        datapunk_log::info!(poll = self.polls, "polled in future");
        self.polls += 1;
        if self.polls < 2 {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(std::mem::take(&mut self.seen))
        }
    }
}

#[test]
fn futures_carry_their_span_across_polls_and_threads() {
    let _s = serial();
    setup();
    let span = datapunk_log::span!("async_work");
    let ctx = span.context();
    let mut fut = Box::pin(
        TwoPolls {
            polls: 0,
            seen: Vec::new(),
        }
        .instrument(span),
    );
    let mut cx = Context::from_waker(Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert_eq!(datapunk_log::current_context(), TraceContext::default());
    // The second poll runs on another thread.
    let seen = std::thread::spawn(move || {
        let mut cx = Context::from_waker(Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("second poll is ready"),
        }
    })
    .join()
    .unwrap();
    assert_eq!(seen, vec![ctx, ctx]);

    // in_current_span carries the caller's context.
    let outer = datapunk_log::span!("outer_for_current");
    let oc = outer.context();
    let mut fut = {
        let _e = outer.enter();
        Box::pin(
            TwoPolls {
                polls: 0,
                seen: Vec::new(),
            }
            .in_current_span(),
        )
    };
    let seen = std::thread::spawn(move || {
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                break v;
            }
        }
    })
    .join()
    .unwrap();
    assert_eq!(seen, vec![oc, oc]);
    drop(outer);
    datapunk_log::flush();
    // The span ended when its future was dropped, after both polls.
    let sp = &spans_named("async_work")[0];
    assert_eq!(sp.context, ctx);
    let polled: Vec<_> = lines_with("polled in future")
        .into_iter()
        .filter(|l| l.str("span_id") == hex16(ctx.span_id))
        .collect();
    assert_eq!(polled.len(), 2);
    assert_eq!(spans_named("outer_for_current").len(), 1);
}

#[test]
fn a_remote_parent_and_its_correlation_id_flow_into_records_and_out_again() {
    let _s = serial();
    setup();
    let mut headers = HashMap::new();
    headers.insert(
        "traceparent".to_string(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
    );
    headers.insert(
        "baggage".to_string(),
        "correlation_id=req-42,tenant=acme".to_string(),
    );
    let incoming = propagation::extract(&headers);
    let span = datapunk_log::span!(parent: &incoming, "handle_request", route = "/pay");
    let ctx = span.context();
    assert_eq!(ctx.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
    assert_eq!(ctx.parent_span_id, 0x00f067aa0ba902b7);
    assert_eq!(ctx.trace_flags, 0x01);
    assert_eq!(span.correlation_id(), Some("req-42"));
    let outgoing = {
        let _e = span.enter();
        datapunk_log::info!("handling remote request");
        let child = datapunk_log::span!("db_query");
        let _ce = child.enter();
        datapunk_log::info!("querying");
        let mut out: HashMap<String, String> = HashMap::new();
        propagation::inject(&Propagated::current(), &mut out);
        (out, child.context())
    };
    drop(span);
    datapunk_log::info!("no request any more");
    datapunk_log::flush();

    let (out, child) = outgoing;
    assert_eq!(
        out["traceparent"],
        format!("00-{}-{}-01", hex32(ctx.trace_id), hex16(child.span_id))
    );
    let back = propagation::extract(&out);
    assert_eq!(back.correlation_id.as_deref(), Some("req-42"));

    let l = &lines_with("handling remote request")[0];
    assert_eq!(l.str("correlation_id"), "req-42");
    assert_eq!(l.str("trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(l.str("parent_span_id"), "00f067aa0ba902b7");
    let l = &lines_with("querying")[0];
    assert_eq!(l.str("correlation_id"), "req-42", "children inherit it");
    let l = &lines_with("no request any more")[0];
    assert!(!l.has("correlation_id") && !l.has("trace_id"));

    let sp = &spans_named("handle_request")[0];
    assert!(sp.parent_is_remote);
    assert_eq!(sp.correlation_id.as_deref(), Some("req-42"));
    assert_eq!(sp.context.parent_span_id, 0x00f067aa0ba902b7);
    let db = &spans_named("db_query")[0];
    assert!(!db.parent_is_remote);
    assert_eq!(db.context.parent_span_id, ctx.span_id);

    // A malformed traceparent starts a new trace (and keeps the correlation id).
    headers.insert("traceparent".into(), "00-zz-00f067aa0ba902b7-01".into());
    let bad = propagation::extract(&headers);
    let fresh = datapunk_log::span!(parent: &bad, "after_bad_header");
    assert_ne!(fresh.context().trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
    assert_eq!(fresh.context().parent_span_id, 0);
    assert_eq!(fresh.correlation_id(), Some("req-42"));
}

#[test]
fn ids_are_never_zero_and_do_not_repeat() {
    let _s = serial();
    setup();
    let mut span_ids = HashSet::new();
    let mut trace_ids = HashSet::new();
    for _ in 0..20_000 {
        let s = datapunk_log::span!(parent: Parent::Root, "id_check");
        let c = s.context();
        assert_ne!(c.span_id, 0);
        assert_ne!(c.trace_id, 0);
        assert_eq!(c.trace_flags & 0x02, 0x02, "random trace id flag");
        span_ids.insert(c.span_id);
        trace_ids.insert(c.trace_id);
    }
    assert_eq!(span_ids.len(), 20_000);
    assert_eq!(trace_ids.len(), 20_000);
    // Another thread's generator is seeded differently.
    let other: Vec<u64> = std::thread::spawn(|| {
        (0..1000)
            .map(|_| datapunk_log::span!("id_check").context().span_id)
            .collect()
    })
    .join()
    .unwrap();
    assert!(other.iter().all(|id| !span_ids.contains(id)));
}

#[test]
fn a_span_disabled_by_the_filter_changes_nothing() {
    let _s = serial();
    setup();
    let parent = datapunk_log::span!("enabled_parent");
    let _pe = parent.enter();
    let debug = datapunk_log::span!(level: Level::Debug, "debug_span");
    assert!(debug.is_none());
    let _de = debug.enter();
    assert_eq!(datapunk_log::current_context(), parent.context());
    let none = Span::none();
    let _ne = none.enter();
    assert_eq!(datapunk_log::current_context(), parent.context());
}

#[test]
fn every_span_record_is_accounted_for() {
    let _s = serial();
    setup();
    for i in 0..1000u64 {
        let s = datapunk_log::span!("counted", i);
        s.record("twice", &(i * 2));
        let _e = s.enter();
        datapunk_log::info!("counted log");
    }
    datapunk_log::flush();
    let st = datapunk_log::stats();
    assert_eq!(st.produced, st.written + st.span_records + st.dropped);
    assert!(st.span_records >= 3000);
    assert_eq!(st.export_dropped_spans, 0);
    assert_eq!(st.export_orphans, 0);
    assert_eq!(spans_named("counted").len(), 1000);
    assert!(st.exported_spans >= 1000);
    assert!(st.exported_logs >= 1000);
}

/// Raw-identifier field names are written under one key everywhere: the
/// JSON line and the exporter's log record and span attributes agree
/// (`r#type` → `type`, `r#loop.r#in` → `loop.in`).
#[test]
fn raw_identifier_fields_have_one_key_in_json_and_in_export() {
    let setup = setup();
    let r#type = "login";
    datapunk_log::info!(r#type, r#match = 1, r#loop.r#in = 2, "raw keys");
    {
        let _s = datapunk_log::span!("raw-keys-span", r#type, r#loop.r#in = 3);
    }
    datapunk_log::flush();
    let line = lines_with("raw keys").pop().expect("the line");
    let exported = setup
        .exporter
        .logs()
        .into_iter()
        .find(|l| l.message == "raw keys")
        .expect("the exported record");
    let json_keys: Vec<&str> = line
        .keys()
        .into_iter()
        .filter(|k| ["type", "match", "loop.in"].contains(k) || k.contains("r#"))
        .collect();
    let export_keys: Vec<&str> = exported.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(json_keys, ["type", "match", "loop.in"]);
    assert_eq!(export_keys, json_keys);
    assert_eq!(line.str("type"), "login");
    assert_eq!(exported.field("loop.in"), Some(&OwnedValue::I64(2)));
    let span = spans_named("raw-keys-span").pop().expect("the span");
    let span_keys: Vec<&str> = span.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(span_keys, ["type", "loop.in"]);
}

/// With `MemoryExporter` (it stores every record it is handed), the
/// export counters add up: everything handed over was delivered.
#[test]
fn export_counters_add_up_with_the_memory_exporter() {
    let _s = serial();
    setup();
    datapunk_log::info!("counted");
    drop(datapunk_log::span!("counted-span"));
    datapunk_log::flush();
    let s = datapunk_log::stats();
    assert!(s.exported_logs >= 1 && s.exported_spans >= 1, "{s:?}");
    assert_eq!(s.export_delivered_logs, s.exported_logs, "{s:?}");
    assert_eq!(s.export_delivered_spans, s.exported_spans, "{s:?}");
    assert_eq!(s.export_failed_logs + s.export_failed_spans, 0, "{s:?}");
}
