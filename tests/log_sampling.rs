//! Log sampling in the engine: first N then every Mth per call site with
//! exact counts, ERROR kept, the adjusted count in JSON and in exported
//! records, the drop / keep / buffer policies for unsampled traces, the
//! debug buffer's replay and bounds, the periodic summary, and the
//! accounting equation after `flush()`.
//!
//! One engine for the whole binary; policies are process-wide, so every test
//! holds `serial()` and puts the defaults back.

mod common;

use std::time::Duration;

use common::{Line, SharedEngine, lines_for, lines_of, serial};
use datapunk_log::export::OwnedValue;
use datapunk_log::sampler::{self, LogPolicy, Sampler, SamplingConfig, Unsampled};
use datapunk_log::{Level, Stats, TraceContext};

/// Debug buffer bounds of this binary's engine.
const BUFFER_RECORDS: usize = 4;
const BUFFER_BYTES: usize = 64 << 10;

fn setup() -> &'static SharedEngine {
    common::shared_with_exporter(|b| {
        b.filter("trace")
            .debug_buffer(BUFFER_RECORDS, BUFFER_BYTES)
            .sampling_summary_interval(Duration::ZERO)
    })
}

/// The defaults: every level keep-all, unsampled traces kept.
fn reset() {
    for l in 0..6 {
        sampler::set_log_policy(Level::from_u8(l).unwrap(), LogPolicy::KEEP_ALL);
    }
    sampler::set_unsampled(Unsampled::Keep);
    sampler::update(SamplingConfig::default());
}

/// Flushes and checks the accounting; returns the stats.
fn balanced() -> Stats {
    datapunk_log::flush();
    let s = datapunk_log::stats();
    assert_eq!(
        s.produced,
        s.written + s.span_records + s.dropped + s.sampled_out + s.buffered,
        "{s:?}"
    );
    assert_eq!(
        s.sampled_out,
        s.sampled_out_callsite + s.sampled_out_unsampled + s.sampled_out_buffer
    );
    assert_eq!(s.sampled_out_by_level.iter().sum::<u64>(), s.sampled_out);
    let per_site: u64 = datapunk_log::sampling_stats()
        .iter()
        .map(|x| x.sampled_out)
        .sum();
    assert_eq!(per_site, s.sampled_out_callsite);
    assert_eq!(s.corrupt, 0);
    assert_eq!(s.dropped, 0);
    assert!(s.buffered_bytes <= BUFFER_BYTES as u64);
    s
}

/// Runs `f` inside a new root span, sampled or not; returns its trace id
/// and the span (to enter again later).
fn in_trace(sampled: bool, f: impl FnOnce()) -> (u128, datapunk_log::Span) {
    let s = if sampled {
        Sampler::AlwaysOn
    } else {
        Sampler::AlwaysOff
    };
    sampler::update(SamplingConfig::new(s));
    let span = datapunk_log::span!("log_sampling_test");
    assert_eq!(span.is_sampled(), sampled);
    let id = span.context().trace_id;
    {
        let _e = span.enter();
        f();
    }
    (id, span)
}

fn hex(id: u128) -> String {
    format!("{id:032x}")
}

/// `(i, adjusted_count)` of each line.
fn i_and_adjusted(lines: &[Line]) -> Vec<(u64, Option<u64>)> {
    lines
        .iter()
        .map(|l| {
            (
                l.u64("i"),
                l.value.get("adjusted_count").and_then(|v| v.as_u64()),
            )
        })
        .collect()
}

fn by_level(s: &Stats, b: &Stats, level: Level) -> u64 {
    s.sampled_out_by_level[level as usize] - b.sampled_out_by_level[level as usize]
}

