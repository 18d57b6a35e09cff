//! Trace sampling inside the engine: unsampled spans are non-recording but
//! set the context, kept spans carry their tracestate into OTLP-bound
//! records and into outgoing headers, the random flag travels, and the
//! debug override keeps one request.

mod common;

use std::collections::HashMap;

use common::{SharedEngine, lines_of, serial};
use datapunk_log::propagation::{self, Propagated, TraceParent};
use datapunk_log::sampler::{self, Rule, Sampler, SamplingConfig};
use datapunk_log::{Parent, Span};

fn setup() -> &'static SharedEngine {
    common::shared_with_exporter(|b| b)
}

fn exported(name: &str) -> Vec<datapunk_log::export::OwnedSpan> {
    datapunk_log::flush();
    setup()
        .exporter
        .spans()
        .into_iter()
        .filter(|s| s.name == name)
        .collect()
}

fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn an_unsampled_span_sets_the_context_and_writes_nothing() {
    let _s = serial();
    setup();
    sampler::update(SamplingConfig::new(Sampler::parent_based(
        Sampler::AlwaysOff,
    )));
    let (root_ctx, child_ctx) = {
        let root = datapunk_log::span!("unsampled_root", k = 1);
        assert!(!root.is_sampled());
        let _e = root.enter();
        datapunk_log::info!("inside unsampled");
        let child = datapunk_log::span!("unsampled_child");
        assert!(!child.is_sampled());
        (root.context(), child.context())
    };
    assert_ne!(root_ctx.trace_id, 0);
    assert_eq!(root_ctx.trace_flags, 0x02, "random, not sampled");
    assert_eq!(child_ctx.trace_id, root_ctx.trace_id);
    assert_eq!(child_ctx.parent_span_id, root_ctx.span_id);
    assert_eq!(child_ctx.trace_flags, 0x02);
    datapunk_log::flush();
    let line = lines_of(&setup().sink)
        .into_iter()
        .find(|l| l.message() == "inside unsampled")
        .expect("the record is written");
    assert_eq!(line.str("trace_id"), format!("{:032x}", root_ctx.trace_id));
    assert_eq!(line.str("trace_flags"), "02");
    assert!(exported("unsampled_root").is_empty());
    assert!(exported("unsampled_child").is_empty());

    sampler::update(SamplingConfig::default());
    {
        let s = datapunk_log::span!("sampled_root");
        assert!(s.is_sampled());
        assert_eq!(s.context().trace_flags, 0x03);
    }
    let spans = exported("sampled_root");
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].context.trace_flags, 0x03);
    assert_eq!(spans[0].trace_state, "", "always_on writes no th");
}

#[test]
fn a_probability_sampled_root_carries_th_to_the_exporter_and_downstream() {
    let _s = serial();
    setup();
    sampler::update(SamplingConfig::new(Sampler::parent_based(
        Sampler::probability(0.25),
    )));
    let mut found = None;
    for _ in 0..10_000 {
        let s = datapunk_log::span!("prob_root");
        if s.is_sampled() {
            let _e = s.enter();
            let out = Propagated::current();
            let child = datapunk_log::span!("prob_child");
            found = Some((s.context(), out, child.tracestate().to_string()));
            break;
        }
    }
    let (ctx, out, child_ts) = found.expect("p = 0.25 keeps one root in 10 000");
    assert_eq!(out.tracestate.get("ot"), Some("th:c"));
    assert_eq!(child_ts, "ot=th:c", "a local child passes th on");
    assert_eq!(out.parent.map(|p| p.flags), Some(0x03));
    let mut carrier: HashMap<String, String> = HashMap::new();
    propagation::inject(&out, &mut carrier);
    assert_eq!(
        carrier.get("traceparent").map(String::as_str),
        Some(format!("00-{:032x}-{:016x}-03", ctx.trace_id, ctx.span_id).as_str())
    );
    assert_eq!(
        carrier.get("tracestate").map(String::as_str),
        Some("ot=th:c")
    );
    let spans = exported("prob_root");
    let s = spans
        .iter()
        .find(|s| s.context.span_id == ctx.span_id)
        .expect("the sampled root is exported");
    assert_eq!(s.trace_state, "ot=th:c");
    sampler::update(SamplingConfig::default());
}

