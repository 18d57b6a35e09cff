//! The cost of a logging call on the calling thread.
//!
//! One engine per process, and the clock source is fixed at `init()`, while
//! criterion runs every benchmark of a file in one process. So this file runs
//! its benchmarks twice: in this process with `ClockSource::Precise`
//! (group `hot_path`), then in a child — this same executable re-run with
//! `DATAPUNK_BENCH_CLOCK=coarse` and the same arguments — with
//! `ClockSource::Coarse` (group `hot_path_coarse`). The perf harness
//! (`cargo run --release -p perf`) compares the two clocks with rdtsc
//! percentiles as well.
//!
//! Setup: null sink, a 64 MiB ring, `Overflow::Drop`, filter `info`. Enabled
//! calls are timed in chunks of 50 000 (3 MB of ring) with `flush()` between
//! chunks, off the clock: the writer keeps draining on the other core while
//! the calls are timed, but a call never meets a full ring, so no call takes
//! the drop path (the drop count is printed at the end and should be 0).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use datapunk_log::sampler::{self, LogPolicy, Unsampled};
use datapunk_log::{ClockSource, Overflow, TraceContext};

#[path = "support/chunked.rs"]
mod support;

use support::chunked;

const CLOCK_ENV: &str = "DATAPUNK_BENCH_CLOCK";
const ROUTE: &str = "/api/v1/items";
const RING: usize = 64 << 20;

/// Pushes more than the ring's capacity through it once, so its pages are
/// faulted in before anything is timed.
fn prefault_ring() {
    let per_record = 24 + 9 + 9 + 5 + ROUTE.len() as u64;
    chunked((RING as u64 * 5 / 4).div_ceil(per_record), |i| {
        let (user_id, latency, route) = (i, 0.5f64, ROUTE);
        datapunk_log::info!(user_id, latency, route, "request handled");
    });
}

fn benches(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.bench_function("enabled_3_fields", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |i| {
                let user_id = black_box(i);
                let latency = black_box((i & 1023) as f64 * 0.25 + 0.5);
                let route = black_box(ROUTE);
                datapunk_log::info!(user_id, latency, route, "request handled");
            })
        })
    });
    g.bench_function("enabled_message_only", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                datapunk_log::info!("request handled");
            })
        })
    });
    g.bench_function("enabled_fmt_str_u64", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |i| {
                let user_id = black_box(i);
                let route = black_box(ROUTE);
                datapunk_log::info!("request {} handled for user {}", route, user_id);
            })
        })
    });
    // The same plus an f64 with a precision: core::fmt's float formatting
    // dominates this one.
    g.bench_function("enabled_fmt_args", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |i| {
                let user_id = black_box(i);
                let latency = black_box((i & 1023) as f64 * 0.25 + 0.5);
                let route = black_box(ROUTE);
                datapunk_log::info!(user_id, "request {} handled in {:.3} ms", route, latency);
            })
        })
    });
    // Filtered out at run time (INFO filter): one load of the call site's
    // cached interest; the field expressions are never evaluated.
    g.bench_function("disabled_debug", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = i.wrapping_add(1);
            let user_id = i;
            let latency = 0.5f64;
            let route = ROUTE;
            datapunk_log::debug!(user_id, latency, route, "request handled");
        })
    });
}

/// The same record through the `log` crate's bridge: `log::info!` with the
/// three values as key-values and a static message (the interned call site
/// found in the thread's cache, the key-values visited twice: for the call
/// site's identity, then for the values).
fn bridge_benches(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.bench_function("log_crate_3_kv", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |i| {
                let user_id = black_box(i);
                let latency = black_box((i & 1023) as f64 * 0.25 + 0.5);
                let route = black_box(ROUTE);
                log::info!(user_id = user_id, latency = latency, route = route; "request handled");
            })
        })
    });
}