#[test]
fn first_n_then_every_mth_per_call_site_with_exact_counts() {
    let _s = serial();
    let setup = setup();
    reset();
    let before = balanced();
    // Period 0: one endless period, so the counts do not depend on time.
    sampler::set_log_policy_below_error(LogPolicy::new(3, 4, 0));
    fn site_a(i: u64) {
        datapunk_log::info!(target: "ls.first_n.a", i, "a");
    }
    fn site_b(i: u64) {
        datapunk_log::warn!(target: "ls.first_n.b", i, "b");
    }
    for i in 1..=20 {
        site_a(i);
        if i <= 5 {
            site_b(i);
        }
    }
    reset();
    let s = balanced();
    let four = Some(4);
    assert_eq!(
        i_and_adjusted(&lines_for(&setup.sink, "ls.first_n.a")),
        [
            (1, None),
            (2, None),
            (3, None),
            (7, four),
            (11, four),
            (15, four),
            (19, four)
        ]
    );
    // Each call site counts on its own.
    assert_eq!(
        i_and_adjusted(&lines_for(&setup.sink, "ls.first_n.b")),
        [(1, None), (2, None), (3, None)]
    );
    assert_eq!(s.sampled_out_callsite - before.sampled_out_callsite, 15);
    assert_eq!(by_level(&s, &before, Level::Info), 13);
    assert_eq!(by_level(&s, &before, Level::Warn), 2);
    assert_eq!(s.produced - before.produced, 25);
    assert_eq!(s.written - before.written, 10);
    let sites = datapunk_log::sampling_stats();
    let a = sites
        .iter()
        .find(|x| x.target == "ls.first_n.a")
        .expect("site a");
    assert_eq!((a.calls, a.kept, a.sampled_out), (20, 7, 13));
    assert_eq!(a.level, Level::Info);
    assert!(a.file.ends_with("log_sampling.rs") && a.line > 0, "{a:?}");
    let b = sites
        .iter()
        .find(|x| x.target == "ls.first_n.b")
        .expect("site b");
    assert_eq!(
        (b.calls, b.kept, b.sampled_out, b.level),
        (5, 3, 2, Level::Warn)
    );
}

#[test]
fn error_and_fatal_are_kept_unless_the_user_samples_them() {
    let _s = serial();
    let setup = setup();
    reset();
    let before = balanced();
    // Below ERROR: keep nothing.
    sampler::set_log_policy_below_error(LogPolicy::new(0, 0, 0));
    for i in 0..10u64 {
        datapunk_log::trace!(target: "ls.errors", i, "trace");
        datapunk_log::info!(target: "ls.errors", i, "info");
        datapunk_log::error!(target: "ls.errors", i, "error");
        datapunk_log::fatal!(target: "ls.errors", i, "fatal");
    }
    let levels: Vec<String> = lines_for(&setup.sink, "ls.errors")
        .iter()
        .map(|l| l.str("level").to_owned())
        .collect();
    assert_eq!(levels.len(), 20);
    assert!(
        levels.iter().all(|l| l == "ERROR" || l == "FATAL"),
        "{levels:?}"
    );
    let s = balanced();
    assert_eq!(by_level(&s, &before, Level::Trace), 10);
    assert_eq!(by_level(&s, &before, Level::Info), 10);
    assert_eq!(by_level(&s, &before, Level::Error), 0);
    // The user says otherwise: ERROR sampled too.
    sampler::set_log_policy(Level::Error, LogPolicy::new(2, 0, 0));
    assert_eq!(sampler::log_policy(Level::Error), LogPolicy::new(2, 0, 0));
    for i in 0..5u64 {
        datapunk_log::error!(target: "ls.errors.sampled", i, "error");
    }
    reset();
    assert_eq!(lines_for(&setup.sink, "ls.errors.sampled").len(), 2);
    let s2 = balanced();
    assert_eq!(by_level(&s2, &s, Level::Error), 3);
}

