//! Timestamps.
//!
//! The hot path stores a raw reading; the writer converts it to wall time.
//! Three sources:
//! - `Tsc`: the CPU's time-stamp counter (x86_64 with an invariant TSC), about
//!   10 ns a read here, converted with a frequency the writer keeps calibrated
//!   against the OS monotonic clock.
//! - `Os`: nanoseconds of the OS monotonic clock (`Instant`), the fallback where
//!   there is no invariant TSC.
//! - `Coarse`: one relaxed load of a wall-clock value the writer refreshes on
//!   every pass of its loop (microseconds apart while it is busy, at most its
//!   idle poll interval apart while it is idle).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Which clock stamps records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ClockSource {
    /// Nanosecond-precise: the TSC where it is invariant, else the OS monotonic clock.
    #[default]
    Precise,
    /// The cheapest stamp: a value the writer thread keeps fresh.
    Coarse,
}

pub(crate) const MODE_TSC: u8 = 0;
pub(crate) const MODE_OS: u8 = 1;
pub(crate) const MODE_COARSE: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(MODE_OS);
static COARSE_NOW: AtomicU64 = AtomicU64::new(0);
static OS_BASE: OnceLock<Instant> = OnceLock::new();
/// Monotonic nanoseconds (from `OS_BASE`) the writer refreshes on every
/// pass; 0 while no writer runs.
static MONO_NOW: AtomicU64 = AtomicU64::new(0);

/// Monotonic nanoseconds, cheaply: the writer's last refresh (microseconds
/// old while it is busy, at most its idle poll while idle) when a writer
/// runs, else the OS clock. For rate limits, not for timestamps.
#[inline(always)]
pub(crate) fn coarse_mono_ns() -> u64 {
    match MONO_NOW.load(Ordering::Relaxed) {
        0 => os_nanos().max(1),
        n => n,
    }
}

/// The longest wait a deadline stands for: 100 years. A longer timeout
/// (`Duration::MAX` for "no limit") means this, never an overflow.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `now + timeout`, saturating: a timeout too long for the clock (such as
/// `Duration::MAX`) is a deadline 100 years away instead of a panic.
pub(crate) fn deadline_after(now: Instant, timeout: Duration) -> Instant {
    now.checked_add(timeout.min(FOREVER))
        .or_else(|| now.checked_add(Duration::from_secs(3600)))
        .unwrap_or(now)
}

/// [`deadline_after`] from now.
pub(crate) fn deadline_in(timeout: Duration) -> Instant {
    deadline_after(Instant::now(), timeout)
}

/// [`coarse_mono_ns`] without its fallback: the writer's last refresh, set
/// at `init()` before any record can be logged, 0 when no engine runs. For
/// the log sampler's periods, which only count while an engine runs (a
/// record logged with none is sampled as at time 0).
#[inline(always)]
pub(crate) fn engine_mono_ns() -> u64 {
    MONO_NOW.load(Ordering::Relaxed)
}

/// The raw time of a capture, in the units of the active mode.
#[inline(always)]
pub(crate) fn now() -> u64 {
    match MODE.load(Ordering::Relaxed) {
        MODE_TSC => rdtsc(),
        MODE_COARSE => COARSE_NOW.load(Ordering::Relaxed),
        _ => os_nanos(),
    }
}

#[inline(always)]
fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no memory effects and exists on every x86_64 CPU;
        // it is only selected (MODE_TSC) after `tsc_is_invariant` checked it.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        os_nanos()
    }
}

#[inline]
fn os_nanos() -> u64 {
    let base = OS_BASE.get_or_init(Instant::now);
    base.elapsed().as_nanos() as u64
}

