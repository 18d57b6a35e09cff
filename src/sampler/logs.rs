//! Per-call-site log record sampling (zap's sampler, with the counters in the
//! call site's `static`).
//!
//! Within each period a call site keeps its first `first` records, then every
//! `thereafter`-th one (`thereafter == 0`: none after the first `first`). The
//! `n`-th call of a period (counted from 1) is kept iff
//! `n <= first || (n - first) % thereafter == 0`, exactly zap's rule. (The
//! engine numbers the calls after the first N in per-thread blocks: see
//! `ThreadSlots` for how that differs from one shared count.)
//!
//! * [`LogPolicy`] is the policy of one level (or one call site).
//! * [`SiteCounter`] lives in a call site's `static`: it hands out the
//!   indices of a period and counts what was kept and sampled out. A kept
//!   record carries an *adjusted count*, how many records it stands for
//!   (`1` for the first `first`, `thereafter` for the every-Mth ones), so a
//!   backend can extrapolate.
//! * `ThreadSlots` (the engine's, one per thread) takes indices in blocks
//!   of `thereafter`, so a thread decides a sampled-out call with a few
//!   loads and stores of its own and no locked instruction.
//! * [`LevelPolicies`] holds one policy per level in atomics, so a reload can
//!   change it without a lock.
//! * [`parse_sampling_env`], [`parse_buffer_env`] and [`parse_unsampled_env`]
//!   parse the environment values that configure all this.
//!
//! # Exact accounting
//!
//! The engine proves `produced == written + dropped + sampled_out + discarded`,
//! so a counter reports exactly how many records it sampled out. It counts
//! decisions, not indices: kept records in the site's counter, sampled-out
//! ones there (shared path) or in the thread's slot (moved to the site when
//! the slot changes hands or the thread ends; the engine's stats add live
//! slots). The count stays exact when the policy changes in the middle of a
//! period (a closed form such as [`kept_of`] would only be exact for a
//! policy that never changes).
//!
//! Time (`now`, [`LogPolicy::period`]) is a `u64` in units the caller
//! chooses (raw clock ticks on the hot path); the environment parser returns
//! nanoseconds, which the engine converts once.

#![warn(missing_docs)]

use std::num::IntErrorKind;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64};

/// Number of levels [`LevelPolicies`] holds: `TRACE = 0`, `DEBUG = 1`,
/// `INFO = 2`, `WARN = 3`, `ERROR = 4`, `FATAL = 5` (a level's `repr(u8)`).
pub const LEVELS: usize = 6;

/// Index of the `ERROR` level; [`LevelPolicies::set_below_error`] leaves it
/// and `FATAL` alone.
const ERROR: usize = 4;

/// Nanoseconds in a second.
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Sampling policy for one level (or a call site): first N per period, then
/// every Mth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogPolicy {
    /// Records kept at the start of each period (adjusted count 1 each).
    pub first: u64,
    /// After the first `first`, every `thereafter`-th record is kept
    /// (adjusted count `thereafter`); `0` drops all of them, `1` keeps all.
    pub thereafter: u64,
    /// Length of a period in clock units (nanoseconds when parsed from the
    /// environment). `0`: the counters never reset (one endless period).
    pub period: u64,
}

impl LogPolicy {
    /// Keeps every record: `first = u64::MAX`, `thereafter = 1`, `period = 0`.
    pub const KEEP_ALL: LogPolicy = LogPolicy {
        first: u64::MAX,
        thereafter: 1,
        period: 0,
    };

    /// The environment's defaults: `first = 100`, `thereafter = 100`,
    /// `period = 1 s` (in nanoseconds).
    pub const DEFAULT: LogPolicy = LogPolicy {
        first: 100,
        thereafter: 100,
        period: NANOS_PER_SEC,
    };

    /// A policy keeping the first `first` records of each `period`, then
    /// every `thereafter`-th.
    #[must_use]
    pub const fn new(first: u64, thereafter: u64, period: u64) -> LogPolicy {
        LogPolicy {
            first,
            thereafter,
            period,
        }
    }

    /// [`LogPolicy::new`] with the period as a [`std::time::Duration`], in
    /// the nanoseconds the engine counts periods in (saturating at
    /// `u64::MAX`).
    #[must_use]
    pub const fn per_period(first: u64, thereafter: u64, period: std::time::Duration) -> LogPolicy {
        let ns = period.as_nanos();
        LogPolicy {
            first,
            thereafter,
            period: if ns > u64::MAX as u128 {
                u64::MAX
            } else {
                ns as u64
            },
        }
    }

    /// Whether this policy keeps every record (`thereafter == 1` or
    /// `first == u64::MAX`); a call site can then skip its counter.
    #[must_use]
    pub const fn is_keep_all(&self) -> bool {
        self.thereafter == 1 || self.first == u64::MAX
    }

    /// Decision for the `n`-th call of a period (counted from 1): `0` to
    /// sample it out, else the adjusted count it is kept with (`1` within the
    /// first `first`, `thereafter` for an every-Mth record).
    #[inline]
    #[must_use]
    pub const fn decide(&self, n: u64) -> u64 {
        if n <= self.first {
            1
        } else if (n - self.first).is_multiple_of(self.thereafter) {
            // `is_multiple_of(0)` is true only for 0, and `n - first >= 1`
            // here: `thereafter == 0` drops everything after the first N.
            self.thereafter
        } else {
            0
        }
    }
}

impl Default for LogPolicy {
    /// [`LogPolicy::DEFAULT`].
    fn default() -> Self {
        LogPolicy::DEFAULT
    }
}

/// Number kept out of the first `c` calls of a period under
/// `first`/`thereafter` (closed form of counting [`LogPolicy::decide`]).
#[must_use]
pub const fn kept_of(c: u64, first: u64, thereafter: u64) -> u64 {
    if c <= first {
        return c;
    }
    // Kept after the first N: n in (first, c] with (n - first) a multiple
    // of `thereafter`, i.e. the multiples of it in [1, c - first]; none when
    // `thereafter == 0`. `first + q <= c`, so the sum cannot overflow.
    match (c - first).checked_div(thereafter) {
        Some(q) => first + q,
        None => first,
    }
}

/// The sampling counters of one log call site; lives in the call site's
/// `static` (hence [`SiteCounter::new`] is `const`).
///
/// `count` hands out the indices `n` of a period (counted from 1) that
/// [`LogPolicy::decide`] decides on: one at a time on the shared path
/// ([`SiteCounter::sample`]), or in blocks to a thread's `ThreadSlots`,
/// which then decides a block's calls with no atomic read-modify-write.
/// Accounting does not rest on `count` (a thread may leave part of a block
/// unused when a period ends): kept records are counted in `kept`, sampled
/// out ones in `out` on the shared path and in the thread's slot on the
/// per-thread path (moved into `out` when the slot changes hands or its
/// thread ends).
///
/// # Races
///
/// All operations are relaxed. [`SiteCounter::sample`] loads `period_end`;
/// the first caller that sees `now >= period_end` moves it with a
/// compare-exchange and, if it wins, swaps `count` to 0: the indices of the
/// new period start again at 1. Every call takes its index from one
/// `fetch_add` (a single index, or a block), and that read-modify-write and
/// the winner's `swap` are totally ordered on `count`, so an index belongs
/// to exactly one period and no index of a period is handed out twice.
/// `kept` and `out` count actual decisions, so `calls = kept + out` (plus
/// what live threads' slots hold) is exact once calls are quiescent, even if
/// the policy changed in between. While calls are in flight a reader can see
/// a slot's count before or after it moved into `out`; the readers are exact
/// again at rest.
#[derive(Debug)]
pub struct SiteCounter {
    /// End of the current period (exclusive), in the caller's clock units;
    /// 0 before the first call, so the first call starts a period.
    period_end: AtomicU64,
    /// Indices handed out in the current period.
    count: AtomicU64,
    /// Calls sampled out (shared path, and slots that gave the site up).
    out: AtomicU64,
    /// Records kept, all periods.
    kept: AtomicU64,
}

