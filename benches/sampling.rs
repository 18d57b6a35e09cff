//! The cost of sampling decisions on the calling thread, beside the
//! OpenTelemetry SDK's `ParentBased(TraceIdRatioBased)`.
//!
//! No exporter is installed, so a span writes no record whatever the
//! decision: what is timed is the span's ids, the decision and the span's
//! drop (a sampled span's records are timed in the `spans` bench).
//!
//! - `unsampled_root_start_end`: `parent_based(always_off)`, a root span.
//! - `unsampled_root_enter_start_end`: the same root entered and left
//!   between its start and end (its ids, drawn late, are computed at the
//!   enter).
//! - `unsampled_child_start_end`: a child inside an entered unsampled root
//!   (the local-parent shortcut).
//! - `root_always_on`: `parent_based(always_on)`, every root kept (the
//!   ids computed, no decision beyond the configuration's word): what the
//!   decisions below add to.
//! - `root_probability_rules_rate_limit`: rules (an `error` attribute rule,
//!   a name-prefix rule), then `probability(0.5)` limited per `tenant`
//!   (10^9/s, never binding), a `tenant` attribute on the span: the half
//!   the probability rejects is settled by the call site's word, the other
//!   half goes through the limiter.
//! - `root_rules_p01_rate_limit`: the same with `probability(0.1)`, the
//!   probability of a service that samples (a tenth reach the limiter).
//! - `root_rate_limited`: `AlwaysOn` limited per `tenant` (never binding):
//!   every root hashes its key and takes from the limiter (a request its
//!   thread leased from the key's cell, see `KeyedLimiter::admit_leased`).
//! - `root_rate_limited_two_threads`: the same on two threads at once, one
//!   hot key (each thread's mean per root).
//! - `root_rules_by_name`: the same two rules, then `probability(0.1)` for
//!   the span's name, a `tenant` attribute on the span: the call site's
//!   first root finds that its name alone selects the rule, and its word
//!   decides the rest with one threshold compare.
//! - `root_rules_attribute`: a `priority = "high"` rule, then
//!   `probability(0.1)`; the span's `priority` is `"low"`: each root reads
//!   that value (by its position at the call site) before the probability.
//! - `root_probability`: `parent_based(probability(0.1))`.
//! - `log_outside_trace` / `log_inside_unsampled_span`: the same 3-field
//!   record outside any trace and inside an entered unsampled span.
//! - `otel_sdk_parentbased_ratio_start_end`: `opentelemetry_sdk` tracer
//!   with `ParentBased(TraceIdRatioBased(0.1))`, batch processor with an
//!   exporter that discards, `start` + `end`.
//! - `otel_sdk_with_datapunk_sampler_start_end`: the same tracer with this
//!   crate's `OtelSampler` (`parent_based(probability(0.1))`).
//!
//! Setup as `hot_path`: null sink, 64 MiB ring, `Overflow::Drop`, calls
//! timed in chunks with `flush()` between them, off the clock.

use std::hint::black_box;

use criterion::Criterion;
use datapunk_log::Overflow;
use datapunk_log::sampler::{self, OtelSampler, Rule, Sampler, SamplingConfig};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};

#[path = "support/chunked.rs"]
mod support;

use support::chunked;

#[path = "support/noop_spans.rs"]
mod noop_spans;

use noop_spans::NoopSpanExporter;