#[test]
fn adjusted_count_in_json_and_in_exported_records() {
    let _s = serial();
    let setup = setup();
    reset();
    sampler::set_log_policy_below_error(LogPolicy::new(1, 10, 0));
    for i in 1..=21u64 {
        // A user field named like the engine's key is renamed.
        datapunk_log::info!(target: "ls.adjusted", i, adjusted_count = 7u64, "adj");
    }
    reset();
    let lines = lines_for(&setup.sink, "ls.adjusted");
    assert_eq!(
        i_and_adjusted(&lines),
        [(1, None), (11, Some(10)), (21, Some(10))]
    );
    for l in &lines {
        assert_eq!(l.u64("fields.adjusted_count"), 7);
        assert!(!l.has("replayed"));
    }
    // The adjusted counts sum to the calls up to the last kept one.
    let logs: Vec<_> = setup
        .exporter
        .logs()
        .into_iter()
        .filter(|l| l.target == "ls.adjusted")
        .collect();
    let adjusted: Vec<u64> = logs.iter().map(|l| l.adjusted_count).collect();
    assert_eq!(adjusted, [1, 10, 10]);
    assert_eq!(adjusted.iter().sum::<u64>(), 21);
    for l in &logs {
        assert_eq!(l.field("adjusted_count"), Some(&OwnedValue::U64(7)));
        assert!(!l.replayed);
    }
    balanced();
}

#[test]
fn unsampled_traces_drop_or_keep_and_other_records_are_untouched() {
    let _s = serial();
    let setup = setup();
    reset();
    let before = balanced();
    sampler::set_unsampled(Unsampled::Drop);
    assert_eq!(sampler::unsampled(), Unsampled::Drop);
    let (unsampled, _span) = in_trace(false, || {
        for i in 0..5u64 {
            datapunk_log::debug!(target: "ls.drop", i, "dropped");
        }
        datapunk_log::warn!(target: "ls.drop", "dropped too");
        datapunk_log::error!(target: "ls.drop.error", "kept");
    });
    let (sampled, _span2) = in_trace(true, || {
        datapunk_log::debug!(target: "ls.drop.sampled", "kept: sampled trace");
    });
    datapunk_log::debug!(target: "ls.drop.none", "kept: no trace");
    assert!(lines_for(&setup.sink, "ls.drop").is_empty());
    let err = common::single(&setup.sink, "ls.drop.error");
    assert_eq!(err.str("trace_id"), hex(unsampled));
    assert_eq!(
        u8::from_str_radix(err.str("trace_flags"), 16).unwrap() & 1,
        0
    );
    assert_eq!(
        common::single(&setup.sink, "ls.drop.sampled").str("trace_id"),
        hex(sampled)
    );
    assert!(!common::single(&setup.sink, "ls.drop.none").has("trace_id"));
    let s = balanced();
    assert_eq!(s.sampled_out_unsampled - before.sampled_out_unsampled, 6);
    assert_eq!(by_level(&s, &before, Level::Debug), 5);
    assert_eq!(by_level(&s, &before, Level::Warn), 1);

    // Keep: an unsampled trace's records are written.
    sampler::set_unsampled(Unsampled::Keep);
    in_trace(false, || {
        for i in 0..3u64 {
            datapunk_log::debug!(target: "ls.keep", i, "kept");
        }
    });
    reset();
    assert_eq!(lines_for(&setup.sink, "ls.keep").len(), 3);
    let s2 = balanced();
    assert_eq!(s2.sampled_out, s.sampled_out);
}

