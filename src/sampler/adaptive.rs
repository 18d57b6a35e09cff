//! Adaptive sampling probabilities, locally: Jaeger's adaptive sampling
//! without a collector.
//!
//! Each operation (span name) hashes to a slot of a fixed table. A slot holds
//! the operation's current probability, published for the hot path as the
//! rejection threshold T = (1 − p)·2^56 of OpenTelemetry's consistent
//! probability sampling (a trace whose 56-bit randomness R is ≥ T is kept),
//! and two counters: traces seen and kept in the current interval.
//!
//! Once per interval [`Adaptive::maybe_update`] moves each slot's
//! probability toward a target of kept traces per second with the rules of
//! Jaeger's `adaptive` strategy ([`next_probability`]):
//!
//! * inside the tolerance band (|observed − target| / target ≤ tolerance):
//!   unchanged;
//! * nothing kept in the interval: doubled;
//! * otherwise p · target / observed, where a decrease applies at once and
//!   an increase is capped at doubling per interval ([`MAX_INCREASE_FACTOR`];
//!   Jaeger's default cap is +50 %);
//! * never below the minimum probability, nor so low that an operation seen
//!   in the interval keeps fewer than the minimum samples per second
//!   (Jaeger enforces that bound with a per-operation lower-bound rate
//!   limiter in the client; here it is a floor on p);
//! * never above 1.
//!
//! "Observed" is kept traces per second of the interval. Since kept ≈ seen·p,
//! under constant traffic λ the probability converges to p* = target / λ.
//!
//! Time is passed in as monotonic nanoseconds; nothing here reads a clock.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::atomic::{
    AtomicBool, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};

/// The threshold that rejects every trace (p = 0): 2^56.
pub const THRESHOLD_NEVER: u64 = 1 << 56;

/// The threshold that keeps every trace (p = 1).
pub const THRESHOLD_ALWAYS: u64 = 0;

/// The bits of a trace's randomness R: the low 56.
pub const RANDOMNESS_MASK: u64 = THRESHOLD_NEVER - 1;

/// 2^56 as a float.
const TWO_POW_56: f64 = THRESHOLD_NEVER as f64;

/// The most an update multiplies a probability by: increases are capped at
/// doubling per interval (a decrease is never capped).
pub const MAX_INCREASE_FACTOR: f64 = 2.0;

/// The smallest minimum probability accepted: 2^-56, one threshold step.
/// Keeps every probability positive, so doubling can always raise it.
pub const MIN_PROBABILITY_FLOOR: f64 = 1.0 / TWO_POW_56;

/// The shortest calculation interval accepted: 1 ms.
pub const MIN_INTERVAL_NS: u64 = 1_000_000;

/// `next_update_ns` before the first [`Adaptive::maybe_update`].
const NOT_STARTED: u64 = 0;

/// The multiplier of Fibonacci hashing (2^64 / φ).
const FIB: u64 = 0x9E37_79B9_7F4A_7C15;

/// The threshold T = (1 − p)·2^56 of probability `p`, rounded to the nearest
/// step: 0 (keep all) for p ≥ 1, [`THRESHOLD_NEVER`] for p ≤ 0 or NaN.
pub fn threshold_for_probability(p: f64) -> u64 {
    if p.is_nan() || p <= 0.0 {
        return THRESHOLD_NEVER;
    }
    if p >= 1.0 {
        return THRESHOLD_ALWAYS;
    }
    let keep = ((p * TWO_POW_56).round() as u64).min(THRESHOLD_NEVER);
    THRESHOLD_NEVER - keep
}

/// The probability (2^56 − T) / 2^56 of threshold `t` (0 for t ≥ 2^56).
pub fn probability_for_threshold(t: u64) -> f64 {
    (THRESHOLD_NEVER - t.min(THRESHOLD_NEVER)) as f64 / TWO_POW_56
}

/// Settings of adaptive sampling. The defaults are Jaeger's, except the
/// calculation interval (1 s here, 1 min in Jaeger).
///
/// Every value is used as [`AdaptiveConfig::sanitized`] returns it, so no
/// value makes anything panic.
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveConfig {
    /// Kept traces per second wanted per operation (default 1). NaN: the
    /// default; negative: 0, which drives every probability to its floor;
    /// +∞: probabilities double up to 1.
    pub target_per_sec: f64,
    /// Relative band around the target inside which a probability is left
    /// alone (default 0.3). NaN or negative: 0.
    pub tolerance: f64,
    /// The lowest probability (default 1e-5). NaN: the default; kept in
    /// [[`MIN_PROBABILITY_FLOOR`], 1].
    pub min_probability: f64,
    /// Samples per second every operation seen in an interval keeps at
    /// least (default 1/60): p ≥ min_per_sec / (seen per second). NaN or
    /// negative: 0 (no floor).
    pub min_per_sec: f64,
    /// The probability every slot starts at (default 0.001, Jaeger's: a new
    /// operation starts low and doubles its way up rather than flooding the
    /// pipeline in its first interval). NaN: the default; kept in
    /// [`min_probability`, 1].
    ///
    /// [`min_probability`]: AdaptiveConfig::min_probability
    pub initial_probability: f64,
    /// The calculation interval in ns (default 1 s). At least
    /// [`MIN_INTERVAL_NS`].
    pub interval_ns: u64,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        AdaptiveConfig {
            target_per_sec: 1.0,
            tolerance: 0.3,
            min_probability: 1e-5,
            min_per_sec: 1.0 / 60.0,
            initial_probability: 0.001,
            interval_ns: 1_000_000_000,
        }
    }
}