impl SiteCounter {
    /// A counter that has seen no call.
    #[must_use]
    pub const fn new() -> SiteCounter {
        SiteCounter {
            period_end: AtomicU64::new(0),
            count: AtomicU64::new(0),
            out: AtomicU64::new(0),
            kept: AtomicU64::new(0),
        }
    }

    /// Decides one record at time `now` (caller's clock units, the same as
    /// `policy.period`): `0` samples it out; otherwise keep it, with this
    /// adjusted count. The shared path: one `fetch_add` for the index and
    /// one for the count.
    ///
    /// Under a keep-all policy ([`LogPolicy::is_keep_all`]) this returns 1
    /// without touching the counters: such calls are neither kept nor
    /// sampled out in [`SiteCounter::kept`] / [`SiteCounter::sampled_out`].
    /// A change of `period` takes effect at the next rollover.
    #[inline]
    pub fn sample(&self, now: u64, policy: &LogPolicy) -> u64 {
        if policy.is_keep_all() {
            return 1;
        }
        self.roll_if_due(now, policy.period);
        let n = self.count.fetch_add(1, Relaxed).wrapping_add(1);
        let adjusted = policy.decide(n);
        if adjusted == 0 {
            self.out.fetch_add(1, Relaxed);
        } else {
            self.kept.fetch_add(1, Relaxed);
        }
        adjusted
    }

    /// Starts a new period when `now` has passed the current one's end.
    #[inline]
    fn roll_if_due(&self, now: u64, period: u64) {
        let end = self.period_end.load(Relaxed);
        if now >= end && period != 0 {
            self.roll(end, now, period);
        }
    }

    /// Starts a new period at `now` if this caller wins the race for it.
    #[cold]
    #[inline(never)]
    fn roll(&self, end: u64, now: u64, period: u64) {
        let new_end = now.saturating_add(period);
        if self
            .period_end
            .compare_exchange(end, new_end, Relaxed, Relaxed)
            .is_ok()
        {
            self.count.swap(0, Relaxed);
        }
    }

    /// Records this call site sampled out on the shared path and in slots
    /// that gave it up (exact once calls are quiescent); the engine adds
    /// what live threads' slots hold.
    #[must_use]
    pub fn sampled_out(&self) -> u64 {
        self.out.load(Relaxed)
    }

    /// Records this call site kept so far (under a sampling policy).
    #[must_use]
    pub fn kept(&self) -> u64 {
        self.kept.load(Relaxed)
    }

    /// Calls this call site counted so far: kept + [`SiteCounter::sampled_out`]
    /// (calls under a keep-all policy are not counted).
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.kept().wrapping_add(self.sampled_out())
    }

    /// Adds sampled-out calls counted elsewhere (a slot's, a retired
    /// thread's).
    pub(crate) fn add_sampled_out(&self, n: u64) {
        if n != 0 {
            self.out.fetch_add(n, Relaxed);
        }
    }
}

/// Slots in a thread's [`ThreadSlots`].
pub(crate) const THREAD_SLOTS: usize = 64;

/// Largest block of indices a thread takes at once (a policy whose
/// `thereafter` is larger takes blocks of this size).
const MAX_BLOCK: u64 = 4096;

/// What a sampled-out call reads of its slot: 32 bytes, so a slot's
/// address is a shift away from the call site id.
#[derive(Debug)]
#[repr(C, align(32))]
struct HotSlot {
    /// The call site holding the slot (null: none), as its counter.
    site: AtomicPtr<SiteCounter>,
    /// Next index of the block to use.
    next: AtomicU64,
    /// Where the sampled-out run of the block stops (exclusive): its kept
    /// index, or its end when it keeps none. A call at `stop` takes the
    /// slow path, which keeps it (or takes a new block).
    stop: AtomicU64,
    /// End of the period the block belongs to.
    period_end: AtomicU64,
}

impl HotSlot {
    const fn new() -> HotSlot {
        HotSlot {
            site: AtomicPtr::new(std::ptr::null_mut()),
            next: AtomicU64::new(0),
            stop: AtomicU64::new(0),
            period_end: AtomicU64::new(0),
        }
    }
}

/// The rest of a call site's block of indices on one thread. Every field
/// (here and in its [`HotSlot`]) is written by the owning thread only
/// (relaxed loads and stores, no locked instruction); the engine's stats
/// read `site_id`, `next`, `start`, `used` and `kept`.
#[derive(Debug)]
struct Slot {
    /// The call site id of the hot slot's site, for the engine's per-site
    /// sums.
    site_id: AtomicU32,
    /// End of the block (exclusive).
    end: AtomicU64,
    /// The block's kept index (`u64::MAX`: none) and its adjusted count.
    keep_at: AtomicU64,
    adjusted: AtomicU64,
    /// First index of the block.
    start: AtomicU64,
    /// Indices used in this slot's earlier blocks for `site`, and records
    /// kept of all its blocks: the slot sampled out
    /// `used + (next - start) - kept` calls not yet moved to the site.
    used: AtomicU64,
    kept: AtomicU64,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            site_id: AtomicU32::new(0),
            end: AtomicU64::new(0),
            keep_at: AtomicU64::new(u64::MAX),
            adjusted: AtomicU64::new(0),
            start: AtomicU64::new(0),
            used: AtomicU64::new(0),
            kept: AtomicU64::new(0),
        }
    }

    /// Calls sampled out through this slot (`hot` its hot part) and not
    /// yet moved to its site.
    fn out(&self, hot: &HotSlot) -> u64 {
        let in_block = hot
            .next
            .load(Relaxed)
            .saturating_sub(self.start.load(Relaxed));
        (self.used.load(Relaxed) + in_block).saturating_sub(self.kept.load(Relaxed))
    }
}

/// A thread's blocks of call-site indices: the per-thread path of the call
/// site sampler.
///
/// A thread takes a block of `thereafter` consecutive indices of a call
/// site's period with one `fetch_add` and decides the block's calls from its
/// own slot (a compare, a store; the kept index is computed once per block),
/// so a sampled-out call pays no locked instruction. The first `first`
/// indices of a period are still taken one at a time, so the first N of a
/// period are exactly the first N calls across threads. What differs from
/// the shared path: a block belongs to the period it was taken in, and
/// indices left unused when the period ends (or the slot goes to another
/// call site) are not used, so a site keeps at most one record fewer per
/// thread and period than every `thereafter`-th; a policy change reaches a
/// block at its end (at most `thereafter` calls) or at the period's end.
/// Slots are direct-mapped by call site id; a site meeting another in its
/// slot takes it over, moving the other's count into that site's counter.
#[derive(Debug)]
pub(crate) struct ThreadSlots {
    hot: [HotSlot; THREAD_SLOTS],
    slots: [Slot; THREAD_SLOTS],
}