#[test]
fn the_debug_buffer_replays_a_trace_in_order_when_an_error_comes() {
    let _s = serial();
    let setup = setup();
    reset();
    let before = balanced();
    sampler::set_unsampled(Unsampled::Buffer);
    let (id, span) = in_trace(false, || {
        for seq in 0..3u64 {
            datapunk_log::debug!(target: "ls.buf.ctx", seq, "context");
        }
    });
    // Held, not written.
    assert!(lines_for(&setup.sink, "ls.buf.ctx").is_empty());
    let held = balanced();
    assert_eq!(held.buffered - before.buffered, 3);
    {
        let _e = span.enter();
        datapunk_log::info!(target: "ls.buf.ctx", seq = 3u64, "context");
        datapunk_log::error!(target: "ls.buf.err", "boom");
        // The trace is promoted: the rest of its records are written.
        datapunk_log::debug!(target: "ls.buf.after", "after the error");
    }
    reset();
    datapunk_log::flush();
    let lines: Vec<Line> = lines_of(&setup.sink)
        .into_iter()
        .filter(|l| l.value.get("trace_id").and_then(|v| v.as_str()) == Some(hex(id).as_str()))
        .collect();
    let got: Vec<(String, Option<u64>, bool)> = lines
        .iter()
        .map(|l| {
            (
                l.target().to_owned(),
                l.value.get("seq").and_then(|v| v.as_u64()),
                l.has("replayed"),
            )
        })
        .collect();
    let ctx = |seq| ("ls.buf.ctx".to_owned(), Some(seq), true);
    assert_eq!(
        got,
        [
            ctx(0),
            ctx(1),
            ctx(2),
            ctx(3),
            ("ls.buf.err".to_owned(), None, false),
            ("ls.buf.after".to_owned(), None, false),
        ]
    );
    for l in lines.iter().filter(|l| l.has("replayed")) {
        assert_eq!(l.get("replayed"), &serde_json::Value::Bool(true));
        // The thread that logged it, kept while it was held.
        assert_eq!(l.str("thread"), lines[4].str("thread"));
    }
    // Replayed in timestamp order, before the error.
    let ts: Vec<u64> = lines.iter().map(Line::timestamp_nanos).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{ts:?}");
    let exported: Vec<(String, bool)> = setup
        .exporter
        .logs()
        .into_iter()
        .filter(|l| l.trace.trace_id == id)
        .map(|l| (l.target, l.replayed))
        .collect();
    assert_eq!(
        exported,
        [
            ("ls.buf.ctx".to_owned(), true),
            ("ls.buf.ctx".to_owned(), true),
            ("ls.buf.ctx".to_owned(), true),
            ("ls.buf.ctx".to_owned(), true),
            ("ls.buf.err".to_owned(), false),
            ("ls.buf.after".to_owned(), false),
        ]
    );
    let s = balanced();
    assert_eq!(s.replayed - before.replayed, 4);
    assert_eq!(s.buffered, before.buffered);
    assert_eq!(s.sampled_out, before.sampled_out);
}

#[test]
fn the_debug_buffer_stays_bounded_and_counts_what_leaves_it_as_sampled_out() {
    let _s = serial();
    let setup = setup();
    reset();
    let before = balanced();
    sampler::set_unsampled(Unsampled::Buffer);
    // One trace, more than K records: the K most recent are held.
    let (_, first) = in_trace(false, || {
        for seq in 0..10u64 {
            datapunk_log::debug!(target: "ls.bounded", seq, "held");
        }
    });
    let s = balanced();
    assert_eq!(s.buffered - before.buffered, BUFFER_RECORDS as u64);
    assert_eq!(s.sampled_out_buffer - before.sampled_out_buffer, 10 - 4);
    assert_eq!(by_level(&s, &before, Level::Debug), 6);
    // Many traces, far more bytes than B: the oldest traces go.
    let pad = "x".repeat(200);
    for t in 0..300u64 {
        in_trace(false, || {
            for seq in 0..4u64 {
                datapunk_log::info!(target: "ls.bounded", t, seq, pad, "held");
            }
        });
    }
    let s2 = balanced();
    assert!(s2.buffered_bytes <= BUFFER_BYTES as u64, "{s2:?}");
    assert!(
        s2.buffered_bytes > BUFFER_BYTES as u64 / 2,
        "the buffer is used: {s2:?}"
    );
    assert!(s2.sampled_out_buffer - s.sampled_out_buffer > 0);
    // The first trace was evicted: an error in it replays nothing.
    {
        let _e = first.enter();
        datapunk_log::error!(target: "ls.bounded.err", "late error");
    }
    reset();
    let s3 = balanced();
    assert_eq!(s3.replayed, s2.replayed);
    assert!(lines_for(&setup.sink, "ls.bounded").is_empty());
    assert_eq!(lines_for(&setup.sink, "ls.bounded.err").len(), 1);
}