fn tsc_is_invariant() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::__cpuid;
        let max_ext = __cpuid(0x8000_0000).eax;
        if max_ext < 0x8000_0007 {
            return false;
        }
        // Advanced power management leaf: EDX bit 8 is "invariant TSC".
        (__cpuid(0x8000_0007).edx >> 8) & 1 == 1
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A TSC reading and an `Instant` taken at (nearly) the same moment: the
/// Instant is bracketed by two TSC reads; the tightest of a few tries wins.
fn paired() -> (u64, Instant) {
    let mut best = (u64::MAX, 0, Instant::now());
    for _ in 0..5 {
        let t1 = rdtsc();
        let m = Instant::now();
        let t2 = rdtsc();
        let gap = t2.wrapping_sub(t1);
        if gap < best.0 {
            best = (gap, t1 + gap / 2, m);
        }
    }
    (best.1, best.2)
}

fn wall_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Converts raw readings to Unix nanoseconds; owned by the writer.
#[derive(Debug)]
pub(crate) struct Converter {
    mode: u8,
    /// Anchor of the conversion: `raw_base` converts to `wall_base`.
    raw_base: u64,
    wall_base: u64,
    /// Nanoseconds per raw tick from the anchor on, 32.32 fixed point.
    mult: u64,
    /// The first paired reading: TSC, monotonic clock, and the wall time of
    /// that instant. The TSC rate is measured against it over an ever longer
    /// window.
    calib_raw: u64,
    mono_base: Instant,
    wall_at_mono_base: u64,
    last_calibration: Instant,
}

impl Drop for Converter {
    /// The writer is gone: [`coarse_mono_ns`] reads the OS clock again.
    fn drop(&mut self) {
        MONO_NOW.store(0, Ordering::Relaxed);
    }
}

/// TSC recalibrations made since the process started (tests wait on it
/// instead of sleeping past the first one).
static RECALIBRATIONS: AtomicU64 = AtomicU64::new(0);

/// `Some(n)`: the timestamps come from the TSC and the writer has
/// recalibrated its rate `n` times so far; `None` with any other clock (no
/// recalibration happens). For tests (`__private`).
pub fn recalibrations() -> Option<u64> {
    (MODE.load(Ordering::Acquire) == MODE_TSC).then(|| RECALIBRATIONS.load(Ordering::Acquire))
}

/// Horizon over which a recalibration absorbs the accumulated error.
const SLEW_HORIZON_NS: i128 = 1_000_000_000;

impl Converter {
    /// Picks the mode, sets the process-wide capture mode, and calibrates.
    pub(crate) fn install(source: ClockSource) -> Converter {
        OS_BASE.get_or_init(Instant::now);
        // The coarse clock reads from here on, before the writer's first
        // pass refreshes it.
        MONO_NOW.store(os_nanos().max(1), Ordering::Relaxed);
        let mode = match source {
            ClockSource::Coarse => MODE_COARSE,
            ClockSource::Precise if tsc_is_invariant() => MODE_TSC,
            ClockSource::Precise => MODE_OS,
        };
        let (raw0, mono_base) = paired();
        let wall_base = wall_nanos() - mono_base.elapsed().as_nanos() as u64;
        let mut c = Converter {
            mode,
            raw_base: 0,
            wall_base,
            mult: 1 << 32,
            calib_raw: raw0,
            mono_base,
            wall_at_mono_base: wall_base,
            last_calibration: mono_base,
        };
        match mode {
            MODE_TSC => {
                c.raw_base = raw0;
                // A first estimate over 2 ms; `tick` refines it as time passes.
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(2) {
                    std::hint::spin_loop();
                }
                let (raw, m) = paired();
                if let Some(rate) = c.rate(raw, m) {
                    c.mult = rate;
                }
            }
            MODE_OS => {
                let os_base = *OS_BASE.get_or_init(Instant::now);
                c.raw_base = mono_base.duration_since(os_base).as_nanos() as u64;
            }
            _ => {
                COARSE_NOW.store(wall_base, Ordering::Relaxed);
            }
        }
        MODE.store(mode, Ordering::Release);
        c
    }

    /// Nanoseconds per tick (32.32) measured from the first paired reading to
    /// the pair (`raw`, `m`).
    fn rate(&self, raw: u64, m: Instant) -> Option<u64> {
        let mono = m.duration_since(self.mono_base).as_nanos() as u64;
        let ticks = raw.wrapping_sub(self.calib_raw);
        (ticks > 0 && mono > 0).then(|| (((mono as u128) << 32) / ticks as u128) as u64)
    }