impl ThreadSlots {
    pub(crate) const fn new() -> ThreadSlots {
        ThreadSlots {
            hot: [const { HotSlot::new() }; THREAD_SLOTS],
            slots: [const { Slot::new() }; THREAD_SLOTS],
        }
    }

    /// [`SiteCounter::sample`] for the calling thread (the owner of this
    /// table), for a call whose level's policy (`policy`, read only when a
    /// block runs out) is not keep-all: `site` is the call site's counter,
    /// `id` its call site id. Must only be called by the thread that owns
    /// the table.
    #[inline(always)]
    pub(crate) fn sample(
        &self,
        id: u32,
        site: &'static SiteCounter,
        now: u64,
        policy: impl FnOnce() -> LogPolicy,
    ) -> u64 {
        let i = id as usize % THREAD_SLOTS;
        let hot = &self.hot[i];
        let n = hot.next.load(Relaxed);
        if std::ptr::eq(hot.site.load(Relaxed), site)
            && n < hot.stop.load(Relaxed)
            && now < hot.period_end.load(Relaxed)
        {
            // Sampled out: one store of the thread's own.
            hot.next.store(n + 1, Relaxed);
            return 0;
        }
        self.slow(id, site, now, &policy())
    }

    /// A call the fast path did not settle: the block's kept index, or a
    /// new block (and the slot, if another site held it).
    #[cold]
    #[inline(never)]
    fn slow(&self, id: u32, site: &'static SiteCounter, now: u64, policy: &LogPolicy) -> u64 {
        let i = id as usize % THREAD_SLOTS;
        let (hot, slot) = (&self.hot[i], &self.slots[i]);
        let n = hot.next.load(Relaxed);
        if std::ptr::eq(hot.site.load(Relaxed), site)
            && n < slot.end.load(Relaxed)
            && now < hot.period_end.load(Relaxed)
        {
            // The block's kept index (`stop` is at it).
            hot.next.store(n + 1, Relaxed);
            if n == slot.keep_at.load(Relaxed) {
                hot.stop.store(slot.end.load(Relaxed), Relaxed);
                return Self::keep(slot, site, slot.adjusted.load(Relaxed));
            }
            return 0;
        }
        Self::refill(hot, slot, id, site, now, policy)
    }

    fn keep(slot: &Slot, site: &SiteCounter, adjusted: u64) -> u64 {
        slot.kept.store(slot.kept.load(Relaxed) + 1, Relaxed);
        site.kept.fetch_add(1, Relaxed);
        adjusted
    }

    /// Takes a new block for `site` (and the slot, if another site held
    /// it), then decides the call with its first index.
    fn refill(
        hot: &HotSlot,
        slot: &Slot,
        id: u32,
        site: &'static SiteCounter,
        now: u64,
        policy: &LogPolicy,
    ) -> u64 {
        let held = hot.site.load(Relaxed);
        let used = slot.used.load(Relaxed)
            + hot
                .next
                .load(Relaxed)
                .saturating_sub(slot.start.load(Relaxed));
        if std::ptr::eq(held, site) {
            slot.used.store(used, Relaxed);
        } else {
            let out = used.saturating_sub(slot.kept.load(Relaxed));
            if !held.is_null() {
                // SAFETY: `site` pointers stored in a slot come only from
                // `&'static SiteCounter` (below), so `held` is valid for ever.
                let held: &'static SiteCounter = unsafe { &*held };
                held.add_sampled_out(out);
            }
            slot.used.store(0, Relaxed);
            slot.kept.store(0, Relaxed);
            hot.site.store(std::ptr::from_ref(site).cast_mut(), Relaxed);
            slot.site_id.store(id, Relaxed);
        }
        // The old block is closed: nothing of it is left to count.
        slot.start.store(hot.next.load(Relaxed), Relaxed);
        slot.end.store(0, Relaxed);
        hot.stop.store(0, Relaxed);
        if policy.is_keep_all() {
            // A reload made it keep-all since the caller looked.
            return 1;
        }
        site.roll_if_due(now, policy.period);
        let first = policy.first;
        if site.count.load(Relaxed) < first {
            // The first N of a period go one at a time on the shared path
            // (which counts them), so they are exactly the first N calls.
            return site.sample(now, policy);
        }
        let period_end = if policy.period == 0 {
            u64::MAX
        } else {
            site.period_end.load(Relaxed)
        };
        let m = policy.thereafter;
        let want = if m == 0 { MAX_BLOCK } else { m.min(MAX_BLOCK) };
        let start = site.count.fetch_add(want, Relaxed).wrapping_add(1);
        // Within the first N (the count was reset since it was read), only
        // the first index is used.
        let end = if start <= first {
            start + 1
        } else {
            start.saturating_add(want)
        };
        let (keep_at, adjusted) = if start <= first {
            (start, 1)
        } else if m == 0 {
            (u64::MAX, 0)
        } else {
            let r = (start - first) % m;
            let k = if r == 0 { start } else { start + (m - r) };
            if k < end { (k, m) } else { (u64::MAX, 0) }
        };
        // `start` before `next`, so a stats reader sees `next - start`
        // small, never a stale block's span.
        slot.start.store(start, Relaxed);
        hot.next.store(start + 1, Relaxed);
        slot.end.store(end, Relaxed);
        slot.keep_at.store(keep_at, Relaxed);
        slot.adjusted.store(adjusted, Relaxed);
        hot.period_end.store(period_end, Relaxed);
        if start == keep_at {
            hot.stop.store(end, Relaxed);
            return Self::keep(slot, site, adjusted);
        }
        hot.stop.store(keep_at.min(end), Relaxed);
        0
    }

    /// Each held slot's call site id and the calls it sampled out and has
    /// not moved into its site's counter.
    pub(crate) fn pending(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.slots.iter().zip(self.hot.iter()).filter_map(|(s, h)| {
            let id = s.site_id.load(Relaxed);
            let out = s.out(h);
            (id != 0 && out != 0).then_some((id, out))
        })
    }
}

impl Default for SiteCounter {
    fn default() -> Self {
        SiteCounter::new()
    }
}

/// One level's policy, field by field in atomics.
#[derive(Debug)]
struct PolicyCell {
    first: AtomicU64,
    thereafter: AtomicU64,
    period: AtomicU64,
}

impl PolicyCell {
    const fn new(p: LogPolicy) -> PolicyCell {
        PolicyCell {
            first: AtomicU64::new(p.first),
            thereafter: AtomicU64::new(p.thereafter),
            period: AtomicU64::new(p.period),
        }
    }
}

/// Per-level policies in atomics (6 levels: `TRACE = 0`, `DEBUG = 1`,
/// `INFO = 2`, `WARN = 3`, `ERROR = 4`, `FATAL = 5`), changeable at runtime
/// without a lock (a reload): [`LevelPolicies::get`] is three relaxed loads.
///
/// All levels start as [`LogPolicy::KEEP_ALL`], so ERROR and FATAL are
/// always kept unless the user sets them ([`LevelPolicies::set_below_error`]
/// sets the others). A `get` racing a `set` may see a mix of the old and new
/// fields for that one call; [`SiteCounter`]'s accounting stays exact
/// regardless, since it counts actual decisions.
#[derive(Debug)]
pub struct LevelPolicies {
    levels: [PolicyCell; LEVELS],
}

impl LevelPolicies {
    /// Every level [`LogPolicy::KEEP_ALL`].
    #[must_use]
    pub const fn new() -> Self {
        LevelPolicies {
            levels: [const { PolicyCell::new(LogPolicy::KEEP_ALL) }; LEVELS],
        }
    }