#[test]
fn accounting_is_exact_across_threads_and_causes() {
    let _s = serial();
    let setup = setup();
    reset();
    let before = balanced();
    // One call site shared by 4 threads.
    sampler::set_log_policy_below_error(LogPolicy::new(2, 3, 0));
    fn shared_site(t: u64, i: u64) {
        datapunk_log::info!(target: "ls.threads.site", t, i, "site");
    }
    common::run_named_threads("ls-site", 4, |t| {
        for i in 0..100 {
            shared_site(t, i);
        }
    });
    reset();
    // Unsampled traces (contexts set directly), buffered; an error releases
    // every other trace.
    fn unsampled(hi: u64, lo: u64) -> TraceContext {
        TraceContext {
            trace_id: u128::from(hi) << 64 | u128::from(lo),
            span_id: 1,
            parent_span_id: 0,
            trace_flags: 2,
        }
    }
    sampler::set_unsampled(Unsampled::Buffer);
    common::run_named_threads("ls-buf", 4, |t| {
        for k in 0..10u64 {
            let prev = datapunk_log::set_context(unsampled(t + 1, k + 1));
            datapunk_log::debug!(target: "ls.threads.trace", t, k, "in trace");
            datapunk_log::warn!(target: "ls.threads.trace", t, k, "in trace");
            if k % 2 == 0 {
                datapunk_log::error!(target: "ls.threads.error", t, k, "error");
            }
            datapunk_log::set_context(prev);
        }
    });
    sampler::set_unsampled(Unsampled::Drop);
    common::run_named_threads("ls-drop", 2, |t| {
        let prev = datapunk_log::set_context(unsampled(99, t + 1));
        for i in 0..50u64 {
            datapunk_log::info!(target: "ls.threads.dropped", t, i, "dropped");
        }
        datapunk_log::set_context(prev);
    });
    sampler::set_unsampled(Unsampled::Buffer);
    common::run_named_threads("ls-more", 2, |t| {
        let prev = datapunk_log::set_context(unsampled(98, t + 1));
        for i in 0..6u64 {
            datapunk_log::debug!(target: "ls.threads.buffered", t, i, "buffered");
        }
        if t == 0 {
            datapunk_log::error!(target: "ls.threads.error", t, "release");
        }
        datapunk_log::set_context(prev);
    });
    reset();
    let s = balanced();
    // 400 calls, every one counted once. A thread takes the indices after
    // the first 2 in blocks of 3 and keeps the block's third call, so a
    // thread's last block, if it ended early, kept nothing: 2 + 132 = 134
    // kept as one thread's calls would be, or up to one fewer per thread.
    let site = datapunk_log::sampling_stats()
        .into_iter()
        .find(|x| x.target == "ls.threads.site")
        .expect("the shared site");
    assert_eq!(site.calls, 400);
    assert_eq!(site.kept + site.sampled_out, 400);
    assert!((130..=134).contains(&site.kept), "{site:?}");
    let lines = lines_for(&setup.sink, "ls.threads.site");
    assert_eq!(lines.len() as u64, site.kept);
    let adjusted: Vec<u64> = lines
        .iter()
        .map(|l| {
            l.value
                .get("adjusted_count")
                .and_then(|v| v.as_u64())
                .unwrap_or(1)
        })
        .collect();
    // The first two stand for themselves, every other one for 3.
    assert_eq!(adjusted.iter().filter(|&&a| a == 1).count(), 2);
    assert!(adjusted.iter().all(|&a| a == 1 || a == 3));
    let expected_out = site.sampled_out;
    assert_eq!(
        s.sampled_out_callsite - before.sampled_out_callsite,
        expected_out
    );
    assert_eq!(s.sampled_out_unsampled - before.sampled_out_unsampled, 100);
    // Released: 4 threads x 5 traces x 2 records, and thread 0's last trace
    // (its K = 4 most recent of 6).
    assert_eq!(s.replayed - before.replayed, 40 + 4);
    assert_eq!(lines_for(&setup.sink, "ls.threads.trace").len(), 40);
    let more = lines_for(&setup.sink, "ls.threads.buffered");
    let seqs: Vec<u64> = more.iter().map(|l| l.u64("i")).collect();
    assert_eq!(seqs, [2, 3, 4, 5]);
    assert!(more.iter().all(|l| l.has("replayed") && l.u64("t") == 0));
    assert_eq!(
        s.produced - before.produced,
        400 + (4 * 10 * 2 + 4 * 5) + 100 + (2 * 6 + 1)
    );
}