impl AdaptiveConfig {
    /// The configuration as used: NaN, negative and out-of-range values
    /// replaced as each field documents.
    pub fn sanitized(&self) -> AdaptiveConfig {
        let d = AdaptiveConfig::default();
        let non_negative = |v: f64| if v.is_nan() || v < 0.0 { 0.0 } else { v };
        let target_per_sec = if self.target_per_sec.is_nan() {
            d.target_per_sec
        } else {
            non_negative(self.target_per_sec)
        };
        let min_probability = if self.min_probability.is_nan() {
            d.min_probability
        } else {
            self.min_probability.clamp(MIN_PROBABILITY_FLOOR, 1.0)
        };
        let initial_probability = if self.initial_probability.is_nan() {
            d.initial_probability
        } else {
            self.initial_probability
        }
        .clamp(min_probability, 1.0);
        AdaptiveConfig {
            target_per_sec,
            tolerance: non_negative(self.tolerance),
            min_probability,
            min_per_sec: non_negative(self.min_per_sec),
            initial_probability,
            interval_ns: self.interval_ns.max(MIN_INTERVAL_NS),
        }
    }
}

/// The probability that follows `old_p` after an interval of
/// `interval_secs` seconds in which `seen` traces were seen and `kept` of
/// them kept (see the module documentation for the rules).
///
/// The configuration is sanitized first. `old_p` NaN counts as the initial
/// probability; other values are clamped to [min_probability, 1]. An
/// `interval_secs` that is not a positive finite number measures nothing and
/// returns `old_p` (clamped). The result is always in [min_probability, 1].
pub fn next_probability(
    cfg: &AdaptiveConfig,
    old_p: f64,
    seen: u64,
    kept: u64,
    interval_secs: f64,
) -> f64 {
    next_sane(&cfg.sanitized(), old_p, seen, kept, interval_secs)
}

/// [`next_probability`] with a sanitized `cfg`.
fn next_sane(cfg: &AdaptiveConfig, old_p: f64, seen: u64, kept: u64, secs: f64) -> f64 {
    let old = if old_p.is_nan() {
        cfg.initial_probability
    } else {
        old_p.clamp(cfg.min_probability, 1.0)
    };
    if secs.is_nan() || secs <= 0.0 || secs.is_infinite() {
        return old;
    }
    let observed = kept as f64 / secs;
    let target = cfg.target_per_sec;
    let raw = if target <= 0.0 {
        0.0
    } else if (observed - target).abs() / target <= cfg.tolerance {
        old
    } else if kept == 0 {
        old * MAX_INCREASE_FACTOR
    } else {
        // Below 1: a decrease, at once. Above: an increase, capped. (NaN,
        // from ∞/∞, takes the cap.)
        old * (target / observed).min(MAX_INCREASE_FACTOR)
    };
    let mut floor = cfg.min_probability;
    if seen > 0 && cfg.min_per_sec > 0.0 {
        let traffic = seen as f64 / secs;
        floor = floor.max((cfg.min_per_sec / traffic).min(1.0));
    }
    raw.max(floor).min(1.0)
}

/// The configuration in atomics (floats as bits), stored sanitized. Fields
/// are loaded one by one: an update racing with [`Adaptive::set_config`] may
/// mix old and new fields once; each is valid on its own.
struct SharedConfig {
    target_per_sec: AtomicU64,
    tolerance: AtomicU64,
    min_probability: AtomicU64,
    min_per_sec: AtomicU64,
    initial_probability: AtomicU64,
    interval_ns: AtomicU64,
}

impl SharedConfig {
    fn new(cfg: &AdaptiveConfig) -> Self {
        let c = cfg.sanitized();
        SharedConfig {
            target_per_sec: AtomicU64::new(c.target_per_sec.to_bits()),
            tolerance: AtomicU64::new(c.tolerance.to_bits()),
            min_probability: AtomicU64::new(c.min_probability.to_bits()),
            min_per_sec: AtomicU64::new(c.min_per_sec.to_bits()),
            initial_probability: AtomicU64::new(c.initial_probability.to_bits()),
            interval_ns: AtomicU64::new(c.interval_ns),
        }
    }

    fn store(&self, cfg: &AdaptiveConfig) {
        let c = cfg.sanitized();
        self.target_per_sec
            .store(c.target_per_sec.to_bits(), Relaxed);
        self.tolerance.store(c.tolerance.to_bits(), Relaxed);
        self.min_probability
            .store(c.min_probability.to_bits(), Relaxed);
        self.min_per_sec.store(c.min_per_sec.to_bits(), Relaxed);
        self.initial_probability
            .store(c.initial_probability.to_bits(), Relaxed);
        self.interval_ns.store(c.interval_ns, Relaxed);
    }

    fn load(&self) -> AdaptiveConfig {
        let f = |a: &AtomicU64| f64::from_bits(a.load(Relaxed));
        // Sanitized again: a torn read could pair a new minimum with an old
        // initial probability.
        AdaptiveConfig {
            target_per_sec: f(&self.target_per_sec),
            tolerance: f(&self.tolerance),
            min_probability: f(&self.min_probability),
            min_per_sec: f(&self.min_per_sec),
            initial_probability: f(&self.initial_probability),
            interval_ns: self.interval_ns.load(Relaxed),
        }
        .sanitized()
    }
}

/// A slot's counters for the current interval, on a cache line of their
/// own so that operations counted on different cores do not contend.
#[derive(Default)]
#[repr(align(64))]
struct Counters {
    seen: AtomicU64,
    kept: AtomicU64,
}

