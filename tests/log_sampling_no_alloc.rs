//! Log sampling allocates nothing after warm-up, anywhere in the process:
//! calls sampled out by their call site or dropped because their trace is
//! unsampled, records held in the debug buffer, evicted from it and
//! replayed on an error, and the writer's summary records.

#[path = "common/process_alloc.rs"]
mod process_alloc;

use std::time::Duration;

use datapunk_log::TraceContext;
use datapunk_log::sampler::{self, LogPolicy, Unsampled};
use process_alloc::{Discard, allocations};

fn unsampled(trace_id: u128) -> TraceContext {
    TraceContext {
        trace_id,
        span_id: 1,
        parent_span_id: 0,
        trace_flags: 2,
    }
}

/// One round: `n` calls of each kind; traces `base..base + 50`.
fn round(base: u128, n: u64) {
    for i in 0..n {
        // Sampled by its call site (first 2, then every 5th).
        datapunk_log::info!(target: "na.site", i, "site");
        let prev = datapunk_log::set_context(unsampled(base + u128::from(i % 50)));
        // Buffered (held, evicted past K = 8 per trace) ...
        datapunk_log::debug!(target: "na.buffered", i, route = "/api/v1/items", "held");
        // ... and replayed when an error comes (every 40th call).
        if i % 40 == 39 {
            datapunk_log::error!(target: "na.error", i, "boom");
        }
        datapunk_log::set_context(prev);
    }
}

/// Calls of unsampled traces under `Unsampled::Drop`.
fn dropped(n: u64) {
    let prev = datapunk_log::set_context(unsampled(7));
    for i in 0..n {
        datapunk_log::info!(target: "na.dropped", i, "dropped");
    }
    datapunk_log::set_context(prev);
}

#[test]
fn log_sampling_allocates_nothing_after_warm_up() {
    // The counter works.
    let a = allocations();
    drop(std::hint::black_box(Box::new(1u64)));
    assert!(allocations() > a);
    let _guard = datapunk_log::builder()
        .sink(Box::new(Discard))
        .ignore_env()
        .filter("debug")
        .ring_capacity(1 << 20)
        .log_sampling(LogPolicy::new(2, 5, 0))
        .log_sampling_level(datapunk_log::Level::Debug, LogPolicy::KEEP_ALL)
        .unsampled_logs(Unsampled::Buffer)
        .debug_buffer(8, 64 << 10)
        .sampling_summary_interval(Duration::ZERO)
        .init()
        .expect("init");
    // Warm-up: rings, call sites, the writer's buffers at their high-water
    // marks (the debug buffer is allocated at init under `Buffer`).
    for r in 0..3u128 {
        round(1000 * (r + 1), 2_000);
        datapunk_log::flush();
    }
    sampler::set_unsampled(Unsampled::Drop);
    dropped(1_000);
    datapunk_log::flush();
    sampler::set_unsampled(Unsampled::Buffer);

    let before = datapunk_log::stats();
    let allocations_before = allocations();
    for r in 0..5u128 {
        round(1000 * (r + 10), 2_000);
        datapunk_log::flush();
    }
    sampler::set_unsampled(Unsampled::Drop);
    dropped(2_000);
    datapunk_log::flush();
    sampler::set_unsampled(Unsampled::Buffer);
    let allocations = allocations() - allocations_before;
    let s = datapunk_log::stats();
    // Every path ran while counting.
    assert!(
        s.sampled_out_callsite > before.sampled_out_callsite,
        "{s:?}"
    );
    assert_eq!(
        s.sampled_out_unsampled - before.sampled_out_unsampled,
        2_000
    );
    assert!(s.sampled_out_buffer > before.sampled_out_buffer, "{s:?}");
    assert!(s.replayed > before.replayed, "{s:?}");
    assert!(s.notices > before.notices, "summaries were written: {s:?}");
    assert_eq!(
        s.produced,
        s.written + s.span_records + s.dropped + s.sampled_out + s.buffered,
        "{s:?}"
    );
    assert_eq!(allocations, 0, "allocations while sampling");
}