#[test]
fn the_writer_sums_up_what_was_sampled_out() {
    let _s = serial();
    let setup = setup();
    reset();
    sampler::set_log_policy_below_error(LogPolicy::new(0, 0, 0));
    for i in 0..7u64 {
        datapunk_log::debug!(target: "ls.summary", i, "sampled out");
    }
    reset();
    let s = balanced();
    let summaries: Vec<Line> = lines_for(&setup.sink, "datapunk_log")
        .into_iter()
        .filter(|l| l.message() == "records sampled out")
        .collect();
    let last = summaries.last().expect("a summary record");
    assert_eq!(last.str("level"), "INFO");
    assert_eq!(last.u64("sampled_out_total"), s.sampled_out);
    assert!(last.u64("sampled_out") >= 7);
    assert!(last.u64("sampled_out.debug") >= 7);
    assert!(last.u64("by_callsite") >= 7);
    // Nothing new: no new summary.
    datapunk_log::info!(target: "ls.summary.kept", "kept");
    datapunk_log::flush();
    let n = lines_for(&setup.sink, "datapunk_log")
        .iter()
        .filter(|l| l.message() == "records sampled out")
        .count();
    assert_eq!(n, summaries.len());
}

/// One call site, registered under the defaults, follows every later
/// change of the stages: each call site keeps its level's stages in its
/// interest byte, and a change brings every registered call site up to it.
#[test]
fn a_registered_call_site_follows_every_change_of_the_stages() {
    let _s = serial();
    let setup = setup();
    reset();
    fn site(i: u64) {
        datapunk_log::info!(target: "ls.plan", i, "plan");
    }
    fn logged(setup: &SharedEngine) -> Vec<u64> {
        datapunk_log::flush();
        lines_for(&setup.sink, "ls.plan")
            .iter()
            .map(|l| l.u64("i"))
            .collect()
    }
    site(0); // registered, captured as it is
    sampler::set_log_policy(Level::Info, LogPolicy::new(0, 0, 0));
    site(1); // sampled out by its call site
    sampler::set_log_policy(Level::Debug, LogPolicy::KEEP_ALL);
    site(2); // INFO's policy still applies
    sampler::set_log_policy(Level::Info, LogPolicy::KEEP_ALL);
    site(3); // captured again
    sampler::set_unsampled(Unsampled::Drop);
    let (_, _span) = in_trace(false, || site(4)); // dropped: unsampled trace
    site(5); // no trace: captured
    sampler::set_unsampled(Unsampled::Buffer);
    let (_, _span) = in_trace(false, || site(6)); // held, never replayed
    sampler::set_unsampled(Unsampled::Keep);
    let (_, _span) = in_trace(false, || site(7)); // kept
    assert_eq!(logged(setup), vec![0, 3, 5, 7]);
    reset();
    balanced();
}