/// Adaptive per-operation probabilities in a fixed table of operation slots
/// (a power of two, e.g. 256), indexed by an operation key hash.
///
/// The hot path is [`Adaptive::threshold`] (one relaxed load) and
/// [`Adaptive::record`] (one or two relaxed atomic adds), or both at once
/// with [`Adaptive::decide`]. Thresholds live in their own array, apart
/// from the counters, so counting does not invalidate the cache line the
/// next decision reads. Operations that hash to the same slot share one
/// probability.
pub struct Adaptive {
    /// Per slot: T = (1 − p)·2^56, what the hot path reads.
    thresholds: Box<[AtomicU64]>,
    /// Per slot: p as f64 bits (exact; the updater's state).
    probabilities: Box<[AtomicU64]>,
    counters: Box<[Counters]>,
    /// Slot count − 1.
    mask: usize,
    /// `64 − log2(slots)`: the product's top bits select the slot.
    shift: u32,
    config: SharedConfig,
    /// When the next update is due; [`NOT_STARTED`] before the first call.
    next_update_ns: AtomicU64,
    /// When the counters were last reset (the last update or the start).
    last_update_ns: AtomicU64,
    /// Held by the one caller doing an update.
    updating: AtomicBool,
}

impl Adaptive {
    /// The fewest slots a table has.
    pub const MIN_SLOTS: usize = 16;
    /// The most slots a table has.
    pub const MAX_SLOTS: usize = 1 << 16;

    /// A table of `slots` slots (rounded up to a power of two, at least
    /// [`Self::MIN_SLOTS`], at most [`Self::MAX_SLOTS`]), every slot at the
    /// configuration's initial probability.
    pub fn new(cfg: AdaptiveConfig, slots: usize) -> Self {
        let n = slots
            .clamp(Self::MIN_SLOTS, Self::MAX_SLOTS)
            .next_power_of_two();
        let config = SharedConfig::new(&cfg);
        let p = config.load().initial_probability;
        Adaptive {
            thresholds: (0..n)
                .map(|_| AtomicU64::new(threshold_for_probability(p)))
                .collect(),
            probabilities: (0..n).map(|_| AtomicU64::new(p.to_bits())).collect(),
            counters: (0..n).map(|_| Counters::default()).collect(),
            mask: n - 1,
            shift: 64 - n.trailing_zeros(),
            config,
            next_update_ns: AtomicU64::new(NOT_STARTED),
            last_update_ns: AtomicU64::new(0),
            updating: AtomicBool::new(false),
        }
    }

    /// The slot of an operation key (hash). Operations whose hashes land in
    /// the same slot share it.
    #[inline]
    pub fn slot(&self, key_hash: u64) -> usize {
        (key_hash.wrapping_mul(FIB) >> self.shift) as usize
    }

    /// One relaxed load: the slot's current threshold T. Keep a trace iff
    /// its 56-bit randomness R ≥ T. A `slot` out of range is taken modulo
    /// the slot count.
    #[inline]
    pub fn threshold(&self, slot: usize) -> u64 {
        match self.thresholds.get(slot & self.mask) {
            Some(t) => t.load(Relaxed),
            None => THRESHOLD_NEVER,
        }
    }

    /// Counts one decision for the slot: seen, and kept or not (relaxed
    /// atomic adds). A `slot` out of range is taken modulo the slot count.
    #[inline]
    pub fn record(&self, slot: usize, kept: bool) {
        if let Some(c) = self.counters.get(slot & self.mask) {
            c.seen.fetch_add(1, Relaxed);
            if kept {
                c.kept.fetch_add(1, Relaxed);
            }
        }
    }

    /// Decides and counts: keeps iff the low 56 bits of `randomness` are ≥
    /// the slot's threshold, records that, and returns it.
    #[inline]
    pub fn decide(&self, slot: usize, randomness: u64) -> bool {
        let keep = (randomness & RANDOMNESS_MASK) >= self.threshold(slot);
        self.record(slot, keep);
        keep
    }

    /// One relaxed load: whether [`Adaptive::maybe_update`] has anything to
    /// do at `now_ns` (an interval has passed, or the clock has not started).
    #[inline]
    pub fn due(&self, now_ns: u64) -> bool {
        now_ns >= self.next_update_ns.load(Relaxed)
    }

    /// Recomputes every slot once an interval has passed at `now_ns`;
    /// returns whether it did.
    ///
    /// Cheap when nothing is due (one load and a compare), so it can be
    /// called from the decision path as well as from a background thread.
    /// Only one caller at a time does the work (a try-lock); others return
    /// `false` at once. The first call starts the clock (counts recorded
    /// before it belong to the first interval) and returns `false`.
    ///
    /// Each slot's seen and kept counts are taken and reset; the observed
    /// rate is kept / (now − previous update), the real elapsed time, so a
    /// late update is not misread. A slot that saw no trace in the interval
    /// keeps its probability: an idle operation does not drift up to 1 and
    /// flood the pipeline when it returns. The next update is due one
    /// interval after this one.
    #[inline]
    pub fn maybe_update(&self, now_ns: u64) -> bool {
        if !self.due(now_ns) {
            return false;
        }
        self.update_slow(now_ns)
    }

    #[cold]
    #[inline(never)]
    fn update_slow(&self, now_ns: u64) -> bool {
        if self
            .updating
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_err()
        {
            return false;
        }
        let updated = self.update_locked(now_ns);
        self.updating.store(false, Release);
        updated
    }