    /// Sets the policy of `level` (`0..6`); an out-of-range level is ignored.
    pub fn set(&self, level: usize, p: LogPolicy) {
        if let Some(cell) = self.levels.get(level) {
            cell.first.store(p.first, Relaxed);
            cell.thereafter.store(p.thereafter, Relaxed);
            cell.period.store(p.period, Relaxed);
        }
    }

    /// Sets the policy of TRACE, DEBUG, INFO and WARN, leaving ERROR and
    /// FATAL as they are.
    pub fn set_below_error(&self, p: LogPolicy) {
        for level in 0..ERROR {
            self.set(level, p);
        }
    }

    /// The policy of `level`; [`LogPolicy::KEEP_ALL`] for an out-of-range
    /// level.
    #[inline]
    #[must_use]
    pub fn get(&self, level: usize) -> LogPolicy {
        match self.levels.get(level) {
            Some(cell) => LogPolicy {
                first: cell.first.load(Relaxed),
                thereafter: cell.thereafter.load(Relaxed),
                period: cell.period.load(Relaxed),
            },
            None => LogPolicy::KEEP_ALL,
        }
    }
}

impl Default for LevelPolicies {
    fn default() -> Self {
        LevelPolicies::new()
    }
}

/// Splits `value` into trimmed `key=value` pairs separated by commas (empty
/// parts are skipped) and hands each to `f`, stopping at the first error.
fn for_each_pair(
    value: &str,
    mut f: impl FnMut(&str, &str) -> Result<(), String>,
) -> Result<(), String> {
    for part in value.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((key, val)) = part.split_once('=') else {
            return Err(format!("expected key=value, got '{part}'"));
        };
        f(key.trim(), val.trim())?;
    }
    Ok(())
}

/// Marks `key` (bit `bit` of `seen`) as seen; an error if it already was.
fn once(seen: &mut u8, bit: u8, key: &str) -> Result<(), String> {
    if *seen & bit != 0 {
        return Err(format!("duplicate key '{key}'"));
    }
    *seen |= bit;
    Ok(())
}

/// Parses an unsigned decimal integer; the error names `name` and the text.
fn parse_int(name: &str, s: &str) -> Result<u64, String> {
    s.parse::<u64>().map_err(|e| match e.kind() {
        IntErrorKind::PosOverflow => format!("{name}: too large: '{s}'"),
        _ => format!("{name}: not a number: '{s}'"),
    })
}

/// Splits `s` into its leading ASCII digits and the trimmed rest (the unit).
fn split_number(s: &str) -> (&str, &str) {
    let i = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(i);
    (digits, unit.trim())
}

