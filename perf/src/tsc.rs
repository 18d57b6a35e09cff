//! Cycle-level timing with the time-stamp counter.
//!
//! A timed region is `start()` .. `stop()`:
//! - `start`: `lfence; rdtsc; lfence` — earlier instructions have finished
//!   before the read, and the timed code cannot start before it.
//! - `stop`: `rdtscp; lfence` — RDTSCP waits for the timed code to finish;
//!   the trailing LFENCE keeps later instructions out of the region. Where the
//!   CPU has no RDTSCP, `lfence; rdtsc; lfence` is used instead.
//!
//! Ticks become nanoseconds with a frequency calibrated against `Instant`.
//! The pair has a cost of its own (reported as [`Overhead`]); it is included
//! in every sample unless the profile says to subtract it.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

#[cfg(target_arch = "x86_64")]
fn has_rdtscp() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        use core::arch::x86_64::__cpuid;
        let max_ext = __cpuid(0x8000_0000).eax;
        max_ext >= 0x8000_0001 && (__cpuid(0x8000_0001).edx >> 27) & 1 == 1
    })
}

/// Reads the TSC at the start of a timed region.
#[inline(always)]
pub fn start() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_lfence, _rdtsc};
        // SAFETY: LFENCE (SSE2, part of the x86_64 baseline) and RDTSC exist
        // on every x86_64 CPU; neither touches memory. The intrinsics are
        // `unsafe` only as raw instructions with a target feature.
        unsafe {
            _mm_lfence();
            let t = _rdtsc();
            _mm_lfence();
            t
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        fallback_ticks()
    }
}

/// Reads the TSC at the end of a timed region.
#[inline(always)]
pub fn stop() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{__rdtscp, _mm_lfence};
        if has_rdtscp() {
            let mut aux = 0u32;
            // SAFETY: RDTSCP is present (checked with CPUID in `has_rdtscp`)
            // and writes only `aux`, a live local; LFENCE is SSE2 (x86_64
            // baseline) and touches no memory.
            unsafe {
                let t = __rdtscp(&mut aux);
                _mm_lfence();
                t
            }
        } else {
            start()
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        fallback_ticks()
    }
}

/// A raw, unfenced read: for busy-waits and loop-level timing.
#[inline(always)]
pub fn now() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC exists on every x86_64 CPU and has no memory effects.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        fallback_ticks()
    }
}

/// Elsewhere than x86_64: nanoseconds of `Instant` stand in for ticks.
#[cfg(not(target_arch = "x86_64"))]
fn fallback_ticks() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Busy-waits `ticks` TSC ticks.
#[inline(always)]
pub fn spin_ticks(ticks: u64) {
    if ticks == 0 {
        return;
    }
    let end = now().wrapping_add(ticks);
    while now() < end {
        std::hint::spin_loop();
    }
}

/// The TSC frequency.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Calibration {
    pub ticks_per_ns: f64,
    /// The window it was measured over.
    pub window_ms: f64,
}

impl Calibration {
    /// Measures the TSC against `Instant` over `window` (busy-waiting).
    pub fn measure(window: Duration) -> Calibration {
        // Two reads of each clock close together, at both ends; the TSC read
        // sits between the two `Instant` reads so the pair brackets it.
        let (i0, t0) = pair();
        while i0.elapsed() < window {
            std::hint::spin_loop();
        }
        let (i1, t1) = pair();
        let ns = (i1 - i0).as_nanos() as f64;
        Calibration {
            ticks_per_ns: t1.wrapping_sub(t0) as f64 / ns,
            window_ms: ns / 1e6,
        }
    }

    pub fn to_ns(self, ticks: f64) -> f64 {
        ticks / self.ticks_per_ns
    }

    pub fn to_ticks(self, ns: f64) -> u64 {
        (ns * self.ticks_per_ns).round() as u64
    }
}

fn pair() -> (Instant, u64) {
    let a = Instant::now();
    let t = now();
    let b = Instant::now();
    (a + (b - a) / 2, t)
}

/// The smallest step the counter moves by, in ticks: the most common
/// non-zero difference between two back-to-back reads. Some CPUs (AMD Zen:
/// a 100 MHz reference clock times a multiplier) advance the TSC in steps of
/// tens of ticks, which quantizes every single-call sample to that step.
pub fn step_ticks(reads: usize) -> u64 {
    // Reads first, into memory allocated and touched beforehand, so the loop
    // is nothing but reads; the deltas are counted afterwards.
    let mut t = vec![0u64; reads];
    for slot in t.iter_mut() {
        *slot = now();
    }
    let mut counts: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    for w in t.windows(2) {
        let d = w[1].wrapping_sub(w[0]);
        if d > 0 {
            *counts.entry(d).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|&(d, n)| (n, std::cmp::Reverse(d)))
        .map_or(1, |(d, _)| d)
}

/// The cost of an empty `start()`..`stop()` region.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Overhead {
    pub samples: u64,
    pub min_ticks: u64,
    pub p50_ticks: u64,
    pub min_ns: f64,
    pub p50_ns: f64,
}

impl Overhead {
    pub fn measure(cal: &Calibration, samples: u64) -> Overhead {
        let mut v: Vec<u64> = Vec::with_capacity(samples as usize);
        for _ in 0..samples {
            let a = start();
            let b = stop();
            v.push(b.wrapping_sub(a));
        }
        v.sort_unstable();
        let min = v[0];
        let p50 = v[v.len() / 2];
        Overhead {
            samples,
            min_ticks: min,
            p50_ticks: p50,
            min_ns: cal.to_ns(min as f64),
            p50_ns: cal.to_ns(p50 as f64),
        }
    }
}