    /// Refines the TSC rate. The conversion is re-anchored at the current
    /// reading so it stays continuous (no timestamp jumps back), and the error
    /// accumulated so far against the monotonic clock is slewed away over
    /// the next second instead of stepped.
    fn calibrate(&mut self) {
        let (raw, m) = paired();
        self.last_calibration = Instant::now();
        let Some(rate) = self.rate(raw, m) else {
            return;
        };
        let ours = self.to_unix_nanos(raw) as i128;
        let truth =
            (self.wall_at_mono_base + m.duration_since(self.mono_base).as_nanos() as u64) as i128;
        let err = (truth - ours).clamp(-SLEW_HORIZON_NS / 2, SLEW_HORIZON_NS / 2);
        let mult = rate as i128 * (SLEW_HORIZON_NS + err) / SLEW_HORIZON_NS;
        self.raw_base = raw;
        self.wall_base = ours as u64;
        self.mult = mult.max(1) as u64;
        RECALIBRATIONS.fetch_add(1, Ordering::Release);
    }

    /// Called on every writer pass: refreshes the coarse clock, and refines the
    /// TSC frequency every 100 ms (the estimate converges as the window grows).
    pub(crate) fn tick(&mut self) {
        MONO_NOW.store(os_nanos().max(1), Ordering::Relaxed);
        match self.mode {
            MODE_COARSE => {
                let now = self.wall_at_mono_base + self.mono_base.elapsed().as_nanos() as u64;
                COARSE_NOW.store(now, Ordering::Relaxed);
            }
            MODE_TSC if self.last_calibration.elapsed() >= Duration::from_millis(100) => {
                self.calibrate()
            }
            _ => {}
        }
    }

    /// Raw reading now, in the units records carry.
    pub(crate) fn raw_now(&self) -> u64 {
        match self.mode {
            // Fresh, not the published value (which only moves once a pass).
            MODE_COARSE => self.wall_at_mono_base + self.mono_base.elapsed().as_nanos() as u64,
            MODE_TSC => rdtsc(),
            _ => os_nanos(),
        }
    }

    /// A duration in raw units (for the ordering window).
    pub(crate) fn raw_span(&self, d: Duration) -> u64 {
        let ns = d.as_nanos() as u64;
        match self.mode {
            MODE_TSC if self.mult > 0 => (((ns as u128) << 32) / self.mult as u128) as u64,
            _ => ns,
        }
    }

    /// Unix nanoseconds of a raw reading.
    #[inline]
    pub(crate) fn to_unix_nanos(&self, raw: u64) -> u64 {
        match self.mode {
            MODE_COARSE => raw,
            MODE_TSC => {
                let d = raw.wrapping_sub(self.raw_base) as i64 as i128;
                let ns = (d * self.mult as i128) >> 32;
                (self.wall_base as i128 + ns).max(0) as u64
            }
            _ => self.wall_base.wrapping_add(raw.wrapping_sub(self.raw_base)),
        }
    }

    /// Unix nanoseconds now.
    pub(crate) fn unix_now(&self) -> u64 {
        self.to_unix_nanos(self.raw_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsc_conversion_tracks_wall_clock() {
        // Only the converter's arithmetic is checked here; the process-wide mode
        // is set by whichever test installs last, which is fine for this check.
        let c = Converter::install(ClockSource::Precise);
        std::thread::sleep(Duration::from_millis(20));
        let ours = c.unix_now();
        let wall = wall_nanos();
        let diff = ours.abs_diff(wall);
        assert!(
            diff < 5_000_000,
            "converted clock off by {diff} ns (mode {})",
            c.mode
        );
    }

    #[test]
    fn raw_span_round_trips() {
        let c = Converter::install(ClockSource::Precise);
        let span = c.raw_span(Duration::from_millis(1));
        let a = c.to_unix_nanos(c.raw_base);
        let b = c.to_unix_nanos(c.raw_base + span);
        let d = b - a;
        assert!((900_000..1_100_000).contains(&d), "1 ms became {d} ns");
    }
}