    /// The update, under the try-lock.
    fn update_locked(&self, now_ns: u64) -> bool {
        let cfg = self.config.load();
        let next = self.next_update_ns.load(Relaxed);
        if next == NOT_STARTED {
            self.last_update_ns.store(now_ns, Relaxed);
            self.next_update_ns
                .store(now_ns.saturating_add(cfg.interval_ns), Release);
            return false;
        }
        if now_ns < next {
            // Another caller did this interval's update.
            return false;
        }
        let last = self.last_update_ns.load(Relaxed);
        let secs = now_ns.saturating_sub(last) as f64 / 1e9;
        let slots = self
            .counters
            .iter()
            .zip(self.probabilities.iter())
            .zip(self.thresholds.iter());
        for ((c, prob), threshold) in slots {
            let kept = c.kept.swap(0, Relaxed);
            // A decision counted between the two swaps may put a kept in
            // this interval and its seen in the next: seen ≥ kept.
            let seen = c.seen.swap(0, Relaxed).max(kept);
            if seen == 0 {
                continue;
            }
            let old = f64::from_bits(prob.load(Relaxed));
            let p = next_sane(&cfg, old, seen, kept, secs);
            if p.to_bits() != old.to_bits() {
                prob.store(p.to_bits(), Relaxed);
                threshold.store(threshold_for_probability(p), Relaxed);
            }
        }
        self.last_update_ns.store(now_ns, Relaxed);
        self.next_update_ns
            .store(now_ns.saturating_add(cfg.interval_ns), Release);
        true
    }

    /// Changes the configuration live (sanitized; atomics, no lock). Rules
    /// and the target apply from the next update; slot probabilities are
    /// not touched (see [`Adaptive::reset`]). A shorter interval brings the
    /// next update forward to one new interval after the last one.
    pub fn set_config(&self, cfg: AdaptiveConfig) {
        self.config.store(&cfg);
        let interval = self.config.interval_ns.load(Relaxed);
        let last = self.last_update_ns.load(Relaxed);
        // Not started (0) stays not started.
        self.next_update_ns
            .fetch_min(last.saturating_add(interval), Relaxed);
    }

    /// The configuration in effect (sanitized).
    pub fn config(&self) -> AdaptiveConfig {
        self.config.load()
    }

    /// Puts every slot back at the initial probability and clears the
    /// counts of the current interval (the schedule is kept).
    pub fn reset(&self) {
        let p = self.config.load().initial_probability;
        for ((c, prob), threshold) in self
            .counters
            .iter()
            .zip(self.probabilities.iter())
            .zip(self.thresholds.iter())
        {
            c.seen.store(0, Relaxed);
            c.kept.store(0, Relaxed);
            prob.store(p.to_bits(), Relaxed);
            threshold.store(threshold_for_probability(p), Relaxed);
        }
    }

    /// The slot's current probability (modulo the slot count).
    pub fn probability(&self, slot: usize) -> f64 {
        match self.probabilities.get(slot & self.mask) {
            Some(p) => f64::from_bits(p.load(Relaxed)),
            None => 0.0,
        }
    }

    /// The slot's counts so far in the current interval: (seen, kept).
    pub fn counts(&self, slot: usize) -> (u64, u64) {
        match self.counters.get(slot & self.mask) {
            Some(c) => (c.seen.load(Relaxed), c.kept.load(Relaxed)),
            None => (0, 0),
        }
    }

    /// The number of slots (a power of two).
    pub fn slots(&self) -> usize {
        self.thresholds.len()
    }
}