#[test]
fn a_received_tracestate_is_sent_on_with_th_first() {
    let _s = serial();
    setup();
    sampler::update(SamplingConfig::default());
    // R = 0xffffffffffffff (rv) >= T = 0x8…: th:8 is consistent.
    let incoming = propagation::extract(&headers(&[
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
        ),
        (
            "tracestate",
            "vendor=a,ot=th:8;rv:ffffffffffffff;x:1,other@tenant=b",
        ),
    ]));
    let span = datapunk_log::span!(parent: &incoming, "remote_child");
    assert!(span.is_sampled());
    assert_eq!(span.context().trace_flags, 0x03, "random flag carried");
    let out = {
        let _e = span.enter();
        Propagated::current()
    };
    assert_eq!(
        out.tracestate.to_string(),
        "ot=th:8;rv:ffffffffffffff;x:1,vendor=a,other@tenant=b"
    );
    drop(span);
    let spans = exported("remote_child");
    assert_eq!(
        spans[0].trace_state,
        "ot=th:8;rv:ffffffffffffff;x:1,vendor=a,other@tenant=b"
    );
    assert!(spans[0].parent_is_remote);
}

#[test]
fn an_inconsistent_incoming_th_is_erased_and_the_rest_kept() {
    let _s = serial();
    setup();
    sampler::update(SamplingConfig::default());
    // Low 56 bits of the trace id are 0: R = 0 < T = 0x8…: inconsistent.
    let incoming = propagation::extract(&headers(&[
        (
            "traceparent",
            "00-4bf92f3577b34da6a300000000000000-00f067aa0ba902b7-01",
        ),
        ("tracestate", "ot=th:8,vendor=a"),
    ]));
    let span = datapunk_log::span!(parent: &incoming, "inconsistent");
    assert!(span.is_sampled(), "the parent decided");
    assert_eq!(span.tracestate().to_string(), "vendor=a");
}

#[test]
fn an_unsampled_remote_parent_is_not_recorded_unless_debug_is_on() {
    let _s = serial();
    setup();
    sampler::update(SamplingConfig::default());
    let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    let plain = propagation::extract(&headers(&[("traceparent", tp)]));
    let s = datapunk_log::span!(parent: &plain, "remote_unsampled");
    assert!(!s.is_sampled());
    drop(s);
    assert!(exported("remote_unsampled").is_empty());

    for debug in [
        headers(&[("traceparent", tp), ("x-datapunk-debug", "1")]),
        headers(&[("traceparent", tp), ("baggage", "datapunk.debug=true")]),
    ] {
        let p = propagation::extract(&debug);
        assert!(p.debug);
        let s = datapunk_log::span!(parent: &p, "remote_debug");
        assert!(s.is_sampled());
        let _e = s.enter();
        let child = datapunk_log::span!("remote_debug_child");
        assert!(child.is_sampled(), "children follow the kept parent");
        let out = Propagated::current();
        assert!(out.debug, "the override travels downstream");
        let mut carrier: HashMap<String, String> = HashMap::new();
        propagation::inject(&out, &mut carrier);
        assert_eq!(
            carrier.get("x-datapunk-debug").map(String::as_str),
            Some("1")
        );
    }
    assert_eq!(exported("remote_debug").len(), 2);
}