/// Parses `<integer>[unit]` where `units` maps a (case-insensitive) unit to
/// its multiplier and `default` is the multiplier without a unit.
fn parse_scaled(
    name: &str,
    s: &str,
    units: &[(&str, u64)],
    default: u64,
    expected: &str,
) -> Result<u64, String> {
    let (digits, unit) = split_number(s);
    if digits.is_empty() {
        return Err(format!("{name}: not a number: '{s}'"));
    }
    let n = parse_int(name, digits).map_err(|_| format!("{name}: too large: '{s}'"))?;
    let mult = if unit.is_empty() {
        default
    } else {
        match units.iter().find(|(u, _)| u.eq_ignore_ascii_case(unit)) {
            Some(&(_, m)) => m,
            None => {
                return Err(format!(
                    "{name}: unknown unit '{unit}' in '{s}' (expected {expected})"
                ));
            }
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{name}: too large: '{s}'"))
}

/// Duration units and their length in nanoseconds.
const DURATION_UNITS: [(&str, u64); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("h", 3_600 * NANOS_PER_SEC),
];

/// Parses a size, `<integer>[unit]` with the units of [`parse_buffer_env`]'s
/// `bytes` (`B`, `KB`, `KiB`, `MB`, `MiB`, `GB`, `GiB`; none: bytes). The
/// configuration file's sizes use it.
#[cfg_attr(not(feature = "config-file"), allow(dead_code))]
pub(crate) fn parse_size(name: &str, s: &str) -> Result<u64, String> {
    parse_scaled(
        name,
        s.trim(),
        &SIZE_UNITS,
        1,
        "B, KB, KiB, MB, MiB, GB or GiB",
    )
}

/// Parses a duration in nanoseconds, `<integer>[unit]` with the units of
/// [`parse_sampling_env`]'s `period` (`ns`, `us`, `ms`, `s`, `m`, `h`;
/// none: seconds). The configuration file's durations use it.
#[cfg_attr(not(feature = "config-file"), allow(dead_code))]
pub(crate) fn parse_duration_ns(name: &str, s: &str) -> Result<u64, String> {
    parse_scaled(
        name,
        s.trim(),
        &DURATION_UNITS,
        NANOS_PER_SEC,
        "ns, us, ms, s, m or h",
    )
}

/// Parses the environment value `first=100,thereafter=100,period=1s`, returning
/// a policy with `period` in nanoseconds, or an error naming the bad part
/// (`"thereafter: not a number: 'x'"`, `"unknown key 'frist' (…)"`).
///
/// Keys (case-insensitive) come in any order, at most once each, separated by
/// commas; each is optional, with the defaults of [`LogPolicy::DEFAULT`]
/// (`first=100`, `thereafter=100`, `period=1s`); an empty value gives the
/// defaults. `first` and `thereafter` are unsigned integers. `period` is an
/// unsigned integer with an optional unit `ns`, `us`, `ms`, `s`, `m` or `h`;
/// a plain integer is **seconds**. `period=0` means the counters never reset.
/// Never panics.
///
/// # Errors
///
/// A message naming the bad key or value.
pub fn parse_sampling_env(value: &str) -> Result<LogPolicy, String> {
    let mut p = LogPolicy::DEFAULT;
    let mut seen = 0u8;
    for_each_pair(value, |key, val| {
        if key.eq_ignore_ascii_case("first") {
            once(&mut seen, 1, key)?;
            p.first = parse_int("first", val)?;
        } else if key.eq_ignore_ascii_case("thereafter") {
            once(&mut seen, 2, key)?;
            p.thereafter = parse_int("thereafter", val)?;
        } else if key.eq_ignore_ascii_case("period") {
            once(&mut seen, 4, key)?;
            p.period = parse_scaled(
                "period",
                val,
                &DURATION_UNITS,
                NANOS_PER_SEC,
                "ns, us, ms, s, m or h",
            )?;
        } else {
            return Err(format!(
                "unknown key '{key}' (expected first, thereafter or period)"
            ));
        }
        Ok(())
    })?;
    Ok(p)
}

/// Default records buffered per unsampled trace ([`parse_buffer_env`]).
pub const DEFAULT_BUFFER_RECORDS: usize = 64;
/// Default bytes of the debug buffer ([`parse_buffer_env`]): 8 MiB.
pub const DEFAULT_BUFFER_BYTES: usize = 8 << 20;

/// Size units and their multipliers (KB = 1000, KiB = 1024).
const SIZE_UNITS: [(&str, u64); 7] = [
    ("b", 1),
    ("kb", 1_000),
    ("kib", 1 << 10),
    ("mb", 1_000_000),
    ("mib", 1 << 20),
    ("gb", 1_000_000_000),
    ("gib", 1 << 30),
];

/// Parses `records=64,bytes=8MiB` for the debug buffer, returning
/// `(records per trace, bytes)`, or an error naming the bad part.
///
/// Keys (case-insensitive) come in any order, at most once each; each is
/// optional, with defaults [`DEFAULT_BUFFER_RECORDS`] (64) and
/// [`DEFAULT_BUFFER_BYTES`] (8 MiB). `records` is an unsigned integer;
/// `bytes` an unsigned integer with an optional case-insensitive unit `B`,
/// `KB`, `MB`, `GB` (powers of 1000) or `KiB`, `MiB`, `GiB` (powers of 1024);
/// a plain integer is bytes. Never panics.
///
/// # Errors
///
/// A message naming the bad key or value.
pub fn parse_buffer_env(value: &str) -> Result<(usize, usize), String> {
    let mut records = DEFAULT_BUFFER_RECORDS;
    let mut bytes = DEFAULT_BUFFER_BYTES;
    let mut seen = 0u8;
    for_each_pair(value, |key, val| {
        if key.eq_ignore_ascii_case("records") {
            once(&mut seen, 1, key)?;
            records = to_usize("records", val, parse_int("records", val)?)?;
        } else if key.eq_ignore_ascii_case("bytes") {
            once(&mut seen, 2, key)?;
            let n = parse_scaled(
                "bytes",
                val,
                &SIZE_UNITS,
                1,
                "B, KB, KiB, MB, MiB, GB or GiB",
            )?;
            bytes = to_usize("bytes", val, n)?;
        } else {
            return Err(format!("unknown key '{key}' (expected records or bytes)"));
        }
        Ok(())
    })?;
    Ok((records, bytes))
}

/// `n` as a `usize`, or an error naming `name` and the text `s`.
fn to_usize(name: &str, s: &str, n: u64) -> Result<usize, String> {
    usize::try_from(n).map_err(|_| format!("{name}: too large: '{s}'"))
}

/// What happens to records of an unsampled trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsampled {
    /// They are sampled out.
    Drop,
    /// They are kept (subject to their level's [`LogPolicy`]).
    Keep,
    /// They are held in the debug buffer and written only if an error
    /// arrives in the same trace.
    Buffer,
}

/// Parses `drop`, `keep` or `buffer` (case-insensitive, trimmed), or returns
/// an error naming the bad value. Never panics.
///
/// # Errors
///
/// A message naming the bad key or value.
pub fn parse_unsampled_env(value: &str) -> Result<Unsampled, String> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("drop") {
        Ok(Unsampled::Drop)
    } else if v.eq_ignore_ascii_case("keep") {
        Ok(Unsampled::Keep)
    } else if v.eq_ignore_ascii_case("buffer") {
        Ok(Unsampled::Buffer)
    } else {
        Err(format!(
            "unknown value '{v}' (expected drop, keep or buffer)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call site's counter and the level policies live in `static`s.
    static SITE: SiteCounter = SiteCounter::new();
    static POLICIES: LevelPolicies = LevelPolicies::new();

    /// Brute force: kept count of the first `c` calls under the rule.
    fn brute_kept(c: u64, first: u64, thereafter: u64) -> u64 {
        let p = LogPolicy::new(first, thereafter, 0);
        (1..=c).filter(|&n| p.decide(n) != 0).count() as u64
    }

    use crate::sampler::test_rng::SplitMix as Rng;

    #[test]
    fn kept_sequence_first3_thereafter4() {
        let site = SiteCounter::new();
        let p = LogPolicy::new(3, 4, 1_000);
        let mut kept = Vec::new();
        for n in 1..=20u64 {
            let a = site.sample(5, &p);
            if a != 0 {
                kept.push((n, a));
            }
        }
        assert_eq!(
            kept,
            vec![(1, 1), (2, 1), (3, 1), (7, 4), (11, 4), (15, 4), (19, 4)]
        );
        assert_eq!(site.kept(), 7);
        assert_eq!(site.sampled_out(), 13);
        assert_eq!(site.calls(), 20);
    }

    #[test]
    fn kept_of_matches_brute_force() {
        let cases = [
            (0, 0),
            (0, 1),
            (0, 3),
            (1, 0),
            (1, 1),
            (3, 4),
            (5, 0),
            (5, 1),
            (10, 7),
            (100, 100),
            (999, 2),
            (2000, 5),
        ];
        for (first, thereafter) in cases {
            let p = LogPolicy::new(first, thereafter, 0);
            let mut count = 0;
            for c in 0..1000u64 {
                // Incremental brute force: count(c) = count(c-1) + [c kept].
                if c > 0 && p.decide(c) != 0 {
                    count += 1;
                }
                assert_eq!(
                    kept_of(c, first, thereafter),
                    count,
                    "c={c} first={first} thereafter={thereafter}"
                );
            }
            assert_eq!(
                kept_of(999, first, thereafter),
                brute_kept(999, first, thereafter)
            );
        }
        assert_eq!(kept_of(u64::MAX, 0, 1), u64::MAX);
        assert_eq!(kept_of(u64::MAX, 10, 0), 10);
        assert_eq!(kept_of(u64::MAX, u64::MAX, 0), u64::MAX);
    }

    #[test]
    fn decide_values() {
        let p = LogPolicy::new(2, 0, 10);
        assert_eq!(
            (1..=6).map(|n| p.decide(n)).collect::<Vec<_>>(),
            [1, 1, 0, 0, 0, 0]
        );
        let p = LogPolicy::new(0, 3, 10);
        assert_eq!(
            (1..=7).map(|n| p.decide(n)).collect::<Vec<_>>(),
            [0, 0, 3, 0, 0, 3, 0]
        );
        let p = LogPolicy::new(0, 0, 10);
        assert_eq!(p.decide(1), 0);
        assert_eq!(p.decide(u64::MAX), 0);
    }

    #[test]
    fn rollover_resets() {
        let site = SiteCounter::new();
        let p = LogPolicy::new(2, 0, 10);
        let at = |now| (0..5).map(|_| site.sample(now, &p)).collect::<Vec<_>>();
        assert_eq!(at(0), [1, 1, 0, 0, 0]);
        assert_eq!(at(9), [0, 0, 0, 0, 0]);
        assert_eq!(at(10), [1, 1, 0, 0, 0]); // period [10, 20)
        assert_eq!(at(19), [0, 0, 0, 0, 0]);
        assert_eq!(at(45), [1, 1, 0, 0, 0]); // long idle: period [45, 55)
        assert_eq!(at(50), [0, 0, 0, 0, 0]);
        // A clock that goes backwards does not start a period.
        assert_eq!(at(3), [0, 0, 0, 0, 0]);
        assert_eq!(site.kept(), 6);
        assert_eq!(site.sampled_out(), 29);
        assert_eq!(site.calls(), 35);
    }

    #[test]
    fn period_zero_never_resets() {
        let site = SiteCounter::new();
        let p = LogPolicy::new(1, 0, 0);
        assert_eq!(site.sample(0, &p), 1);
        assert_eq!(site.sample(1_000_000, &p), 0);
        assert_eq!(site.sample(u64::MAX, &p), 0);
        assert_eq!(site.kept(), 1);
        assert_eq!(site.sampled_out(), 2);
        // Switching to a finite period rolls at the next call.
        let q = LogPolicy::new(1, 0, 10);
        assert_eq!(site.sample(5, &q), 1);
        assert_eq!(site.sample(6, &q), 0);
        assert_eq!(site.sample(15, &q), 1);
        assert_eq!(site.calls(), 6);
    }

    #[test]
    fn clock_at_max_does_not_overflow() {
        let site = SiteCounter::new();
        let p = LogPolicy::new(1, 0, u64::MAX);
        assert_eq!(site.sample(u64::MAX - 1, &p), 1);
        assert_eq!(site.sample(u64::MAX - 1, &p), 0);
        assert_eq!(site.sample(u64::MAX, &p), 1); // now >= saturated end
        assert_eq!(site.calls(), 3);
        assert_eq!(site.sampled_out(), 1);
    }

    #[test]
    fn adjusted_counts_extrapolate_exactly_on_full_strides() {
        let site = SiteCounter::new();
        let p = LogPolicy::new(10, 5, 100);
        // One period of 10 + 7 * 5 calls: the adjusted counts sum to it.
        let calls = 10 + 7 * 5;
        let sum: u64 = (0..calls).map(|_| site.sample(0, &p)).sum();
        assert_eq!(sum, calls);
        assert_eq!(site.kept(), 17);
        assert_eq!(site.kept(), kept_of(calls, 10, 5));
        // The every-Mth ones carry `thereafter`.
        let site = SiteCounter::new();
        let adj: Vec<u64> = (0..20)
            .map(|_| site.sample(0, &p))
            .filter(|&a| a != 0)
            .collect();
        assert_eq!(adj, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 5]);
    }

    #[test]
    fn per_period_is_in_nanoseconds() {
        use std::time::Duration;
        assert_eq!(
            LogPolicy::per_period(100, 100, Duration::from_secs(1)),
            LogPolicy::DEFAULT
        );
        assert_eq!(LogPolicy::per_period(1, 2, Duration::MAX).period, u64::MAX);
    }

    #[test]
    fn keep_all() {
        assert!(LogPolicy::KEEP_ALL.is_keep_all());
        assert!(LogPolicy::new(0, 1, 5).is_keep_all());
        assert!(LogPolicy::new(u64::MAX, 0, 5).is_keep_all());
        assert!(!LogPolicy::new(5, 0, 5).is_keep_all());
        assert!(!LogPolicy::DEFAULT.is_keep_all());
        for n in [1, 2, 1000, u64::MAX] {
            assert_eq!(LogPolicy::KEEP_ALL.decide(n), 1);
        }
        for i in 0..100 {
            assert_eq!(SITE.sample(i, &LogPolicy::KEEP_ALL), 1);
        }
        // Keep-all calls bypass the counter.
        assert_eq!(SITE.calls(), 0);
        assert_eq!(SITE.sampled_out(), 0);
    }

    #[test]
    fn accounting_single_thread_across_periods() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for (first, thereafter, period) in [(3, 4, 13), (0, 0, 7), (5, 2, 3), (2, 3, 1), (1, 2, 0)]
        {
            let p = LogPolicy::new(first, thereafter, period);
            let site = SiteCounter::new();
            let (mut calls, mut kept) = (0u64, 0u64);
            // Expected by simulation: per period, calls counted from 1.
            let (mut expected_kept, mut in_period, mut end) = (0u64, 0u64, 0u64);
            let mut now = 0u64;
            for _ in 0..10_000 {
                now += rng.below(3); // deterministic, sometimes standing still
                if period != 0 && now >= end {
                    expected_kept += kept_of(in_period, first, thereafter);
                    in_period = 0;
                    end = now + period;
                }
                in_period += 1;
                let a = site.sample(now, &p);
                assert_eq!(a, p.decide(in_period));
                calls += 1;
                kept += u64::from(a != 0);
            }
            expected_kept += kept_of(in_period, first, thereafter);
            assert_eq!(site.kept(), kept);
            assert_eq!(kept, expected_kept, "{p:?}");
            assert_eq!(site.calls(), calls);
            assert_eq!(site.kept() + site.sampled_out(), calls);
            assert_eq!(site.sampled_out(), calls - kept);
        }
    }

    #[test]
    fn accounting_survives_policy_changes() {
        let site = SiteCounter::new();
        let policies = [
            LogPolicy::new(3, 4, 10),
            LogPolicy::new(0, 0, 10),
            LogPolicy::new(1, 2, 5),
            LogPolicy::KEEP_ALL,
        ];
        let (mut counted, mut kept) = (0u64, 0u64);
        for i in 0..5_000u64 {
            let p = policies[(i % 7 % 4) as usize];
            let a = site.sample(i / 3, &p);
            if !p.is_keep_all() {
                counted += 1;
                kept += u64::from(a != 0);
            }
        }
        assert_eq!(site.calls(), counted);
        assert_eq!(site.kept(), kept);
        assert_eq!(site.sampled_out(), counted - kept);
    }

    /// `run(0)` and `run(1)` on two threads at once.
    fn on_two_threads<R: Send>(run: impl Fn(u64) -> R + Sync) -> (R, R) {
        std::thread::scope(|s| {
            let ha = s.spawn(|| run(0));
            let hb = s.spawn(|| run(1));
            (ha.join().unwrap(), hb.join().unwrap())
        })
    }

    /// A counter for `ThreadSlots`, which takes `&'static` ones.
    fn leaked_site() -> &'static SiteCounter {
        Box::leak(Box::new(SiteCounter::new()))
    }

    #[test]
    fn one_thread_blocks_decide_as_the_shared_path() {
        // One thread uses its blocks to the end (within a period), so its
        // decisions are the shared path's call for call, periods included.
        for (first, thereafter) in [
            (0, 0),
            (0, 2),
            (1, 3),
            (5, 7),
            (3, 0),
            (2, 5000),
            (100, 100),
        ] {
            for period in [0u64, 37] {
                let p = LogPolicy::new(first, thereafter, period);
                let (shared, blocks) = (leaked_site(), leaked_site());
                let slots = ThreadSlots::new();
                let mut kept = 0;
                for i in 0..20_000u64 {
                    let now = i / 3;
                    let a = shared.sample(now, &p);
                    let b = slots.sample(9, blocks, now, || p);
                    assert_eq!(a, b, "call {i} of {p:?}");
                    kept += u64::from(b != 0);
                }
                let pending: u64 = slots
                    .pending()
                    .map(|(id, n)| {
                        assert_eq!(id, 9);
                        n
                    })
                    .sum();
                assert_eq!(blocks.kept(), kept);
                assert_eq!(blocks.sampled_out() + pending, 20_000 - kept);
                assert_eq!(shared.kept(), blocks.kept());
            }
        }
    }

    /// One step of [`blocks_count_every_call_once_whatever_happens`]: a
    /// call at a site (0..4; sites 0 and 1 share a slot, as do 2 and 3),
    /// the clock moved on, or a policy changed.
    #[derive(Clone, Debug)]
    enum Step {
        Call(usize),
        Advance(u64),
        Policy(u64, u64, u64),
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            8 => (0usize..4).prop_map(Step::Call),
            1 => (0u64..40).prop_map(Step::Advance),
            1 => (0u64..4, 0u64..5, 0u64..30).prop_map(|(f, t, p)| Step::Policy(f, t, p)),
        ]
    }

    proptest::proptest! {
        /// Whatever the calls, slot take-overs, period ends and policy
        /// changes (to and from keep-all included), every call decided under
        /// a sampling policy is counted once: kept in the site, sampled out in the
        /// site or its slot; and a kept record's adjusted count is 1 or the
        /// policy's `thereafter` at the time its block was taken.
        #[test]
        fn blocks_count_every_call_once_whatever_happens(
            steps in proptest::collection::vec(step(), 1..400),
        ) {
            let sites: Vec<&'static SiteCounter> = (0..4).map(|_| leaked_site()).collect();
            let ids = [5u32, 5 + THREAD_SLOTS as u32, 9, 9 + THREAD_SLOTS as u32];
            let slots = ThreadSlots::new();
            let mut policy = LogPolicy::new(2, 3, 10);
            let mut thereafters = vec![3u64];
            let mut now = 0u64;
            let (mut counted, mut kept) = ([0u64; 4], [0u64; 4]);
            for s in &steps {
                match *s {
                    // As the engine: a keep-all level never reaches the
                    // sampler (its bit in the mode word is clear).
                    Step::Call(_) if policy.is_keep_all() => {}
                    Step::Call(i) => {
                        let a = slots.sample(ids[i], sites[i], now, || policy);
                        counted[i] += 1;
                        if a != 0 {
                            kept[i] += 1;
                            proptest::prop_assert!(a == 1 || thereafters.contains(&a), "adjusted {}", a);
                        }
                    }
                    Step::Advance(d) => now += d,
                    Step::Policy(f, t, p) => {
                        policy = LogPolicy::new(f, t, p);
                        thereafters.push(t);
                    }
                }
            }
            let pending: Vec<(u32, u64)> = slots.pending().collect();
            for i in 0..4 {
                let held: u64 = pending.iter().filter(|p| p.0 == ids[i]).map(|p| p.1).sum();
                proptest::prop_assert_eq!(sites[i].kept(), kept[i], "site {}", i);
                proptest::prop_assert_eq!(
                    sites[i].kept() + sites[i].sampled_out() + held,
                    counted[i],
                    "site {}", i
                );
            }
        }
    }

    #[test]
    fn a_slot_taken_over_moves_its_count_to_its_site() {
        // Ids 3 and 3 + THREAD_SLOTS share a slot; alternating calls take it
        // from each other, and nothing is lost.
        let p = LogPolicy::new(1, 4, 0);
        let (a, b) = (leaked_site(), leaked_site());
        let slots = ThreadSlots::new();
        let mut kept = [0u64; 2];
        for i in 0..1_000u64 {
            let (id, site, k) = if i % 3 == 0 {
                (3, a, 0)
            } else {
                (3 + THREAD_SLOTS as u32, b, 1)
            };
            kept[k] += u64::from(slots.sample(id, site, 0, || p) != 0);
        }
        let pending: Vec<(u32, u64)> = slots.pending().collect();
        let held = |id: u32| {
            pending
                .iter()
                .filter(|p| p.0 == id)
                .map(|p| p.1)
                .sum::<u64>()
        };
        assert_eq!(a.kept(), kept[0]);
        assert_eq!(b.kept(), kept[1]);
        assert_eq!(a.sampled_out() + held(3) + a.kept(), 334);
        assert_eq!(
            b.sampled_out() + held(3 + THREAD_SLOTS as u32) + b.kept(),
            666
        );
        // Each site's first call was kept; a site that loses its slot gives
        // up the rest of its block, so it keeps no more than every 4th.
        assert!(a.kept() >= 1 && a.kept() <= 1 + 333 / 4);
    }

    #[test]
    fn two_threads_blocks_count_every_call_once() {
        const ITERS: u64 = 200_000;
        let site = leaked_site();
        let p = LogPolicy::new(5, 7, 100);
        let run = |tid: u64| {
            let slots = ThreadSlots::new();
            let (mut kept, mut out) = (0u64, 0u64);
            for i in 0..ITERS {
                let now = i / 50 + tid;
                match slots.sample(1, site, now, || p) {
                    0 => out += 1,
                    a => {
                        assert!(a == 1 || a == 7);
                        kept += 1;
                    }
                }
            }
            let pending: u64 = slots.pending().map(|(_, n)| n).sum();
            (kept, out, pending)
        };
        let (a, b) = on_two_threads(run);
        assert_eq!(a.0 + a.1, ITERS);
        assert_eq!(b.0 + b.1, ITERS);
        assert_eq!(site.kept(), a.0 + b.0);
        // Sampled-out calls are counted once: in the slots, or in the site
        // (the first N of a period go through the shared path, and a call
        // there can come after the N were taken).
        assert_eq!(site.sampled_out() + a.2 + b.2, a.1 + b.1);
        // ~4000 periods of ~100 calls, 5 + 95/7 kept per period at most
        // (one fewer per thread and period when a block is left unused).
        assert!(site.kept() > 4_000 * 10 && site.kept() < 4_000 * 40);
    }

    #[test]
    fn accounting_two_threads() {
        const ITERS: u64 = 200_000;
        let site = SiteCounter::new();
        let p = LogPolicy::new(5, 7, 100);
        let run = |tid: u64| {
            let (mut kept, mut dropped, mut adjusted) = (0u64, 0u64, 0u64);
            for i in 0..ITERS {
                // Each thread's clock advances deterministically; the two
                // threads' clocks differ slightly, as real threads' do.
                let now = i / 50 + tid;
                match site.sample(now, &p) {
                    0 => dropped += 1,
                    a => {
                        kept += 1;
                        adjusted += a;
                    }
                }
            }
            (kept, dropped, adjusted)
        };
        let (a, b) = on_two_threads(run);
        assert_eq!(a.0 + a.1, ITERS);
        assert_eq!(b.0 + b.1, ITERS);
        assert_eq!(site.calls(), 2 * ITERS);
        assert_eq!(site.kept(), a.0 + b.0);
        assert_eq!(site.sampled_out(), a.1 + b.1);
        assert_eq!(site.kept() + site.sampled_out(), 2 * ITERS);
        // Both clocks cover ~4000 periods of ~100 calls each, ~18 kept per
        // period: far fewer than the calls, far more than one period's.
        assert!(site.kept() > 4_000 * 10 && site.kept() < 4_000 * 40);
        assert!(a.2 + b.2 > 0);
    }

    #[test]
    fn accounting_two_threads_with_reloads() {
        const ITERS: u64 = 100_000;
        let site = SiteCounter::new();
        let policies = LevelPolicies::new();
        policies.set(2, LogPolicy::new(2, 3, 10));
        let run = |tid: u64| {
            let (mut counted, mut dropped) = (0u64, 0u64);
            for i in 0..ITERS {
                if tid == 1 && i % 1000 == 0 {
                    // A reload in the middle of calls.
                    let k = i / 1000;
                    policies.set(2, LogPolicy::new(k % 4, k % 5, 1 + k % 20));
                }
                let p = policies.get(2);
                let a = site.sample(i / 7, &p);
                if !p.is_keep_all() {
                    counted += 1;
                    dropped += u64::from(a == 0);
                }
            }
            (counted, dropped)
        };
        let (a, b) = on_two_threads(run);
        assert_eq!(site.calls(), a.0 + b.0);
        assert_eq!(site.sampled_out(), a.1 + b.1);
        assert_eq!(site.kept() + site.sampled_out(), a.0 + b.0);
    }

    #[test]
    fn level_policies() {
        for level in 0..LEVELS {
            assert_eq!(POLICIES.get(level), LogPolicy::KEEP_ALL);
        }
        let lp = LevelPolicies::default();
        let p = LogPolicy::new(10, 20, 30);
        lp.set_below_error(p);
        for level in 0..4 {
            assert_eq!(lp.get(level), p);
        }
        assert_eq!(lp.get(4), LogPolicy::KEEP_ALL);
        assert_eq!(lp.get(5), LogPolicy::KEEP_ALL);
        let q = LogPolicy::new(1, 2, 3);
        lp.set(4, q);
        assert_eq!(lp.get(4), q);
        // Out of range: ignored / keep all, no panic.
        lp.set(6, q);
        lp.set(usize::MAX, q);
        assert_eq!(lp.get(6), LogPolicy::KEEP_ALL);
        assert_eq!(lp.get(usize::MAX), LogPolicy::KEEP_ALL);
    }

    #[test]
    fn sampling_env_valid() {
        assert_eq!(parse_sampling_env(""), Ok(LogPolicy::DEFAULT));
        assert_eq!(parse_sampling_env("  , ,"), Ok(LogPolicy::DEFAULT));
        assert_eq!(
            parse_sampling_env("first=100,thereafter=100,period=1s"),
            Ok(LogPolicy::new(100, 100, 1_000_000_000))
        );
        assert_eq!(
            parse_sampling_env(" period = 250ms , FIRST=5 "),
            Ok(LogPolicy::new(5, 100, 250_000_000))
        );
        assert_eq!(
            parse_sampling_env("thereafter=0"),
            Ok(LogPolicy::new(100, 0, 1_000_000_000))
        );
        let period = |s: &str| parse_sampling_env(&format!("period={s}")).map(|p| p.period);
        assert_eq!(period("2"), Ok(2_000_000_000));
        assert_eq!(period("0"), Ok(0));
        assert_eq!(period("7ns"), Ok(7));
        assert_eq!(period("7us"), Ok(7_000));
        assert_eq!(period("7µs"), Ok(7_000));
        assert_eq!(period("7ms"), Ok(7_000_000));
        assert_eq!(period("7 S"), Ok(7_000_000_000));
        assert_eq!(period("2m"), Ok(120_000_000_000));
        assert_eq!(period("1h"), Ok(3_600_000_000_000));
        assert_eq!(
            parse_sampling_env("first=18446744073709551615").map(|p| p.is_keep_all()),
            Ok(true)
        );
    }

    #[test]
    fn sampling_env_errors_name_the_bad_part() {
        let err = |s: &str| parse_sampling_env(s).unwrap_err();
        assert_eq!(err("thereafter=x"), "thereafter: not a number: 'x'");
        assert_eq!(err("first=-1"), "first: not a number: '-1'");
        assert_eq!(err("first="), "first: not a number: ''");
        assert_eq!(
            err("first=99999999999999999999"),
            "first: too large: '99999999999999999999'"
        );
        assert_eq!(
            err("frist=3"),
            "unknown key 'frist' (expected first, thereafter or period)"
        );
        assert_eq!(err("first=1,first=2"), "duplicate key 'first'");
        assert_eq!(err("first"), "expected key=value, got 'first'");
        assert_eq!(
            err("period=1.5s"),
            "period: unknown unit '.5s' in '1.5s' (expected ns, us, ms, s, m or h)"
        );
        assert_eq!(err("period=s"), "period: not a number: 's'");
        assert_eq!(
            err("period=5d"),
            "period: unknown unit 'd' in '5d' (expected ns, us, ms, s, m or h)"
        );
        assert_eq!(
            err("period=99999999999h"),
            "period: too large: '99999999999h'"
        );
        assert_eq!(
            err("period=99999999999999999999999ms"),
            "period: too large: '99999999999999999999999ms'"
        );
    }

    #[test]
    fn buffer_env() {
        assert_eq!(parse_buffer_env(""), Ok((64, 8 << 20)));
        assert_eq!(parse_buffer_env("records=64,bytes=8MiB"), Ok((64, 8 << 20)));
        assert_eq!(parse_buffer_env("bytes=100"), Ok((64, 100)));
        assert_eq!(parse_buffer_env("bytes=100B,records=3"), Ok((3, 100)));
        assert_eq!(parse_buffer_env("bytes=2KB"), Ok((64, 2_000)));
        assert_eq!(parse_buffer_env("bytes=2kib"), Ok((64, 2_048)));
        assert_eq!(parse_buffer_env("bytes=3 MB"), Ok((64, 3_000_000)));
        assert_eq!(parse_buffer_env("bytes=1GB"), Ok((64, 1_000_000_000)));
        assert_eq!(parse_buffer_env("bytes=1GiB"), Ok((64, 1 << 30)));
        assert_eq!(parse_buffer_env("records=0"), Ok((0, 8 << 20)));
        let err = |s: &str| parse_buffer_env(s).unwrap_err();
        assert_eq!(err("records=many"), "records: not a number: 'many'");
        assert_eq!(
            err("bytes=8XB"),
            "bytes: unknown unit 'XB' in '8XB' (expected B, KB, KiB, MB, MiB, GB or GiB)"
        );
        assert_eq!(err("bytes=MiB"), "bytes: not a number: 'MiB'");
        assert_eq!(
            err("bytes=99999999999999GiB"),
            "bytes: too large: '99999999999999GiB'"
        );
        assert_eq!(
            err("recs=1"),
            "unknown key 'recs' (expected records or bytes)"
        );
        assert_eq!(err("bytes=1,bytes=2"), "duplicate key 'bytes'");
        assert_eq!(err("records"), "expected key=value, got 'records'");
    }

    #[test]
    fn unsampled_env() {
        assert_eq!(parse_unsampled_env("drop"), Ok(Unsampled::Drop));
        assert_eq!(parse_unsampled_env(" KEEP\n"), Ok(Unsampled::Keep));
        assert_eq!(parse_unsampled_env("Buffer"), Ok(Unsampled::Buffer));
        assert_eq!(
            parse_unsampled_env(" bufer "),
            Err("unknown value 'bufer' (expected drop, keep or buffer)".to_string())
        );
        assert_eq!(
            parse_unsampled_env(""),
            Err("unknown value '' (expected drop, keep or buffer)".to_string())
        );
    }

    #[test]
    fn parsers_never_panic() {
        const TOKENS: [&str; 32] = [
            "first",
            "thereafter",
            "period",
            "records",
            "bytes",
            "=",
            ",",
            " ",
            "0",
            "1",
            "9",
            "18446744073709551615",
            "99999999999999999999",
            "-",
            "+",
            ".",
            "ms",
            "s",
            "h",
            "µs",
            "MiB",
            "GiB",
            "KB",
            "b",
            "x",
            "é",
            "\u{0}",
            "\t",
            "drop",
            "keep",
            "buffer",
            "ß",
        ];
        let mut rng = Rng(12345);
        let mut s = String::new();
        let (mut ok, mut errs) = (0u32, 0u32);
        for _ in 0..20_000 {
            s.clear();
            for _ in 0..rng.below(12) {
                if rng.below(4) == 0 {
                    // An arbitrary char, including multi-byte ones.
                    let c = char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('?');
                    s.push(c);
                } else {
                    s.push_str(TOKENS[rng.below(TOKENS.len() as u64) as usize]);
                }
            }
            for r in [
                parse_sampling_env(&s).map(|_| ()),
                parse_buffer_env(&s).map(|_| ()),
                parse_unsampled_env(&s).map(|_| ()),
            ] {
                match r {
                    Ok(()) => ok += 1,
                    Err(e) => {
                        assert!(!e.is_empty());
                        errs += 1;
                    }
                }
            }
        }
        assert!(ok > 0 && errs > 0, "ok={ok} errs={errs}");
    }
}
