//! Log sampling in the engine: the policies in force (process-wide atomics a
//! reload can change), the environment variables, and the per-call-site
//! figures.
//!
//! Two stages decide a log record, on the calling thread, before anything is
//! serialized (see `ring::dispatch`):
//!
//! 1. **Trace-aware.** A record with no trace context, or inside a sampled
//!    trace, passes. A record below ERROR inside an *unsampled* trace (trace
//!    flags without bit 0x01) follows the [`Unsampled`] policy: `Keep`
//!    passes it, `Drop` samples it out, `Buffer` passes it marked, and the
//!    writer holds it in the debug buffer (see [`super::buffer`]). ERROR and
//!    FATAL records always pass this stage (with `Buffer` they release their
//!    trace's buffered records).
//! 2. **Per call site.** The level's [`LogPolicy`] (first N per period, then
//!    every Mth) decides with the counters in the call site's `static`; a
//!    kept record carries its adjusted count.
//!
//! The default is keep-all at every level and `Unsampled::Keep`. Every
//! change recomputes [`mode`] and rewrites each registered call site's
//! interest byte with the stages that apply to its level
//! (`Callsite::log_plan`), so a log call learns whether it is enabled and
//! which stages it runs from one load; with the defaults, the stages cost
//! it a compare.

use std::sync::Mutex;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU16};
use std::time::Duration;

use super::logs::{
    DEFAULT_BUFFER_BYTES, DEFAULT_BUFFER_RECORDS, LEVELS, LevelPolicies, LogPolicy, Unsampled,
};
use crate::level::Level;

/// Per-call-site policies for TRACE, DEBUG, INFO and WARN:
/// `first=100,thereafter=100,period=1s`.
pub const SAMPLING_ENV: &str = "DATAPUNK_LOG_SAMPLING";
/// What happens to records of unsampled traces: `drop`, `keep` or `buffer`.
pub const UNSAMPLED_ENV: &str = "DATAPUNK_LOG_UNSAMPLED";
/// The debug buffer's bounds: `records=64,bytes=8MiB`.
pub const BUFFER_ENV: &str = "DATAPUNK_LOG_BUFFER";

/// Bit of [`mode`]: some level's policy is not keep-all.
pub(crate) const MODE_SITE: u16 = 1;
/// Bit of [`mode`]: records below ERROR of unsampled traces are dropped.
pub(crate) const MODE_DROP: u16 = 2;
/// Bit of [`mode`]: records below ERROR of unsampled traces are buffered.
pub(crate) const MODE_BUFFER: u16 = 4;
/// First of the [`mode`] bits that say which levels' policies are not
/// keep-all (bit `MODE_SITE_LEVEL0 + level`), so a call site tests its
/// constant level's bit instead of loading the policy.
const MODE_SITE_LEVEL0: u16 = 8;

/// The [`mode`] bit of a level whose policy is not keep-all.
#[inline(always)]
pub(crate) const fn mode_site_level(level: usize) -> u16 {
    1 << (MODE_SITE_LEVEL0 as usize + level)
}

/// Index of ERROR in the level arrays; ERROR and FATAL always pass the
/// trace-aware stage.
pub(crate) const ERROR_INDEX: usize = Level::Error as usize;

static POLICIES: LevelPolicies = LevelPolicies::new();
static UNSAMPLED: AtomicU8 = AtomicU8::new(UNSAMPLED_KEEP);
/// What a log call checks first; 0 (the default) means "nothing to do".
static MODE: AtomicU16 = AtomicU16::new(0);
/// Some stage was on at some time since the process started (the writer's
/// summary keeps reporting after the stages are turned off again).
static EVER: AtomicBool = AtomicBool::new(false);
/// Serializes the setters, so [`MODE`] always matches the last change.
static CHANGE: Mutex<()> = Mutex::new(());

const UNSAMPLED_KEEP: u8 = 0;
const UNSAMPLED_DROP: u8 = 1;
const UNSAMPLED_BUFFER: u8 = 2;

/// The stages a log call runs now (bits `MODE_*`; 0: none). One relaxed load.
#[inline(always)]
pub(crate) fn mode() -> u16 {
    MODE.load(Relaxed)
}

/// The policy of a level, by index (`Level as usize`).
#[inline(always)]
pub(crate) fn policy_at(level: usize) -> LogPolicy {
    POLICIES.get(level)
}

fn recompute() {
    let mut m = 0;
    for l in 0..LEVELS {
        if !POLICIES.get(l).is_keep_all() {
            m |= MODE_SITE | mode_site_level(l);
        }
    }
    match UNSAMPLED.load(Relaxed) {
        UNSAMPLED_DROP => m |= MODE_DROP,
        UNSAMPLED_BUFFER => m |= MODE_BUFFER,
        _ => {}
    }
    if m != 0 {
        EVER.store(true, Relaxed);
    }
    MODE.store(m, Relaxed);
    // Each call site keeps the stages of its level in its interest byte.
    crate::engine::for_each_callsite(|cs| cs.refresh_plan());
}