fn main() {
    let _guard = datapunk_log::builder()
        .null()
        .ignore_env()
        .overflow(Overflow::Drop)
        .ring_capacity(64 << 20)
        .panic_hook(false)
        .init()
        .expect("init");
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("sampling");

    sampler::update(SamplingConfig::new(Sampler::parent_based(
        Sampler::AlwaysOff,
    )));
    g.bench_function("unsampled_root_start_end", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                let s = datapunk_log::span!("checkout");
                black_box(&s);
            })
        })
    });
    g.bench_function("unsampled_root_enter_start_end", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                let s = datapunk_log::span!("checkout");
                let e = s.enter();
                black_box(&e);
                drop(e);
                black_box(&s);
            })
        })
    });
    let root = datapunk_log::span!("request");
    g.bench_function("unsampled_child_start_end", |b| {
        let _e = root.enter();
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                let s = datapunk_log::span!("checkout");
                black_box(&s);
            })
        })
    });
    g.bench_function("log_outside_trace", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |i| {
                let (user_id, latency, route) = (black_box(i), black_box(0.5f64), black_box("/a"));
                datapunk_log::info!(user_id, latency, route, "request handled");
            })
        })
    });
    g.bench_function("log_inside_unsampled_span", |b| {
        let _e = root.enter();
        b.iter_custom(|iters| {
            chunked(iters, |i| {
                let (user_id, latency, route) = (black_box(i), black_box(0.5f64), black_box("/a"));
                datapunk_log::info!(user_id, latency, route, "request handled");
            })
        })
    });
    drop(root);

    // Roots with a `tenant` attribute (one call site; each update gives it
    // a new configuration).
    let tenant_roots = [
        ("root_always_on", Sampler::AlwaysOn),
        (
            "root_probability_rules_rate_limit",
            Sampler::rules(vec![
                Rule::new(Sampler::AlwaysOn).attribute_eq("error", "true"),
                Rule::new(Sampler::probability(0.01)).name("health*"),
                Rule::new(Sampler::probability(0.5).rate_limited(1e9, 1_000_000, ["tenant"])),
            ]),
        ),
        (
            "root_rules_p01_rate_limit",
            Sampler::rules(vec![
                Rule::new(Sampler::AlwaysOn).attribute_eq("error", "true"),
                Rule::new(Sampler::probability(0.01)).name("health*"),
                Rule::new(Sampler::probability(0.1).rate_limited(1e9, 1_000_000, ["tenant"])),
            ]),
        ),
        (
            "root_rate_limited",
            Sampler::AlwaysOn.rate_limited(1e9, 1_000_000, ["tenant"]),
        ),
        (
            "root_rules_by_name",
            Sampler::rules(vec![
                Rule::new(Sampler::AlwaysOn).attribute_eq("error", "true"),
                Rule::new(Sampler::probability(0.01)).name("health*"),
                Rule::new(Sampler::probability(0.1)).name("checkout"),
            ]),
        ),
    ];
    for (name, root) in tenant_roots {
        sampler::update(SamplingConfig::new(Sampler::parent_based(root)));
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                chunked(iters, |_| {
                    let s = datapunk_log::span!("checkout", tenant = "acme");
                    black_box(&s);
                })
            })
        });
    }
    // Two threads on one hot key of that limit: each times its own calls
    // (iters each); the figure is the mean per root per thread.
    sampler::update(SamplingConfig::new(Sampler::parent_based(
        Sampler::AlwaysOn.rate_limited(1e9, 1_000_000, ["tenant"]),
    )));
    g.bench_function("root_rate_limited_two_threads", |b| {
        b.iter_custom(|iters| {
            let run = || {
                chunked(iters, |_| {
                    let s = datapunk_log::span!("checkout", tenant = "acme");
                    black_box(&s);
                })
            };
            let (a, b) = std::thread::scope(|s| {
                let a = s.spawn(run);
                let b = s.spawn(run);
                (a.join().expect("thread"), b.join().expect("thread"))
            });
            (a + b) / 2
        })
    });
    sampler::update(SamplingConfig::new(Sampler::parent_based(Sampler::rules(
        vec![
            Rule::new(Sampler::AlwaysOn).attribute_eq("priority", "high"),
            Rule::new(Sampler::probability(0.1)),
        ],
    ))));
    g.bench_function("root_rules_attribute", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                let s = datapunk_log::span!("checkout", priority = "low", tenant = "acme");
                black_box(&s);
            })
        })
    });
    sampler::update(SamplingConfig::new(Sampler::parent_based(
        Sampler::probability(0.1),
    )));
    g.bench_function("root_probability", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                let s = datapunk_log::span!("checkout");
                black_box(&s);
            })
        })
    });

    let sdk = |sampler: Box<dyn opentelemetry_sdk::trace::ShouldSample>| {
        opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_batch_exporter(NoopSpanExporter)
            .build()
    };
    let provider = sdk(Box::new(opentelemetry_sdk::trace::Sampler::ParentBased(
        Box::new(opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(0.1)),
    )));
    let tracer = provider.tracer("bench");
    g.bench_function("otel_sdk_parentbased_ratio_start_end", |b| {
        b.iter(|| {
            let mut s = tracer.start("checkout");
            s.end();
        })
    });
    let _ = provider.shutdown();
    let provider = sdk(Box::new(OtelSampler::new(SamplingConfig::new(
        Sampler::parent_based(Sampler::probability(0.1)),
    ))));
    let tracer = provider.tracer("bench");
    g.bench_function("otel_sdk_with_datapunk_sampler_start_end", |b| {
        b.iter(|| {
            let mut s = tracer.start("checkout");
            s.end();
        })
    });
    let _ = provider.shutdown();
    g.finish();
    c.final_summary();
}