/// Log sampling: the same three-field call as `enabled_3_fields` (which is
/// the call kept under the default policies), sampled out by its call site,
/// dropped because its trace is not sampled, and kept under a policy that
/// counts it.
fn sampling_benches(g: &mut BenchmarkGroup<'_, WallTime>) {
    // The call site's sampler keeps nothing in the period: the level's bit
    // in the mode word, the coarse clock, and the thread's slot for the
    // call site (a compare and a store); nothing reaches the ring.
    g.bench_function("log_sampled_out_by_callsite", |b| {
        sampler::set_log_policy_below_error(LogPolicy::per_period(0, 0, Duration::from_secs(1)));
        let mut i = 0u64;
        b.iter(|| {
            i = i.wrapping_add(1);
            let user_id = black_box(i);
            let latency = black_box(0.5f64);
            let route = black_box(ROUTE);
            datapunk_log::info!(user_id, latency, route, "request handled");
        });
        sampler::set_log_policy_below_error(LogPolicy::KEEP_ALL);
    });
    // Inside a trace that was not sampled, under `Unsampled::Drop`: the
    // thread's context is checked and a per-thread counter bumped.
    g.bench_function("log_dropped_unsampled_trace", |b| {
        sampler::set_unsampled(Unsampled::Drop);
        let prev = datapunk_log::set_context(TraceContext {
            trace_id: 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
            span_id: 0x00f0_67aa_0ba9_02b7,
            parent_span_id: 0,
            trace_flags: 2,
        });
        let mut i = 0u64;
        b.iter(|| {
            i = i.wrapping_add(1);
            let user_id = black_box(i);
            let latency = black_box(0.5f64);
            let route = black_box(ROUTE);
            datapunk_log::info!(user_id, latency, route, "request handled");
        });
        datapunk_log::set_context(prev);
        sampler::set_unsampled(Unsampled::Keep);
    });
    // A policy that samples but keeps this call (the first N of a period
    // that never ends): the sampler's work plus the capture.
    g.bench_function("log_kept_by_callsite_sampler", |b| {
        sampler::set_log_policy_below_error(LogPolicy::new(u64::MAX - 1, 0, 0));
        b.iter_custom(|iters| {
            chunked(iters, |i| {
                let user_id = black_box(i);
                let latency = black_box((i & 1023) as f64 * 0.25 + 0.5);
                let route = black_box(ROUTE);
                datapunk_log::info!(user_id, latency, route, "request handled");
            })
        });
        sampler::set_log_policy_below_error(LogPolicy::KEEP_ALL);
    });
}

fn main() {
    let coarse = std::env::var(CLOCK_ENV).is_ok_and(|v| v == "coarse");
    let (clock, group) = if coarse {
        (ClockSource::Coarse, "hot_path_coarse")
    } else {
        (ClockSource::Precise, "hot_path")
    };
    let guard = datapunk_log::builder()
        .null()
        .ring_capacity(RING)
        .overflow(Overflow::Drop)
        .clock(clock)
        .filter("info")
        .ignore_env()
        .init()
        .expect("the bench process installs the only engine");
    prefault_ring();
    let base = datapunk_log::stats();

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .configure_from_args();
    {
        let mut g = c.benchmark_group(group);
        benches(&mut g);
        bridge_benches(&mut g);
        sampling_benches(&mut g);
        g.finish();
    }
    c.final_summary();

    datapunk_log::flush();
    let s = datapunk_log::stats();
    eprintln!(
        "{group}: {} records produced, {} written, {} dropped (ring full), {} sampled out \
         while benchmarking",
        s.produced - base.produced,
        s.written - base.written,
        s.dropped - base.dropped,
        s.sampled_out - base.sampled_out,
    );
    drop(guard);

    if !coarse {
        // The coarse-clock run, in a process of its own.
        let status = std::process::Command::new(
            std::env::current_exe().expect("the bench executable's path"),
        )
        .args(std::env::args_os().skip(1))
        .env(CLOCK_ENV, "coarse")
        .status()
        .expect("start the coarse-clock bench process");
        if !status.success() {
            eprintln!("the coarse-clock run failed: {status}");
            std::process::exit(1);
        }
    }
}