/// True once any stage has been on: what was sampled out while it was is
/// still to be reported after it is turned off.
pub(crate) fn ever_on() -> bool {
    EVER.load(Relaxed)
}

fn change<R>(f: impl FnOnce() -> R) -> R {
    let _g = CHANGE.lock().unwrap_or_else(|e| e.into_inner());
    let r = f();
    recompute();
    r
}

/// Sets the per-call-site policy of one level, at run time (a reload):
/// calls made after it follow it; a call site's counters carry on (a
/// changed period takes effect at the site's next rollover). ERROR and FATAL
/// are keep-all unless set here.
///
/// The engine counts `policy.period` in nanoseconds of the monotonic clock
/// the writer refreshes (accurate to its idle poll, 1 ms by default; see
/// [`LogPolicy::per_period`]); `0` is one endless period.
pub fn set_log_policy(level: Level, policy: LogPolicy) {
    change(|| POLICIES.set(level as usize, policy));
}

/// Sets the per-call-site policy of TRACE, DEBUG, INFO and WARN (what
/// `DATAPUNK_LOG_SAMPLING` sets), leaving ERROR and FATAL as they are.
pub fn set_log_policy_below_error(policy: LogPolicy) {
    change(|| POLICIES.set_below_error(policy));
}

/// The per-call-site policy of a level now.
pub fn log_policy(level: Level) -> LogPolicy {
    POLICIES.get(level as usize)
}

/// Sets what happens to records below ERROR of unsampled traces, at run time.
/// Records already marked for the debug buffer stay buffered; the buffer's
/// bounds are fixed at `init()`.
pub fn set_unsampled(policy: Unsampled) {
    change(|| {
        let v = match policy {
            Unsampled::Keep => UNSAMPLED_KEEP,
            Unsampled::Drop => UNSAMPLED_DROP,
            Unsampled::Buffer => UNSAMPLED_BUFFER,
        };
        UNSAMPLED.store(v, Relaxed);
    });
}

/// What happens to records below ERROR of unsampled traces now.
pub fn unsampled() -> Unsampled {
    match UNSAMPLED.load(Relaxed) {
        UNSAMPLED_DROP => Unsampled::Drop,
        UNSAMPLED_BUFFER => Unsampled::Buffer,
        _ => Unsampled::Keep,
    }
}

/// Sets `policy` for every level below ERROR in per-level `levels` (the
/// builder's, a reload's, the configuration file's).
pub(crate) fn set_below_error(levels: &mut [Option<LogPolicy>; LEVELS], policy: LogPolicy) {
    for l in &mut levels[..ERROR_INDEX] {
        *l = Some(policy);
    }
}

/// Log sampling as configured at `init()` (builder, then environment).
#[derive(Clone, Debug)]
pub(crate) struct LogSampling {
    /// Per level; `None`: keep all.
    pub levels: [Option<LogPolicy>; LEVELS],
    pub unsampled: Unsampled,
    /// Debug buffer: records per trace, bytes in all.
    pub buffer_records: usize,
    pub buffer_bytes: usize,
    /// Least time between two summary records of what was sampled out.
    pub summary_interval: Duration,
}

/// Default least time between two "records sampled out" summaries.
pub const DEFAULT_SUMMARY_INTERVAL: Duration = Duration::from_secs(10);

impl Default for LogSampling {
    fn default() -> Self {
        LogSampling {
            levels: [None; LEVELS],
            unsampled: Unsampled::Keep,
            buffer_records: DEFAULT_BUFFER_RECORDS,
            buffer_bytes: DEFAULT_BUFFER_BYTES,
            summary_interval: DEFAULT_SUMMARY_INTERVAL,
        }
    }
}

impl LogSampling {
    /// Makes this the configuration in force.
    pub(crate) fn install(&self) {
        change(|| {
            for (l, p) in self.levels.iter().enumerate() {
                POLICIES.set(l, p.unwrap_or(LogPolicy::KEEP_ALL));
            }
        });
        set_unsampled(self.unsampled);
    }
}

/// The per-call-site sampler's figures for one call site
/// ([`crate::sampling_stats`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteSamplingStats {
    /// The call site's target.
    pub target: &'static str,
    /// Its file.
    pub file: &'static str,
    /// Its line.
    pub line: u32,
    /// Its level.
    pub level: Level,
    /// Calls its sampler decided (calls under a keep-all policy are not
    /// counted, nor calls the trace-aware stage dropped).
    pub calls: u64,
    /// Of those, records kept.
    pub kept: u64,
    /// Of those, records sampled out: `calls - kept`.
    pub sampled_out: u64,
}
