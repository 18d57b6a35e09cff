//! Adaptive sampling inside the engine: root spans started through
//! `span!` are decided by `Sampler::adaptive`, whose probability moves each
//! interval toward the target. Time is driven by the test
//! (`sampler::tick_at`), never slept: each simulated 10 s interval offers
//! 100 000 root spans of one operation (10 000/s) with a target of 100 kept
//! per second, starting from p = 0.001 (10/s).
//!
//! The bound is the unit tests' (`sampler::adaptive`, `CONVERGED_FROM_LOW`):
//! increases at most double, and the band's lower edge (70/s) is ×7 above
//! the start, so ⌈log2 7⌉ = 3 updates reach it; with one interval of slack
//! every interval from the fifth (index 4) on is in the ±30 % band. The
//! writer ticks the sampler too, with the real clock; the simulated clock
//! runs far ahead of it, so the writer's ticks are never due (its first
//! one, if it comes first, starts the interval: the first update then sees
//! an interval of ~10^3 s and a rate near 0, and doubles, as the honest
//! 10/s would).

use datapunk_log::sampler::{self, AdaptiveConfig, Sampler, SamplingConfig};

const SEC: u64 = 1_000_000_000;
const INTERVAL: u64 = 10 * SEC;
const PER_INTERVAL: u64 = 100_000;
const INTERVALS: usize = 10;
const CONVERGED_FROM: usize = 4;

#[test]
fn adaptive_probability_converges_on_the_target_inside_the_engine() {
    let _guard = datapunk_log::builder()
        .null()
        .ignore_env()
        .panic_hook(false)
        .sampling(SamplingConfig::new(Sampler::adaptive(AdaptiveConfig {
            target_per_sec: 100.0,
            initial_probability: 0.001,
            interval_ns: INTERVAL,
            ..AdaptiveConfig::default()
        })))
        .init()
        .expect("init");
    // Far ahead of the real monotonic clock (nanoseconds since the engine's
    // start), so the writer's own ticks are never due.
    let t0 = 1_000 * SEC;
    sampler::tick_at(t0);
    let mut kept = Vec::with_capacity(INTERVALS);
    for i in 0..INTERVALS {
        let mut k = 0u64;
        for _ in 0..PER_INTERVAL {
            let s = datapunk_log::span!("checkout");
            k += u64::from(s.is_sampled());
        }
        kept.push(k);
        sampler::tick_at(t0 + (i as u64 + 1) * INTERVAL);
    }
    let secs = (INTERVAL / SEC) as f64;
    let rate = |k: u64| k as f64 / secs;
    // Interval 0 runs at the initial probability: ~10/s, outside the band.
    assert!(rate(kept[0]) < 30.0, "{kept:?}");
    for (i, &k) in kept.iter().enumerate().skip(CONVERGED_FROM) {
        assert!(
            (70.0..=130.0).contains(&rate(k)),
            "interval {i} kept {}/s: {kept:?}",
            rate(k)
        );
    }
    // Another operation has its own probability: it starts low again.
    let mut other = 0u64;
    for _ in 0..PER_INTERVAL {
        other += u64::from(datapunk_log::span!("refund").is_sampled());
    }
    assert!(rate(other) < 30.0, "refund kept {other}");
}