#[test]
fn rules_see_attributes_given_at_start() {
    let _s = serial();
    setup();
    sampler::update(SamplingConfig::new(Sampler::rules(vec![
        Rule::new(Sampler::AlwaysOn).attribute_eq("error", "true"),
        Rule::new(Sampler::AlwaysOn).attribute_eq("tier", "gold"),
        Rule::new(Sampler::AlwaysOff),
    ])));
    assert!(datapunk_log::span!("rule", error = true).is_sampled());
    assert!(!datapunk_log::span!("rule", error = false).is_sampled());
    assert!(datapunk_log::span!("rule", tier = "gold", n = 3u8).is_sampled());
    assert!(datapunk_log::span!("rule", n = 3u8, tier = %"gold").is_sampled());
    assert!(!datapunk_log::span!("rule", tier = "silver").is_sampled());
    assert!(!datapunk_log::span!("rule").is_sampled());
    // A rule names a field by its key, also when Rust spells it `r#type`;
    // the same for a rate limit's key.
    sampler::update(SamplingConfig::new(Sampler::rules(vec![
        Rule::new(Sampler::AlwaysOn).attribute_eq("type", "login"),
        Rule::new(Sampler::AlwaysOff),
    ])));
    assert!(datapunk_log::span!("rule", r#type = "login").is_sampled());
    assert!(!datapunk_log::span!("rule", r#type = "logout").is_sampled());
    sampler::update(SamplingConfig::default());
}

#[test]
fn the_random_flag_is_read_and_written() {
    let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03").unwrap();
    assert_eq!(tp.flags, 0x03);
    let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff").unwrap();
    assert_eq!(tp.flags, 0x03, "undefined flags are cleared");
    let p = Propagated {
        parent: Some(TraceParent { flags: 0x02, ..tp }),
        ..Propagated::default()
    };
    let mut carrier: HashMap<String, String> = HashMap::new();
    propagation::inject(&p, &mut carrier);
    assert!(carrier["traceparent"].ends_with("-02"));
}

#[test]
fn span_none_and_current_keep_their_meaning() {
    let _s = serial();
    setup();
    sampler::update(SamplingConfig::new(Sampler::AlwaysOff));
    let s = datapunk_log::span!("off");
    assert!(!s.is_none(), "an unsampled span still has a context");
    let _e = s.enter();
    assert_eq!(Span::current().context(), s.context());
    let child = datapunk_log::span!(parent: Parent::Root, "off_root");
    assert_ne!(child.context().trace_id, s.context().trace_id);
    sampler::update(SamplingConfig::default());
}

#[test]
fn an_invalid_ot_sub_key_is_dropped_alone_and_counted() {
    let _s = serial();
    setup();
    sampler::update(SamplingConfig::default());
    let before = sampler::counters().invalid_ot;
    let incoming = propagation::extract(&headers(&[
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "ot=th:8;rv:XYZ;k:v,vendor=a"),
    ]));
    let span = datapunk_log::span!(parent: &incoming, "invalid_ot");
    // R = 0xce929d0e0e4736 >= th:8: consistent, passed on; rv dropped.
    assert_eq!(span.tracestate().to_string(), "ot=th:8;k:v,vendor=a");
    assert_eq!(sampler::counters().invalid_ot, before + 1);
}

#[test]
fn th_is_left_out_rather_than_making_the_ot_value_too_long() {
    let _s = serial();
    setup();
    sampler::update(SamplingConfig::default());
    // A valid incoming ot value of 256 characters with no th: adding
    // `th:…;` would exceed a tracestate value's 256.
    let tail = format!("k:{}", "v".repeat(254));
    let incoming = propagation::extract(&headers(&[
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", &format!("ot={tail},vendor=a")),
    ]));
    assert_eq!(incoming.tracestate.len(), 2);
    sampler::update(SamplingConfig::new(Sampler::parent_based_with(
        sampler::ParentBased {
            remote_sampled: Sampler::probability(1.0),
            ..sampler::ParentBased::new(Sampler::AlwaysOn)
        },
    )));
    let span = datapunk_log::span!(parent: &incoming, "long_ot");
    let ts = span.tracestate();
    assert_eq!(ts.get("ot"), Some(tail.as_str()));
    assert_eq!(ts.get("vendor"), Some("a"));
    sampler::update(SamplingConfig::default());
}

#[test]
fn unsampled_spans_draw_their_ids_late_and_always_to_the_same_values() {
    let _s = serial();
    setup();
    // probability(0.5): T = 2^55. A root is kept iff the low 56 bits of its
    // trace id are >= T; an unsampled root computes its ids only when they
    // are read, and they must be the ids the decision was made on.
    sampler::update(SamplingConfig::new(Sampler::parent_based(
        Sampler::probability(0.5),
    )));
    let t = 1u64 << 55;
    let low56 = |id: u128| (id as u64) & ((1 << 56) - 1);
    let mut seen = std::collections::HashSet::new();
    let (mut kept, mut dropped) = (0, 0);
    for _ in 0..2_000 {
        let s = datapunk_log::span!("late_root");
        let ctx = s.context();
        assert_eq!(s.context(), ctx, "read twice, the same ids");
        assert!(ctx.trace_id != 0 && ctx.span_id != 0);
        assert!(seen.insert(ctx.trace_id), "a trace id repeated");
        if s.is_sampled() {
            kept += 1;
            assert!(low56(ctx.trace_id) >= t);
        } else {
            dropped += 1;
            assert!(low56(ctx.trace_id) < t, "the decision's trace id");
            assert_eq!(ctx.trace_flags, 0x02);
            let tp = s.traceparent().expect("a context");
            assert_eq!((tp.trace_id, tp.span_id), (ctx.trace_id, ctx.span_id));
            let _e = s.enter();
            assert_eq!(Span::current().context(), ctx, "entered: the same ids");
            let child = datapunk_log::span!("late_child");
            assert!(!child.is_sampled());
            let c = child.context();
            assert_eq!(child.context(), c);
            assert_eq!((c.trace_id, c.parent_span_id), (ctx.trace_id, ctx.span_id));
            assert_ne!(c.span_id, ctx.span_id);
            let _ce = child.enter();
            assert_eq!(Span::current().context(), c);
            let grandchild = datapunk_log::span!(parent: &child, "late_grandchild");
            assert_eq!(grandchild.context().parent_span_id, c.span_id);
        }
    }
    assert!(
        kept > 800 && dropped > 800,
        "{kept} kept, {dropped} dropped"
    );
    sampler::update(SamplingConfig::default());
}

/// Rules whose second picks `checkout` for spans of that name (the call
/// site's name settles it), after an attribute rule and before a catch-all.
fn checkout_rules(checkout: Sampler) -> SamplingConfig {
    SamplingConfig::new(Sampler::parent_based(Sampler::rules(vec![
        Rule::new(Sampler::AlwaysOn).attribute_eq("error", "true"),
        Rule::new(checkout).name("checkout"),
        Rule::new(Sampler::AlwaysOn),
    ])))
}

/// One call site's root span (the same static every call).
fn checkout_root(tenant: &str) -> Span {
    datapunk_log::span!("checkout", tenant = tenant)
}

/// What a call site's first root works out (a rule that its name alone
/// selects) decides its later roots; an update replaces it at once, for
/// fixed decisions, probabilities (with their `th`), always-kept names, a
/// ceiling and a per-key rate limit the call site's word leaves to the full
/// decision.
#[test]
fn a_call_sites_worked_out_decision_follows_every_update() {
    let _s = serial();
    setup();
    let rules = checkout_rules;
    let decisions = |n: usize| -> Vec<(bool, Option<String>)> {
        (0..n)
            .map(|_| {
                let s = checkout_root("acme");
                (s.is_sampled(), s.tracestate().get("ot").map(str::to_owned))
            })
            .collect()
    };
    sampler::update(rules(Sampler::AlwaysOff));
    assert!(decisions(50).iter().all(|(kept, _)| !kept));
    sampler::update(rules(Sampler::AlwaysOn));
    assert!(decisions(50).iter().all(|(kept, ts)| *kept && ts.is_none()));
    sampler::update(rules(Sampler::probability(0.5)));
    let d = decisions(400);
    let kept = d.iter().filter(|(k, _)| *k).count();
    assert!((100..=300).contains(&kept), "kept {kept} of 400 at p = 0.5");
    assert!(
        d.iter()
            .filter(|(k, _)| *k)
            .all(|(_, ts)| ts.as_deref() == Some("th:8"))
    );
    sampler::update(rules(Sampler::AlwaysOff).always_keep(["checkout"]));
    assert!(
        decisions(50)
            .iter()
            .all(|(kept, ts)| *kept && ts.as_deref() == Some("th:0"))
    );

    // A ceiling of a burst of 5 (and 1e-9 a second after): the call site's
    // kept roots still ask it.
    let before = sampler::counters();
    sampler::update(rules(Sampler::AlwaysOn).max_root_traces_per_second(1e-9));
    let kept = decisions(50).iter().filter(|(k, _)| *k).count();
    assert!((1..=5).contains(&kept), "the ceiling kept {kept}");
    let after = sampler::counters();
    assert_eq!(
        after.ceiling_rejected - before.ceiling_rejected,
        50 - kept as u64
    );

    // A rate limit per tenant behind the rule: a burst of 3 per tenant.
    sampler::update(rules(Sampler::AlwaysOn.rate_limited(1e-9, 3, ["tenant"])));
    let kept_acme = decisions(20).iter().filter(|(k, _)| *k).count();
    assert_eq!(kept_acme, 3);
    let kept_other = (0..20)
        .filter(|_| checkout_root("other").is_sampled())
        .count();
    assert_eq!(kept_other, 3, "another tenant has its own budget");
    sampler::update(SamplingConfig::default());
    assert!(decisions(5).iter().all(|(kept, _)| *kept));
}

/// Once `update` returns, a call site decides by the new configuration,
/// even while another thread keeps deciding (and publishing what it worked
/// out for) roots of the same call site under the configurations being
/// replaced. Bounded by a count of updates, not by time.
#[test]
fn no_call_site_word_outlives_the_update_that_replaced_it() {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let _s = serial();
    setup();
    let rules = |on: bool| {
        checkout_rules(if on {
            Sampler::AlwaysOn
        } else {
            Sampler::AlwaysOff
        })
    };
    /// Stops the other thread however the checks end (a failed assertion
    /// included: the scope waits for it before the panic goes on).
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Relaxed);
        }
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..100_000_000u64 {
                if stop.load(Relaxed) {
                    break;
                }
                std::hint::black_box(checkout_root("x"));
            }
        });
        let _stop = StopOnDrop(&stop);
        for round in 0..2_000 {
            let on = round % 2 == 0;
            sampler::update(rules(on));
            for _ in 0..4 {
                assert_eq!(checkout_root("x").is_sampled(), on, "round {round}");
            }
        }
    });
    sampler::update(SamplingConfig::default());
}