impl fmt::Debug for Adaptive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Adaptive")
            .field("slots", &self.slots())
            .field("config", &self.config())
            .field("next_update_ns", &self.next_update_ns.load(Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const SEC: u64 = 1_000_000_000;

    use crate::sampler::test_rng::SplitMix as Rng;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1e-300)
    }

    fn cfg(target: f64) -> AdaptiveConfig {
        AdaptiveConfig {
            target_per_sec: target,
            ..AdaptiveConfig::default()
        }
    }

    // ---- next_probability, rule by rule ----

    #[test]
    fn increase_capped_at_doubling() {
        let c = cfg(100.0);
        // Observed 10/s against 100/s: ×10 wanted, ×2 given.
        assert_eq!(next_probability(&c, 0.001, 10_000, 10, 1.0), 0.002);
        assert_eq!(next_probability(&c, 0.004, 10_000, 40, 1.0), 0.008);
        // Below the cap the full factor: 60/s → ×100/60.
        let p = next_probability(&c, 0.01, 10_000, 60, 1.0);
        assert!(close(p, 0.01 * 100.0 / 60.0), "{p}");
        // Never above 1.
        assert_eq!(next_probability(&c, 0.7, 100, 10, 1.0), 1.0);
        assert_eq!(next_probability(&c, 1.0, 100, 10, 1.0), 1.0);
    }

    #[test]
    fn decrease_is_immediate() {
        let c = cfg(100.0);
        // 10 000/s kept at p = 1: straight to 100/10 000.
        let p = next_probability(&c, 1.0, 10_000, 10_000, 1.0);
        assert!(close(p, 0.01), "{p}");
        // Over a 10 s interval the same rates.
        let p = next_probability(&c, 1.0, 100_000, 100_000, 10.0);
        assert!(close(p, 0.01), "{p}");
        let p = next_probability(&c, 0.5, 10_000, 5_000, 1.0);
        assert!(close(p, 0.01), "{p}");
    }

    #[test]
    fn unchanged_inside_tolerance_band() {
        let c = cfg(100.0);
        for kept in [70, 85, 100, 115, 130] {
            assert_eq!(
                next_probability(&c, 0.01, 10_000, kept, 1.0),
                0.01,
                "{kept}"
            );
        }
        // Just outside: moves, proportionally.
        let up = next_probability(&c, 0.01, 10_000, 69, 1.0);
        assert!(close(up, 0.01 * 100.0 / 69.0), "{up}");
        let down = next_probability(&c, 0.01, 10_000, 131, 1.0);
        assert!(close(down, 0.01 * 100.0 / 131.0), "{down}");
        // The band is on the rate: 700 kept in 10 s is 70/s.
        assert_eq!(next_probability(&c, 0.01, 100_000, 700, 10.0), 0.01);
        // Tolerance 0: only an exact hit leaves p alone.
        let tight = AdaptiveConfig {
            tolerance: 0.0,
            ..cfg(100.0)
        };
        assert_eq!(next_probability(&tight, 0.01, 10_000, 100, 1.0), 0.01);
        assert!(close(
            next_probability(&tight, 0.01, 10_000, 101, 1.0),
            0.01 * 100.0 / 101.0
        ));
    }

    #[test]
    fn nothing_seen_doubles() {
        let c = cfg(100.0);
        assert_eq!(next_probability(&c, 0.01, 0, 0, 1.0), 0.02);
        // Seen but nothing kept: doubled as well.
        assert_eq!(next_probability(&c, 0.01, 5_000, 0, 1.0), 0.02);
        assert_eq!(next_probability(&c, 0.6, 0, 0, 1.0), 1.0);
        // Jaeger checks the band first: a band that includes 0 keeps p.
        let wide = AdaptiveConfig {
            tolerance: 1.0,
            ..cfg(100.0)
        };
        assert_eq!(next_probability(&wide, 0.01, 0, 0, 1.0), 0.01);
    }

    #[test]
    fn never_below_min_probability() {
        let c = AdaptiveConfig {
            min_per_sec: 0.0,
            ..cfg(0.001)
        };
        // Wanted 0.001 · 0.001/1000 = 1e-9.
        assert_eq!(next_probability(&c, 0.001, 1_000_000, 1_000, 1.0), 1e-5);
        // Target 0: straight to the minimum.
        assert_eq!(
            next_probability(
                &AdaptiveConfig {
                    min_per_sec: 0.0,
                    ..cfg(0.0)
                },
                0.5,
                10,
                5,
                1.0
            ),
            1e-5
        );
        // An old p below the minimum is raised to it first.
        assert_eq!(next_probability(&c, 1e-9, 0, 0, 1.0), 2e-5);
        let lower = AdaptiveConfig {
            min_probability: 1e-7,
            ..c.clone()
        };
        assert!(close(
            next_probability(&lower, 0.001, 1_000_000, 1_000, 1.0),
            1e-7
        ));
    }

    #[test]
    fn min_rate_keeps_seen_operations_sampled() {
        // Target far below: the rate floor decides. min_per_sec = 1/60.
        let c = cfg(1e-6);
        // Seen once in a 1 s interval: p ≥ (1/60) / 1.
        let p = next_probability(&c, 1.0, 1, 1, 1.0);
        assert!(close(p, 1.0 / 60.0), "{p}");
        // Seen once in a 60 s interval (Jaeger's): p = 1.
        assert_eq!(next_probability(&c, 1.0, 1, 1, 60.0), 1.0);
        // For any traffic, kept per second (seen/s · p) ≥ min_per_sec.
        for seen in [1u64, 2, 3, 10, 59, 60, 61, 100, 1_000, 1_000_000] {
            for secs in [0.5, 1.0, 10.0, 60.0] {
                for old in [1.0, 0.5, 1e-3, 1e-5] {
                    let kept = (seen as f64 * old).round() as u64;
                    let p = next_probability(&c, old, seen, kept, secs);
                    let kept_rate = seen as f64 / secs * p;
                    assert!(
                        p == 1.0 || kept_rate >= c.min_per_sec * (1.0 - 1e-12),
                        "seen {seen} in {secs}s from {old}: p {p}"
                    );
                }
            }
        }
        // The floor never pushes past 1, and does not apply to unseen slots.
        assert_eq!(next_probability(&c, 0.001, 0, 0, 1.0), 0.002);
    }

    #[test]
    fn degenerate_inputs_stay_in_range() {
        let nan_cfg = AdaptiveConfig {
            target_per_sec: f64::NAN,
            tolerance: f64::NAN,
            min_probability: f64::NAN,
            min_per_sec: f64::NAN,
            initial_probability: f64::NAN,
            interval_ns: 0,
        };
        assert_eq!(
            nan_cfg.sanitized(),
            AdaptiveConfig {
                tolerance: 0.0,
                min_per_sec: 0.0,
                interval_ns: MIN_INTERVAL_NS,
                ..AdaptiveConfig::default()
            }
        );
        let weird = [
            0.0,
            -0.0,
            -1.0,
            0.5,
            1.0,
            2.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
        ];
        let counts = [0u64, 1, 7, u64::MAX];
        let mut cfgs = vec![AdaptiveConfig::default(), nan_cfg];
        for &v in &weird {
            cfgs.push(AdaptiveConfig {
                target_per_sec: v,
                tolerance: v,
                min_probability: v,
                min_per_sec: v,
                initial_probability: v,
                interval_ns: u64::MAX,
            });
            cfgs.push(cfg(v));
        }
        for c in &cfgs {
            let s = c.sanitized();
            assert!(s.min_probability >= MIN_PROBABILITY_FLOOR && s.min_probability <= 1.0);
            assert!(s.initial_probability >= s.min_probability && s.initial_probability <= 1.0);
            for &old in &weird {
                for &secs in &weird {
                    for &seen in &counts {
                        for &kept in &counts {
                            let p = next_probability(c, old, seen, kept, secs);
                            assert!(
                                p >= s.min_probability && p <= 1.0,
                                "{c:?} {old} {seen} {kept} {secs}: {p}"
                            );
                        }
                    }
                }
            }
        }
        // NaN old p counts as the initial probability.
        assert_eq!(next_probability(&cfg(1.0), f64::NAN, 0, 0, 1.0), 0.002);
        // No usable interval: unchanged.
        assert_eq!(next_probability(&cfg(1.0), 0.3, 100, 100, 0.0), 0.3);
        // An Adaptive from nonsense works.
        let a = Adaptive::new(cfgs[1].clone(), 0);
        assert_eq!(a.slots(), Adaptive::MIN_SLOTS);
        assert_eq!(a.probability(3), 0.001);
        a.record(usize::MAX, true);
        assert_eq!(a.counts(usize::MAX), (1, 1));
        // Times at the end of the range: the schedule saturates, no panic.
        assert!(!a.maybe_update(u64::MAX - 1));
        assert!(a.maybe_update(u64::MAX));
        let _ = a.maybe_update(u64::MAX);
        for (asked, got) in [
            (1, 16),
            (16, 16),
            (17, 32),
            (256, 256),
            (1000, 1024),
            (usize::MAX, 1 << 16),
        ] {
            assert_eq!(Adaptive::new(AdaptiveConfig::default(), asked).slots(), got);
        }
    }

    // ---- thresholds ----

    #[test]
    fn threshold_encoding() {
        assert_eq!(threshold_for_probability(1.0), 0);
        assert_eq!(threshold_for_probability(0.5), 1 << 55);
        assert_eq!(threshold_for_probability(0.25), 3 << 54);
        assert_eq!(threshold_for_probability(0.0), 1 << 56);
        for p in [-1.0, f64::NAN, f64::NEG_INFINITY, 1e-30] {
            assert_eq!(threshold_for_probability(p), THRESHOLD_NEVER, "{p}");
        }
        for p in [2.0, f64::INFINITY] {
            assert_eq!(threshold_for_probability(p), THRESHOLD_ALWAYS, "{p}");
        }
        assert_eq!(probability_for_threshold(1 << 55), 0.5);
        assert_eq!(probability_for_threshold(0), 1.0);
        assert_eq!(probability_for_threshold(u64::MAX), 0.0);
        let p = 0.001;
        assert!(close(
            probability_for_threshold(threshold_for_probability(p)),
            p
        ));

        let a = Adaptive::new(AdaptiveConfig::default(), 256);
        let s = a.slot(42);
        let t = a.threshold(s);
        assert_eq!(t, threshold_for_probability(0.001));
        assert_eq!(a.probability(s), 0.001);
        assert!(!a.decide(s, t - 1));
        assert!(a.decide(s, t));
        assert!(a.decide(s, RANDOMNESS_MASK));
        // Bits above the 56 are ignored.
        assert!(!a.decide(s, (t - 1) | (0xFF << 56)));
        assert_eq!(a.counts(s), (4, 2));
    }

    // ---- the table over simulated time ----

    /// One trace every 100 µs: 10 000 ticks per simulated second.
    const TICK_NS: u64 = 100_000;
    const TICKS_PER_SEC: u64 = SEC / TICK_NS;

    /// A simulated operation: its slot, its traffic (traces per second,
    /// dividing 10 000) and its own randomness.
    struct Op {
        slot: usize,
        per_sec: u64,
        rng: Rng,
    }

    /// Runs `intervals` intervals of `a`'s interval from time 0, every trace
    /// decided against the published threshold and `maybe_update` called on
    /// each tick as a decision path would; returns each op's kept count per
    /// interval. Checks that exactly one update happens per interval, at its
    /// first tick.
    fn simulate(a: &Adaptive, ops: &mut [Op], intervals: u64) -> Vec<Vec<u64>> {
        let interval = a.config().interval_ns;
        assert!(interval.is_multiple_of(TICK_NS));
        let ticks = interval / TICK_NS;
        let mut kept = vec![vec![0u64; intervals as usize]; ops.len()];
        assert!(!a.maybe_update(0), "the first call starts the clock");
        let mut updates = 0;
        for i in 0..intervals {
            for k in 0..ticks {
                let tick = i * ticks + k;
                if a.maybe_update(tick * TICK_NS) {
                    assert_eq!(k, 0, "update inside interval {i}");
                    updates += 1;
                }
                for (o, op) in ops.iter_mut().enumerate() {
                    if tick.is_multiple_of(TICKS_PER_SEC / op.per_sec) {
                        let keep = a.decide(op.slot, op.rng.next() >> 8);
                        kept[o][i as usize] += u64::from(keep);
                    }
                }
            }
        }
        assert_eq!(updates, intervals - 1);
        kept
    }

    /// Asserts that from interval `from` on, every interval's kept rate is
    /// inside the tolerance band of the target, and that interval 0 was not
    /// (so `from` is not vacuous).
    fn assert_converged(kept: &[u64], c: &AdaptiveConfig, from: usize, what: &str) {
        let secs = c.interval_ns as f64 / 1e9;
        let (lo, hi) = (
            c.target_per_sec * (1.0 - c.tolerance),
            c.target_per_sec * (1.0 + c.tolerance),
        );
        let rate = |k: u64| k as f64 / secs;
        assert!(
            !(lo..=hi).contains(&rate(kept[0])),
            "{what}: in band from the start: {kept:?}"
        );
        for (i, &k) in kept.iter().enumerate().skip(from) {
            assert!(
                (lo..=hi).contains(&rate(k)),
                "{what}: interval {i} kept {}/s: {kept:?}",
                rate(k)
            );
        }
    }

    /// Updates needed to bring the expected kept rate into the band, starting
    /// from `p0` at `per_sec` traces/s: a decrease lands in one; an increase
    /// at most doubles, so ⌈log2(lower edge / starting rate)⌉ (the last one
    /// may be a proportional step of less than ×2, which lands near the
    /// target).
    fn updates_to_band(c: &AdaptiveConfig, per_sec: f64, p0: f64) -> usize {
        let start = per_sec * p0;
        let lower = c.target_per_sec * (1.0 - c.tolerance);
        if start >= lower {
            1
        } else {
            (lower / start).log2().ceil() as usize
        }
    }

    /// The convergence tests' configuration: target 100/s, Jaeger's
    /// tolerance, 10 s intervals. The band is ±30 %; at the landing point of
    /// the doubling ramp (p = 0.008 at 10 000/s: 800 kept per interval, the
    /// band's lower edge 700) binomial noise is σ ≈ 28, so an honest
    /// measurement leaves the band with odds of ~2e-4 per interval. With
    /// 1 s intervals (80 ± 9 against an edge of 70) it would leave it every
    /// few intervals, and "stays in the band" would test the noise.
    fn convergence_cfg(initial: f64) -> AdaptiveConfig {
        AdaptiveConfig {
            target_per_sec: 100.0,
            initial_probability: initial,
            interval_ns: 10 * SEC,
            ..AdaptiveConfig::default()
        }
    }

    /// Intervals before the kept rate of an operation at 10 000 traces/s with
    /// target 100/s (p* = 0.01) is in the band for good, starting from
    /// p = 0.001 (10 kept/s). Increases at most double, and the band starts
    /// at 70/s (×7), so ⌈log2 7⌉ = 3 updates: intervals 0, 1, 2 run at
    /// p = 0.001, 0.002, 0.004 and interval 3 at 0.008 (80/s, inside the
    /// band, where the doubling stops). One interval of slack: if noise puts
    /// interval 3's measurement below 70/s, the proportional step that
    /// follows lands at ≈ 0.0115, inside the band, for interval 4. So every
    /// interval from index 4 (the fifth) on is in the band: "doubling from
    /// 0.001 to 0.01 takes ~4 intervals".
    const CONVERGED_FROM_LOW: usize = 4;

    /// The same from p = 1.0: decreases are immediate, so the first update
    /// sets p = 100/10 000 = 0.01; interval 1 is in the band, plus one of
    /// slack.
    const CONVERGED_FROM_HIGH: usize = 2;

    /// An operation at 1000 traces/s (p* = 0.1) from p = 0.001 (1 kept/s):
    /// ⌈log2 70⌉ = 7 updates (6 doublings to 0.064, 64/s, still outside the
    /// band, then ×100/64 to ≈ 0.1), plus one of slack.
    const CONVERGED_SLOW_OP: usize = 8;

    #[test]
    fn convergence_bounds_follow_from_the_rules() {
        let c = convergence_cfg(0.001);
        assert_eq!(updates_to_band(&c, 10_000.0, 0.001) + 1, CONVERGED_FROM_LOW);
        assert_eq!(updates_to_band(&c, 10_000.0, 1.0) + 1, CONVERGED_FROM_HIGH);
        assert_eq!(updates_to_band(&c, 1_000.0, 0.001) + 1, CONVERGED_SLOW_OP);
    }

    #[test]
    fn converges_from_low_probability() {
        let c = convergence_cfg(0.001);
        let a = Adaptive::new(c.clone(), 256);
        let slot = a.slot(0xC0FFEE);
        let mut ops = [Op {
            slot,
            per_sec: 10_000,
            rng: Rng(1),
        }];
        let kept = simulate(&a, &mut ops, 24);
        assert_converged(&kept[0], &c, CONVERGED_FROM_LOW, "from 0.001");
        // The ramp itself: 0.001 → 0.002 → 0.004 → 0.008.
        assert!((50..=150).contains(&kept[0][0]), "{kept:?}");
        assert!((600..=1000).contains(&kept[0][3]), "{kept:?}");
        let p = a.probability(slot);
        assert!((0.007..=0.013).contains(&p), "{p}");
        assert_eq!(a.threshold(slot), threshold_for_probability(p));
    }

    #[test]
    fn converges_from_high_probability() {
        let c = convergence_cfg(1.0);
        let a = Adaptive::new(c.clone(), 256);
        let slot = a.slot(0xC0FFEE);
        let mut ops = [Op {
            slot,
            per_sec: 10_000,
            rng: Rng(2),
        }];
        let kept = simulate(&a, &mut ops, 24);
        // p = 1 keeps everything in interval 0.
        assert_eq!(kept[0][0], 100_000);
        assert_converged(&kept[0], &c, CONVERGED_FROM_HIGH, "from 1.0");
        assert!((800..=1200).contains(&kept[0][1]), "{kept:?}");
        let p = a.probability(slot);
        assert!((0.007..=0.013).contains(&p), "{p}");
    }

    #[test]
    fn operations_converge_independently() {
        let c = convergence_cfg(0.001);
        let fast = |a: &Adaptive| Op {
            slot: a.slot(1),
            per_sec: 10_000,
            rng: Rng(11),
        };
        let slow = |a: &Adaptive| Op {
            slot: a.slot(2),
            per_sec: 1_000,
            rng: Rng(22),
        };
        let both = Adaptive::new(c.clone(), 256);
        assert_ne!(both.slot(1), both.slot(2));
        let mut ops = [fast(&both), slow(&both)];
        let kept = simulate(&both, &mut ops, 24);
        assert_converged(&kept[0], &c, CONVERGED_FROM_LOW, "10 000/s");
        assert_converged(&kept[1], &c, CONVERGED_SLOW_OP, "1 000/s");
        let (pf, ps) = (
            both.probability(both.slot(1)),
            both.probability(both.slot(2)),
        );
        assert!((0.007..=0.013).contains(&pf), "{pf}");
        assert!((0.07..=0.13).contains(&ps), "{ps}");
        // The fast operation alone, with the same randomness, goes through
        // exactly the same intervals: the slow one does not affect it.
        let alone = Adaptive::new(c.clone(), 256);
        let mut ops = [fast(&alone)];
        assert_eq!(simulate(&alone, &mut ops, 24)[0], kept[0]);
    }

    #[test]
    fn updates_once_per_interval_on_schedule() {
        let a = Adaptive::new(cfg(1.0), 16);
        let s = a.slot(7);
        assert!(a.due(5 * SEC), "not started: due");
        assert!(!a.maybe_update(5 * SEC), "starts the clock");
        assert!(!a.due(5 * SEC + SEC / 2));
        assert!(!a.maybe_update(5 * SEC + SEC / 2));
        assert!(!a.maybe_update(6 * SEC - 1));
        assert!(a.maybe_update(6 * SEC));
        assert!(!a.maybe_update(6 * SEC));
        assert!(!a.maybe_update(7 * SEC - 1));
        assert!(a.maybe_update(7 * SEC));
        // An idle slot keeps its probability.
        assert_eq!(a.probability(s), 0.001);
        // A late update (2.5 s after the last) measures 2.5 s: 25 kept of
        // 10 000 is 10/s against a target of 1/s, so p = 0.001 / 10.
        for i in 0..10_000 {
            a.record(s, i < 25);
        }
        assert_eq!(a.counts(s), (10_000, 25));
        assert!(!a.maybe_update(8 * SEC - 1));
        assert!(a.maybe_update(9 * SEC + SEC / 2));
        assert!(close(a.probability(s), 1e-4), "{}", a.probability(s));
        assert_eq!(a.threshold(s), threshold_for_probability(a.probability(s)));
        assert_eq!(a.counts(s), (0, 0));
        // Next due one interval after the late update.
        assert!(!a.maybe_update(10 * SEC + SEC / 2 - 1));
        assert!(a.maybe_update(10 * SEC + SEC / 2));
    }

    #[test]
    fn concurrent_maybe_update_updates_once_per_interval() {
        const INTERVAL: u64 = 100 * MS;
        const STEPS: u64 = 10_000;
        let a = Adaptive::new(
            AdaptiveConfig {
                interval_ns: INTERVAL,
                ..AdaptiveConfig::default()
            },
            64,
        );
        // Both threads walk the same simulated clock, 1 ms a step (10 s),
        // counting decisions and calling maybe_update at every step.
        let run = |a: &Adaptive| {
            let mut at = Vec::new();
            for k in 0..STEPS {
                a.record(3, k.is_multiple_of(7));
                if a.maybe_update(k * MS) {
                    at.push(k * MS);
                }
            }
            at
        };
        let mut at = std::thread::scope(|s| {
            let x = s.spawn(|| run(&a));
            let y = s.spawn(|| run(&a));
            let mut at = x.join().expect("thread x");
            at.extend(y.join().expect("thread y"));
            at
        });
        at.sort_unstable();
        // At most one update per interval: consecutive updates at least an
        // interval apart, the first an interval after the start.
        assert!(at.first().is_some_and(|&t| t >= INTERVAL), "{at:?}");
        for w in at.windows(2) {
            assert!(
                w[1] - w[0] >= INTERVAL,
                "two updates within an interval: {at:?}"
            );
        }
        // Boundaries at 100 ms … 9.9 s: 99. An update is late (shifting the
        // schedule) only if its winner is preempted inside the short update
        // while the other thread runs an interval ahead; allow a few.
        assert!((90..=99).contains(&at.len()), "{} updates", at.len());
    }

    #[test]
    fn set_config_applies_live() {
        let a = Adaptive::new(
            AdaptiveConfig {
                target_per_sec: 100.0,
                initial_probability: 0.01,
                interval_ns: SEC,
                ..AdaptiveConfig::default()
            },
            16,
        );
        let s = a.slot(99);
        let interval = |a: &Adaptive, at: u64| {
            for i in 0..10_000 {
                a.record(s, i < 100);
            }
            assert!(a.maybe_update(at));
        };
        assert!(!a.maybe_update(0));
        interval(&a, SEC);
        assert_eq!(a.probability(s), 0.01, "on target");
        a.set_config(AdaptiveConfig {
            target_per_sec: 50.0,
            initial_probability: 0.01,
            interval_ns: SEC,
            ..AdaptiveConfig::default()
        });
        assert_eq!(a.config().target_per_sec, 50.0);
        interval(&a, 2 * SEC);
        assert!(close(a.probability(s), 0.005), "{}", a.probability(s));
        // A longer interval takes effect after the scheduled update; a
        // shorter one at once.
        a.set_config(AdaptiveConfig {
            interval_ns: 10 * SEC,
            ..a.config()
        });
        assert!(a.maybe_update(3 * SEC));
        assert!(!a.maybe_update(12 * SEC));
        a.set_config(AdaptiveConfig {
            interval_ns: SEC,
            ..a.config()
        });
        assert!(a.maybe_update(4 * SEC));
        // Reset: back to the initial probability.
        a.reset();
        assert_eq!(a.probability(s), 0.01);
        assert_eq!(a.threshold(s), threshold_for_probability(0.01));
    }
}
