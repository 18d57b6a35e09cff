//! Rate limits in bounded memory: the generic cell rate algorithm (GCRA).
//!
//! A limit of `r` per second with a burst of `b` is kept as one timestamp per
//! budget, the *theoretical arrival time* (TAT). With the emission interval
//! I = 1e9 / r ns and the burst tolerance τ = (b − 1)·I, a request at `t` is
//! refused if `t < TAT − τ`; otherwise it is admitted and
//! `TAT = max(t, TAT) + I`. This is the token bucket of Jaeger's rate limiter
//! (it starts full and refills continuously by elapsed time) written as a
//! single `u64` that one compare-exchange updates: no lock, no second word,
//! and sub-second rates (0.5/s) work like any other.
//!
//! * [`Gcra`] holds the parameters, in atomics so a reload can change them.
//! * [`Ceiling`] is one budget for everything (kept root traces per second).
//! * [`KeyedLimiter`] gives every key its own budget in a fixed table of
//!   2^k cells indexed by the key's hash: memory does not grow with the
//!   number of keys. Two keys that share a cell share its budget, which only
//!   ever refuses more, never admits more.
//! * [`KeyHasher`] hashes key parts (a span name, attribute values) without
//!   allocating.
//!
//! Time is passed in as monotonic nanoseconds (`now_ns`); nothing here reads
//! a clock. A bucket is full at any time after a cell's last use drains, and a
//! fresh cell (TAT = 0) is full, so the first `burst` requests are admitted.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

use std::cell::Cell;
use std::fmt;
use std::hash::Hasher;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Nanoseconds per second.
const NS_PER_SEC: f64 = 1e9;

/// The interval that stands for "no limit" (an infinite rate).
const INTERVAL_UNLIMITED: u64 = 0;

/// The interval that stands for "admit nothing" (a rate of zero, negative
/// or NaN).
const INTERVAL_NEVER: u64 = u64::MAX;

/// The longest finite emission interval and burst tolerance: 2^62 ns (about
/// 146 years). Keeping both below this bound keeps `now + τ` and
/// `TAT + I` from saturating for any `now` under 2^62 ns.
pub const MAX_SPAN_NS: u64 = 1 << 62;

/// Compare-exchange attempts per admission. Each failure means another
/// caller changed the same cell (admitted a request) in between; after this
/// many the request is refused rather than spinning, so contention can only
/// cause extra refusals, never extra admissions or unbounded latency.
pub const MAX_CAS_ATTEMPTS: u32 = 8;

/// How long a thread may hold requests it leased from a key's cell (see
/// [`KeyedLimiter::admit_leased`]): 1 ms. Unused ones are then given up.
pub const LEASE_WINDOW_NS: u64 = 1_000_000;

/// The most requests a thread leases from a cell at once.
pub const MAX_LEASE: u32 = 32;

/// Lease slots per thread (direct-mapped by limiter and cell).
const LEASE_SLOTS: usize = 64;

/// A thread's lease on one cell of one [`KeyedLimiter`].
struct Lease {
    /// `limiter id << 20 | cell` (cells are fewer than 2^20); 0: none.
    tag: Cell<u64>,
    /// Requests left to admit without taking from the cell.
    left: Cell<u32>,
    /// What the next lease on this cell asks for.
    size: Cell<u32>,
    /// The lease's end (monotonic ns).
    until: Cell<u64>,
}

impl Lease {
    const fn new() -> Lease {
        Lease {
            tag: Cell::new(0),
            left: Cell::new(0),
            size: Cell::new(1),
            until: Cell::new(0),
        }
    }
}

thread_local! {
    static LEASES: [Lease; LEASE_SLOTS] = const { [const { Lease::new() }; LEASE_SLOTS] };
}

/// The source of [`KeyedLimiter`] ids (0 is never one).
static NEXT_LIMITER_ID: AtomicU64 = AtomicU64::new(1);

/// The multiplier of Fibonacci hashing (2^64 / φ), used to spread key
/// hashes over table cells.
const FIB: u64 = 0x9E37_79B9_7F4A_7C15;

/// The emission interval of `per_second`, in ns: [`INTERVAL_NEVER`] for
/// zero, negative or NaN, [`INTERVAL_UNLIMITED`] for +∞, else rounded to
/// whole nanoseconds and kept in `1..=MAX_SPAN_NS` (rates above 1e9/s are
/// one per nanosecond; rates below ~1 per 146 years are that).
fn interval_of(per_second: f64) -> u64 {
    if per_second.is_nan() || per_second <= 0.0 {
        return INTERVAL_NEVER;
    }
    if per_second.is_infinite() {
        return INTERVAL_UNLIMITED;
    }
    let ns = (NS_PER_SEC / per_second).round();
    if ns >= MAX_SPAN_NS as f64 {
        MAX_SPAN_NS
    } else if ns < 1.0 {
        1
    } else {
        ns as u64
    }
}

/// The burst tolerance τ = (burst − 1)·I, a burst of 0 counting as 1, at
/// most [`MAX_SPAN_NS`]; 0 for the two special intervals.
fn tau_of(interval_ns: u64, burst: u32) -> u64 {
    if interval_ns == INTERVAL_UNLIMITED || interval_ns == INTERVAL_NEVER {
        return 0;
    }
    u64::from(burst.max(1) - 1)
        .saturating_mul(interval_ns)
        .min(MAX_SPAN_NS)
}

/// GCRA parameters (emission interval and burst tolerance), kept in atomics
/// so they can change at runtime (a reload) without a lock.
///
/// The two values are stored separately: an admission racing with
/// [`Gcra::set`] may see the new interval with the old tolerance (or the
/// reverse) once. That costs at most one request more or less, never a
/// panic.
#[derive(Debug)]
pub struct Gcra {
    interval_ns: AtomicU64,
    tau_ns: AtomicU64,
}

impl Gcra {
    /// Parameters for `per_second` requests per second with a burst of
    /// `burst` at once.
    ///
    /// `per_second` ≤ 0 or NaN admits nothing; +∞ admits everything; other
    /// values are rounded to a whole-nanosecond interval between 1 ns (rates
    /// above 1e9/s) and [`MAX_SPAN_NS`]. A `burst` of 0 counts as 1; the
    /// tolerance (burst − 1)·I is capped at [`MAX_SPAN_NS`].
    pub fn new(per_second: f64, burst: u32) -> Gcra {
        let interval = interval_of(per_second);
        Gcra {
            interval_ns: AtomicU64::new(interval),
            tau_ns: AtomicU64::new(tau_of(interval, burst)),
        }
    }

    /// Changes the parameters live (same rules as [`Gcra::new`]).
    ///
    /// Cells keep their TAT: a budget that was exhausted under the old
    /// parameters is admitted again once `now ≥ TAT − τ` under the new τ
    /// (at most the old burst's worth of old intervals later); every
    /// admission after that follows the new rate.
    pub fn set(&self, per_second: f64, burst: u32) {
        let interval = interval_of(per_second);
        self.tau_ns.store(tau_of(interval, burst), Relaxed);
        self.interval_ns.store(interval, Relaxed);
    }

    /// Admits one request at `now_ns` against `cell` (a TAT; a new cell
    /// holds 0, a full bucket).
    ///
    /// Lock-free: two relaxed loads of the parameters, one load of the
    /// cell and, when admitted, one compare-exchange (retried at most
    /// [`MAX_CAS_ATTEMPTS`] times when another caller changed the cell in
    /// between, then refused). Callers whose clocks differ a little (threads
    /// reading a monotonic clock at slightly different moments) are fine:
    /// a TAT never moves backwards, so n admissions over any set of times
    /// spanning Δ ns satisfy n ≤ ⌊Δ / I⌋ + burst.
    #[inline]
    pub fn admit(&self, cell: &AtomicU64, now_ns: u64) -> bool {
        let interval = self.interval_ns.load(Relaxed);
        if interval == INTERVAL_UNLIMITED {
            return true;
        }
        if interval == INTERVAL_NEVER {
            return false;
        }
        let tau = self.tau_ns.load(Relaxed);
        let limit = now_ns.saturating_add(tau);
        let mut tat = cell.load(Relaxed);
        for _ in 0..MAX_CAS_ATTEMPTS {
            if limit < tat {
                return false;
            }
            let next = tat.max(now_ns).saturating_add(interval);
            match cell.compare_exchange_weak(tat, next, Relaxed, Relaxed) {
                Ok(_) => return true,
                Err(current) => tat = current,
            }
        }
        false
    }

    /// Admits up to `n` requests at once at `now_ns` against `cell`: as
    /// many as the bucket holds, at most `n` (at least 1 is asked for), 0
    /// when it is empty. The same algorithm as [`Gcra::admit`], which it
    /// equals for `n = 1`: the requests are admitted at the same time, one
    /// interval apart in the TAT.
    pub fn admit_up_to(&self, cell: &AtomicU64, now_ns: u64, n: u32) -> u32 {
        let n = n.max(1);
        let interval = self.interval_ns.load(Relaxed);
        if interval == INTERVAL_UNLIMITED {
            return n;
        }
        if interval == INTERVAL_NEVER {
            return 0;
        }
        let tau = self.tau_ns.load(Relaxed);
        let limit = now_ns.saturating_add(tau);
        let mut tat = cell.load(Relaxed);
        for _ in 0..MAX_CAS_ATTEMPTS {
            if limit < tat {
                return 0;
            }
            // `tat ≤ limit` and `now ≤ limit`: the k-th request (from 0)
            // lands at `base + k·I`, admitted while that is ≤ `limit`.
            let base = tat.max(now_ns);
            let room = (limit - base) / interval + 1;
            let granted = room.min(u64::from(n));
            let next = base.saturating_add(interval.saturating_mul(granted));
            match cell.compare_exchange_weak(tat, next, Relaxed, Relaxed) {
                // `granted ≤ n`, a u32.
                Ok(_) => return granted as u32,
                Err(current) => tat = current,
            }
        }
        0
    }

    /// The most requests a thread leases at once (see
    /// [`KeyedLimiter::admit_leased`]): a quarter of the burst, one
    /// [`LEASE_WINDOW_NS`] of the rate, [`MAX_LEASE`], whichever is least,
    /// and at least 1 (1: no lease, every admission takes from the cell).
    pub fn lease_max(&self) -> u32 {
        let interval = self.interval_ns.load(Relaxed);
        if interval == INTERVAL_UNLIMITED || interval == INTERVAL_NEVER {
            return 1;
        }
        let burst = self.tau_ns.load(Relaxed) / interval + 1;
        (burst / 4)
            .min(LEASE_WINDOW_NS / interval)
            .min(u64::from(MAX_LEASE))
            .max(1) as u32
    }

    /// The emission interval I in ns: 0 when unlimited, `u64::MAX` when
    /// nothing is admitted.
    pub fn interval_ns(&self) -> u64 {
        self.interval_ns.load(Relaxed)
    }

    /// The burst tolerance τ = (burst − 1)·I in ns.
    pub fn tau_ns(&self) -> u64 {
        self.tau_ns.load(Relaxed)
    }

    /// The rate in effect, per second (after rounding the interval to whole
    /// nanoseconds): +∞ when unlimited, 0 when nothing is admitted.
    pub fn per_second(&self) -> f64 {
        match self.interval_ns() {
            INTERVAL_UNLIMITED => f64::INFINITY,
            INTERVAL_NEVER => 0.0,
            i => NS_PER_SEC / i as f64,
        }
    }

    /// The burst in effect: τ / I + 1 (1 when unlimited or admitting
    /// nothing; smaller than asked when τ was capped).
    pub fn burst(&self) -> u32 {
        match self.interval_ns() {
            INTERVAL_UNLIMITED | INTERVAL_NEVER => 1,
            i => u32::try_from(self.tau_ns() / i)
                .unwrap_or(u32::MAX)
                .saturating_add(1),
        }
    }
}

/// One budget for everything: e.g. a global ceiling of kept root traces per
/// second. Aligned to a cache line so that its hot TAT shares the line only
/// with its own parameters.
#[derive(Debug)]
#[repr(align(64))]
pub struct Ceiling {
    gcra: Gcra,
    tat: AtomicU64,
}

impl Ceiling {
    /// A ceiling of `per_second` with a burst of `burst`, starting full (see
    /// [`Gcra::new`] for the treatment of 0, NaN and ∞).
    pub fn new(per_second: f64, burst: u32) -> Self {
        Ceiling {
            gcra: Gcra::new(per_second, burst),
            tat: AtomicU64::new(0),
        }
    }

    /// Admits one request at `now_ns` (see [`Gcra::admit`]).
    #[inline]
    pub fn admit(&self, now_ns: u64) -> bool {
        self.gcra.admit(&self.tat, now_ns)
    }

    /// Changes the rate and burst live (see [`Gcra::set`]).
    pub fn set(&self, per_second: f64, burst: u32) {
        self.gcra.set(per_second, burst);
    }

    /// Refills the bucket: the next `burst` requests are admitted.
    pub fn reset(&self) {
        self.tat.store(0, Relaxed);
    }

    /// The parameters in effect.
    pub fn gcra(&self) -> &Gcra {
        &self.gcra
    }
}

/// Per-key limits in a fixed table of 2^k cells: memory never grows with
/// the number of keys.
///
/// A key's cell is chosen by Fibonacci hashing of its 64-bit hash (use
/// [`KeyHasher`]). Keys that land in the same cell share one budget: a
/// collision can refuse a request its own budget would have admitted, never
/// the reverse, so no key is ever admitted more than burst + rate·t.
pub struct KeyedLimiter {
    gcra: Gcra,
    cells: Box<[AtomicU64]>,
    /// `64 − log2(cells)`: the product's top bits select the cell.
    shift: u32,
    /// This table's id, unique in the process (the tag of its leases).
    id: u64,
}

impl KeyedLimiter {
    /// The fewest cells a table has.
    pub const MIN_CELLS: usize = 64;
    /// The most cells a table has (8 MiB).
    pub const MAX_CELLS: usize = 1 << 20;

    /// A table of `cells` cells (rounded up to a power of two, at least
    /// [`Self::MIN_CELLS`], at most [`Self::MAX_CELLS`]), each key limited to
    /// `per_second` with a burst of `burst` (see [`Gcra::new`]). Every
    /// bucket starts full.
    pub fn new(per_second: f64, burst: u32, cells: usize) -> Self {
        let n = cells
            .clamp(Self::MIN_CELLS, Self::MAX_CELLS)
            .next_power_of_two();
        KeyedLimiter {
            gcra: Gcra::new(per_second, burst),
            cells: (0..n).map(|_| AtomicU64::new(0)).collect(),
            shift: 64 - n.trailing_zeros(),
            id: NEXT_LIMITER_ID.fetch_add(1, Relaxed),
        }
    }

    /// The cell of `key_hash`.
    #[inline]
    pub fn cell_index(&self, key_hash: u64) -> usize {
        (key_hash.wrapping_mul(FIB) >> self.shift) as usize
    }

    /// Admits one request for the key whose hash is `key_hash` at `now_ns`
    /// (see [`Gcra::admit`]).
    #[inline]
    pub fn admit(&self, key_hash: u64, now_ns: u64) -> bool {
        match self.cells.get(self.cell_index(key_hash)) {
            Some(cell) => self.gcra.admit(cell, now_ns),
            None => false,
        }
    }

    /// [`KeyedLimiter::admit`], with requests leased by the calling
    /// thread: when a cell's budget is large enough to share out (rates of
    /// 2 000/s and more, see [`Gcra::lease_max`]), a thread takes several
    /// requests from the cell with one compare-exchange and admits them
    /// one by one from a slot of its own, with no atomic read-modify-write.
    ///
    /// A lease starts at one request; each one used up within
    /// [`LEASE_WINDOW_NS`] doubles the next (up to [`Gcra::lease_max`]),
    /// one that ran out of time or met an empty bucket starts again at one.
    /// What a lease has not used when its window ends, or when its slot
    /// goes to another key, is given up, never returned: leases can only
    /// refuse what the cell would have admitted. The cost of sharing the
    /// budget out: over any interval Δ a key admits at most
    /// `Δ·rate + burst` plus, per thread holding a lease on it, what that
    /// lease holds (at most 1 ms of the rate and a quarter of the burst).
    #[inline]
    pub fn admit_leased(&self, key_hash: u64, now_ns: u64) -> bool {
        let cell = self.cell_index(key_hash);
        let tag = self.id << 20 | cell as u64;
        let slot = (cell ^ (self.id as usize).wrapping_mul(0x9E37)) % LEASE_SLOTS;
        LEASES
            .try_with(|leases| {
                let lease = &leases[slot];
                let left = lease.left.get();
                if lease.tag.get() == tag && left > 0 && now_ns < lease.until.get() {
                    lease.left.set(left - 1);
                    return true;
                }
                self.lease(lease, tag, cell, now_ns)
            })
            // The thread's slots are gone (it is exiting): take one request.
            .unwrap_or_else(|_| self.admit(key_hash, now_ns))
    }

    /// A new lease on `cell` for `lease`'s slot; true when it holds at
    /// least the request it is taken for.
    #[cold]
    #[inline(never)]
    fn lease(&self, lease: &Lease, tag: u64, cell: usize, now_ns: u64) -> bool {
        let size = if lease.tag.get() == tag && now_ns < lease.until.get() {
            // The last lease on this cell was used up in time.
            lease.size.get().saturating_mul(2)
        } else {
            1
        }
        .min(self.gcra.lease_max());
        let granted = match self.cells.get(cell) {
            Some(c) => self.gcra.admit_up_to(c, now_ns, size),
            None => 0,
        };
        lease.tag.set(tag);
        if granted == 0 {
            lease.left.set(0);
            lease.size.set(1);
            lease.until.set(0);
            return false;
        }
        lease.left.set(granted - 1);
        lease.size.set(size);
        lease.until.set(now_ns.saturating_add(LEASE_WINDOW_NS));
        true
    }

    /// Changes the rate and burst of every key live (see [`Gcra::set`]).
    pub fn set(&self, per_second: f64, burst: u32) {
        self.gcra.set(per_second, burst);
    }

    /// Refills every bucket. Not atomic across the table: admissions that
    /// race with it see some cells refilled and others not yet.
    pub fn reset(&self) {
        for c in self.cells.iter() {
            c.store(0, Relaxed);
        }
    }

    /// The number of cells (a power of two).
    pub fn cells(&self) -> usize {
        self.cells.len()
    }

    /// Bytes used: the struct and its table. Fixed at construction.
    pub fn memory_bytes(&self) -> usize {
        size_of::<Self>() + self.cells.len() * size_of::<AtomicU64>()
    }

    /// The parameters in effect.
    pub fn gcra(&self) -> &Gcra {
        &self.gcra
    }
}

impl fmt::Debug for KeyedLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedLimiter")
            .field("gcra", &self.gcra)
            .field("cells", &self.cells.len())
            .finish()
    }
}

/// A fast, allocation-free 64-bit hash of key parts (a span name, attribute
/// values), good enough that distinct keys spread evenly across cells. Not
/// keyed and not for untrusted-collision resistance: a collision only
/// shares a budget.
///
/// Each 8-byte word is folded in with a multiply and an xor-shift; each
/// [`KeyHasher::write`] also folds in its length, so `("ab", "c")` and
/// `("a", "bc")` differ; [`KeyHasher::finish`] applies MurmurHash3's
/// 64-bit finalizer so every input bit reaches every output bit.
#[derive(Clone, Copy, Debug)]
pub struct KeyHasher(u64);

impl KeyHasher {
    /// The initial state (the first 64 bits of π's fraction).
    const SEED: u64 = 0x243F_6A88_85A3_08D3;
    /// Marks a length word apart from data words.
    const LEN_TAG: u64 = 0xA5A5_0000_0000_0000;

    /// An empty hasher.
    pub const fn new() -> Self {
        KeyHasher(Self::SEED)
    }

    #[inline]
    fn mix(&mut self, word: u64) {
        let h = (self.0 ^ word).wrapping_mul(FIB);
        self.0 = h ^ (h >> 32);
    }

    /// Adds one key part.
    #[inline]
    pub fn write(&mut self, bytes: &[u8]) {
        let (words, rest) = bytes.as_chunks::<8>();
        for w in words {
            self.mix(u64::from_le_bytes(*w));
        }
        if let Some(w) = tail_word(rest) {
            self.mix(w);
        }
        self.mix(Self::LEN_TAG ^ bytes.len() as u64);
    }

    /// Adds one integer key part.
    #[inline]
    pub fn write_u64(&mut self, v: u64) {
        self.mix(v);
    }

    /// The hash of the parts written so far.
    #[inline]
    pub fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        h ^ (h >> 33)
    }
}

/// The 1 to 7 bytes left after the whole words as one word, read without a
/// copy: two overlapping 4-byte reads for 4 to 7 bytes, the first, middle
/// and last byte for 1 to 3 (together they cover every byte, and the
/// length is folded in after, so equal words mean equal tails). `None`
/// when nothing is left.
#[inline]
fn tail_word(rest: &[u8]) -> Option<u64> {
    let n = rest.len();
    if n >= 4 {
        let lo = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let hi = u32::from_le_bytes([rest[n - 4], rest[n - 3], rest[n - 2], rest[n - 1]]);
        Some(u64::from(lo) | (u64::from(hi) << 32))
    } else if n > 0 {
        Some(u64::from(rest[0]) | (u64::from(rest[n / 2]) << 8) | (u64::from(rest[n - 1]) << 16))
    } else {
        None
    }
}

impl Default for KeyHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher for KeyHasher {
    #[inline]
    fn finish(&self) -> u64 {
        KeyHasher::finish(self)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        KeyHasher::write(self, bytes);
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        KeyHasher::write_u64(self, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const SEC: u64 = 1_000_000_000;

    fn key(parts: &[&[u8]]) -> u64 {
        let mut h = KeyHasher::new();
        for p in parts {
            h.write(p);
        }
        h.finish()
    }

    /// Calls `admit(t)` once at t = start, start + step, … while t < end;
    /// returns how many were admitted.
    fn admitted(mut admit: impl FnMut(u64) -> bool, start: u64, step: u64, end: u64) -> u64 {
        let mut n = 0;
        let mut t = start;
        while t < end {
            n += u64::from(admit(t));
            t += step;
        }
        n
    }

    #[test]
    fn half_per_second_admits_one_every_two_seconds() {
        let c = Ceiling::new(0.5, 1);
        assert_eq!(c.gcra().interval_ns(), 2 * SEC);
        assert!(c.admit(0));
        assert!(!c.admit(1));
        assert!(!c.admit(SEC));
        assert!(!c.admit(2 * SEC - 1));
        assert!(c.admit(2 * SEC));
        assert!(!c.admit(3 * SEC));
        assert!(c.admit(4 * SEC));
        // Polled every 10 ms over [6 s, 106 s): one admission at each even
        // second, 6 s … 104 s.
        assert_eq!(admitted(|t| c.admit(t), 6 * SEC, 10 * MS, 106 * SEC), 50);
    }

    #[test]
    fn half_per_second_with_burst_three() {
        let c = Ceiling::new(0.5, 3);
        let t0 = 7 * SEC;
        assert_eq!(
            [c.admit(t0), c.admit(t0), c.admit(t0), c.admit(t0)],
            [true, true, true, false]
        );
        assert!(!c.admit(t0 + 2 * SEC - 1));
        assert!(c.admit(t0 + 2 * SEC));
        assert!(!c.admit(t0 + 2 * SEC));
        // Idle for 6 s (three intervals): the bucket is full again.
        let t1 = t0 + 8 * SEC;
        assert_eq!(
            [c.admit(t1), c.admit(t1), c.admit(t1), c.admit(t1)],
            [true, true, true, false]
        );
    }

    #[test]
    fn steady_rate_admits_rate_times_elapsed_plus_burst() {
        // (rate, burst, poll step, span): polled much faster than the rate,
        // over [0, span] the limiter admits exactly burst + rate·span.
        for (rate, burst, step, span) in [
            (1.0, 1, 10 * MS, 60 * SEC),
            (1.0, 5, 10 * MS, 60 * SEC),
            (1000.0, 1, MS / 10, 10 * SEC),
            (1000.0, 5, MS / 10, 10 * SEC),
            (0.5, 2, 10 * MS, 100 * SEC),
            (250.0, 20, MS / 10, 4 * SEC),
        ] {
            let c = Ceiling::new(rate, burst);
            let n = admitted(|t| c.admit(t), 0, step, span + 1);
            let expected = u64::from(burst) + (rate * span as f64 / SEC as f64) as u64;
            assert_eq!(n, expected, "rate {rate} burst {burst}");
        }
    }

    #[test]
    fn rate_with_fractional_interval_stays_on_rate() {
        // 3/s: I = 333 333 333 ns (rounded). Polled every 1 ms over
        // [0, 1000 s]: 3000 + burst. (A burst of 2 lets the TAT run ahead of
        // the 1 ms polls, so the poll grid adds no delay per admission.)
        let c = Ceiling::new(3.0, 2);
        assert_eq!(c.gcra().interval_ns(), 333_333_333);
        let n = admitted(|t| c.admit(t), 0, MS, 1000 * SEC + 1);
        assert_eq!(n, 3002);
    }

    #[test]
    fn burst_starts_full() {
        let c = Ceiling::new(1.0, 10);
        let t = 123 * SEC;
        for i in 0..10 {
            assert!(c.admit(t), "request {i} of the burst");
        }
        assert!(!c.admit(t));
        assert!(!c.admit(t + SEC - 1));
        assert!(c.admit(t + SEC));
        assert!(!c.admit(t + SEC));
        // Also at time 0 and in every cell of a keyed table.
        let c = Ceiling::new(1.0, 10);
        assert_eq!(admitted(|_| c.admit(0), 0, 1, 100), 10);
        let k = KeyedLimiter::new(1.0, 4, 64);
        for h in 0..1000u64 {
            let h = key(&[&h.to_le_bytes()]);
            if k.cell_index(h) == 17 {
                assert_eq!(admitted(|_| k.admit(h, 5 * SEC), 0, 1, 10), 4);
                return;
            }
        }
        panic!("no key in cell 17");
    }

    #[test]
    fn hot_key_does_not_starve_cold_key() {
        let k = KeyedLimiter::new(5.0, 2, 1024);
        let hot = key(&[b"GET /hot"]);
        let cold = key(&[b"GET /cold"]);
        assert_ne!(k.cell_index(hot), k.cell_index(cold));
        let (mut hot_n, mut cold_n) = (0u64, 0u64);
        // 10^6 hot requests, one every 10 µs (10 s); a cold one each second.
        for i in 0..1_000_000u64 {
            let t = i * 10_000;
            hot_n += u64::from(k.admit(hot, t));
            if i.is_multiple_of(100_000) {
                cold_n += u64::from(k.admit(cold, t));
            }
        }
        // Hot: the burst of 2, then one per 200 ms at 0.2 s … 9.8 s.
        assert_eq!(hot_n, 2 + 49);
        // Cold: every request (1/s under a 5/s limit).
        assert_eq!(cold_n, 10);
    }

    #[test]
    fn million_distinct_keys_bounded_memory_and_budgets() {
        const KEYS: u64 = 1_000_000;
        const RATE: f64 = 10.0;
        const BURST: u32 = 2;
        let k = KeyedLimiter::new(RATE, BURST, 1 << 16);
        let before = k.memory_bytes();
        assert_eq!(before, size_of::<KeyedLimiter>() + 8 * (1 << 16));
        let mut per_cell = vec![0u32; k.cells()];
        let mut total = 0u64;
        // One key per µs over 1 s, three requests each at the same instant.
        for i in 0..KEYS {
            let h = key(&[b"op", &i.to_le_bytes()]);
            let t = i * 1_000;
            let mut mine = 0;
            for _ in 0..3 {
                mine += u32::from(k.admit(h, t));
            }
            // A key alone at one instant: at most its burst (+ rate·0).
            assert!(mine <= BURST, "key {i} admitted {mine}");
            per_cell[k.cell_index(h)] += mine;
            total += u64::from(mine);
        }
        assert_eq!(k.memory_bytes(), before);
        // A cell shared by many keys still admits at most burst + rate·t
        // over the second (t < 1 s, so ⌊rate·t⌋ ≤ 9).
        let max = per_cell.iter().copied().max().unwrap_or(0);
        assert!(max <= BURST + 9, "a cell admitted {max}");
        // And sharing refuses only what the shared budgets cannot hold: most
        // cells fill their whole budget.
        assert!(total > 500_000, "{total}");
    }

    #[test]
    fn two_threads_share_a_ceiling_without_exceeding_it() {
        const RATE: f64 = 1000.0;
        const BURST: u32 = 10;
        const STEPS: u64 = 100_000;
        const STEP: u64 = 100_000; // 100 µs: 10 s in all
        let c = Ceiling::new(RATE, BURST);
        let per_thread = |c: &Ceiling| {
            let mut n = 0u64;
            for k in 0..STEPS {
                n += u64::from(c.admit(k * STEP));
            }
            n
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| per_thread(&c));
            let b = s.spawn(|| per_thread(&c));
            (a.join().expect("thread a"), b.join().expect("thread b"))
        });
        let elapsed = (STEPS - 1) * STEP;
        let bound = elapsed / c.gcra().interval_ns() + u64::from(BURST);
        assert_eq!(bound, 10_009);
        assert!(a + b <= bound, "{a} + {b} > {bound}");
        // One caller alone reaches the bound; two lose only the rare
        // request refused after MAX_CAS_ATTEMPTS.
        assert!(a + b >= bound * 95 / 100, "{a} + {b}");
    }

    #[test]
    fn admit_up_to_grants_what_the_bucket_holds() {
        // 1 000/s (I = 1 ms), burst 10: a full bucket holds 10.
        let g = Gcra::new(1000.0, 10);
        let cell = AtomicU64::new(0);
        assert_eq!(g.admit_up_to(&cell, 0, 4), 4);
        assert_eq!(g.admit_up_to(&cell, 0, 4), 4);
        assert_eq!(g.admit_up_to(&cell, 0, 4), 2);
        assert_eq!(g.admit_up_to(&cell, 0, 4), 0);
        // 3 ms later, 3 more; asking for 0 asks for 1.
        assert_eq!(g.admit_up_to(&cell, 3 * MS, 0), 1);
        assert_eq!(g.admit_up_to(&cell, 3 * MS, 5), 2);
        assert!(!g.admit(&cell, 3 * MS));
        // For n = 1 it is `admit`, call for call.
        let (a, b) = (AtomicU64::new(0), AtomicU64::new(0));
        for t in (0..200 * MS).step_by(150_000) {
            assert_eq!(g.admit(&a, t), g.admit_up_to(&b, t, 1) == 1, "t = {t}");
        }
        assert_eq!(Gcra::new(f64::INFINITY, 1).admit_up_to(&cell, 0, 7), 7);
        assert_eq!(Gcra::new(0.0, 1).admit_up_to(&cell, 0, 7), 0);
    }

    #[test]
    fn lease_sizes_follow_rate_and_burst() {
        // Low rates lease nothing: one request per admission from the cell.
        assert_eq!(Gcra::new(100.0, 100).lease_max(), 1);
        assert_eq!(Gcra::new(1000.0, 1000).lease_max(), 1);
        // 1 ms of the rate, a quarter of the burst, MAX_LEASE.
        assert_eq!(Gcra::new(4000.0, 1000).lease_max(), 4);
        assert_eq!(Gcra::new(1e6, 20).lease_max(), 5);
        assert_eq!(Gcra::new(1e9, 1_000_000).lease_max(), MAX_LEASE);
        assert_eq!(Gcra::new(f64::INFINITY, 1).lease_max(), 1);
        assert_eq!(Gcra::new(0.0, 1).lease_max(), 1);
    }

    #[test]
    fn leased_admissions_stay_within_the_budget_plus_one_lease() {
        // 1e6/s (I = 1 µs), burst 1 000: leases of up to 32. One call every
        // 100 ns for 20 ms, ten times the rate.
        const END: u64 = 20 * MS;
        let l = KeyedLimiter::new(1e6, 1000, 64);
        let k = key(&[b"tenant", b"acme"]);
        let n = admitted(|t| l.admit_leased(k, t), 0, 100, END);
        let budget = END / 1000 + 1000;
        assert!(
            n <= budget + u64::from(MAX_LEASE),
            "{n} > {budget} + a lease"
        );
        // Demand never stops, so no lease is given up unused.
        assert!(n + u64::from(MAX_LEASE) >= budget, "{n} far below {budget}");
    }

    #[test]
    fn leases_are_refused_with_the_bucket_and_follow_it_when_it_refills() {
        // 1e6/s, burst 8: leases of up to 2.
        let l = KeyedLimiter::new(1e6, 8, 64);
        let k = key(&[b"k"]);
        let first: Vec<bool> = (0..10).map(|_| l.admit_leased(k, 5 * MS)).collect();
        assert_eq!(first.iter().filter(|a| **a).count(), 8, "{first:?}");
        assert!(!first[8] && !first[9]);
        // 4 µs later the bucket holds 4 again (rate 1/µs).
        let later = (0..10).filter(|_| l.admit_leased(k, 5 * MS + 4000)).count();
        assert_eq!(later, 4);
    }

    #[test]
    fn two_threads_leasing_one_key_admit_exactly_its_burst() {
        // The clock stands still: nothing refills, so whatever the threads
        // lease, together they admit the bucket's content, no more (each
        // keeps calling until its lease and the cell are both empty).
        const BURST: u32 = 10_000;
        let l = KeyedLimiter::new(1e9, BURST, 64);
        let k = key(&[b"hot"]);
        assert_eq!(l.gcra().lease_max(), MAX_LEASE);
        let per_thread = || {
            let (mut n, mut refused_in_a_row) = (0u64, 0);
            while refused_in_a_row < 100 {
                if l.admit_leased(k, MS) {
                    n += 1;
                    refused_in_a_row = 0;
                } else {
                    refused_in_a_row += 1;
                }
            }
            n
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(per_thread);
            let b = s.spawn(per_thread);
            (a.join().expect("thread a"), b.join().expect("thread b"))
        });
        // A compare-exchange lost MAX_CAS_ATTEMPTS times refuses a lease
        // that the cell could grant; the thread asks again, so none is lost.
        assert_eq!(a + b, u64::from(BURST), "{a} + {b}");
    }

    #[test]
    fn set_changes_the_rate_live() {
        let c = Ceiling::new(10.0, 1);
        // [0, 10 s) at 10/s: t = 0, 0.1, …, 9.9 s.
        assert_eq!(admitted(|t| c.admit(t), 0, MS, 10 * SEC), 100);
        c.set(100.0, 1);
        assert_eq!(c.gcra().per_second(), 100.0);
        // [10 s, 20 s) at 100/s.
        assert_eq!(admitted(|t| c.admit(t), 10 * SEC, MS, 20 * SEC), 1000);
        c.set(1.0, 1);
        // [20 s, 30 s) at 1/s.
        assert_eq!(admitted(|t| c.admit(t), 20 * SEC, MS, 30 * SEC), 10);
        c.set(1.0, 5);
        assert_eq!(c.gcra().burst(), 5);
        // Idle 10 s: the larger burst is available at once.
        assert_eq!(admitted(|_| c.admit(40 * SEC), 0, 1, 10), 5);
        c.set(0.0, 5);
        assert_eq!(admitted(|t| c.admit(t), 50 * SEC, MS, 60 * SEC), 0);
        c.set(f64::INFINITY, 1);
        assert_eq!(admitted(|t| c.admit(t), 60 * SEC, MS, 61 * SEC), 1000);
        // Keyed limiters change every key.
        let k = KeyedLimiter::new(1.0, 1, 64);
        let h = key(&[b"k"]);
        assert_eq!(admitted(|t| k.admit(h, t), 0, MS, 10 * SEC), 10);
        k.set(100.0, 1);
        assert_eq!(admitted(|t| k.admit(h, t), 10 * SEC, MS, 11 * SEC), 100);
    }

    #[test]
    fn degenerate_parameters_do_not_panic() {
        let times = [0, 1, SEC, u64::MAX / 2, u64::MAX - 1, u64::MAX];
        for rate in [0.0, -0.0, -1.0, f64::NAN, f64::NEG_INFINITY, -f64::MAX] {
            let c = Ceiling::new(rate, 10);
            assert_eq!(c.gcra().per_second(), 0.0);
            assert!(times.iter().all(|&t| !c.admit(t)), "{rate}");
        }
        let c = Ceiling::new(f64::INFINITY, 0);
        assert_eq!(admitted(|_| c.admit(0), 0, 1, 1_000_000), 1_000_000);
        assert!(times.iter().all(|&t| c.admit(t)));
        for rate in [f64::MIN_POSITIVE, 1e-30, 1e-9, 1e9, 1e12, f64::MAX] {
            for burst in [0, 1, 2, u32::MAX] {
                let c = Ceiling::new(rate, burst);
                let g = c.gcra();
                assert!((1..=MAX_SPAN_NS).contains(&g.interval_ns()));
                assert!(g.tau_ns() <= MAX_SPAN_NS);
                assert!(c.admit(0), "{rate} {burst}: a full bucket admits");
                for &t in &times {
                    let _ = c.admit(t);
                }
                let k = KeyedLimiter::new(rate, burst, 0);
                for &t in &times {
                    let _ = k.admit(t, t);
                }
            }
        }
        // Burst 0 counts as 1.
        let c = Ceiling::new(1.0, 0);
        assert_eq!(c.gcra().burst(), 1);
        assert_eq!(admitted(|_| c.admit(0), 0, 1, 10), 1);
        // u32::MAX burst at 1000/s: τ = (2^32 − 2)·1 ms, admitted a million at once.
        let c = Ceiling::new(1000.0, u32::MAX);
        assert_eq!(c.gcra().tau_ns(), (u64::from(u32::MAX) - 1) * MS);
        assert_eq!(c.gcra().burst(), u32::MAX);
        assert_eq!(admitted(|_| c.admit(SEC), 0, 1, 1_000_000), 1_000_000);
        // A slow rate with a huge burst: τ capped, still a finite budget.
        let c = Ceiling::new(1e-30, u32::MAX);
        assert_eq!(c.gcra().interval_ns(), MAX_SPAN_NS);
        assert_eq!(c.gcra().tau_ns(), MAX_SPAN_NS);
        assert_eq!(admitted(|_| c.admit(SEC), 0, 1, 10), 2);
        // Rates above 1e9/s are one per nanosecond.
        assert_eq!(Gcra::new(1e12, 1).interval_ns(), 1);
        assert_eq!(Gcra::new(f64::MAX, 1).interval_ns(), 1);
        // Cell counts.
        for (asked, got) in [
            (0, 64),
            (1, 64),
            (64, 64),
            (65, 128),
            (100, 128),
            (1 << 16, 1 << 16),
        ] {
            assert_eq!(KeyedLimiter::new(1.0, 1, asked).cells(), got);
        }
        assert_eq!(KeyedLimiter::new(1.0, 1, usize::MAX).cells(), 1 << 20);
        let k = KeyedLimiter::new(1.0, 1, 64);
        assert!((0..10_000u64).all(|h| k.cell_index(h.wrapping_mul(0x1234_5678_9ABC_DEF1)) < 64));
        assert!(k.cell_index(u64::MAX) < 64);
    }

    #[test]
    fn reset_refills() {
        let c = Ceiling::new(1.0, 2);
        assert_eq!(admitted(|_| c.admit(SEC), 0, 1, 10), 2);
        c.reset();
        assert_eq!(admitted(|_| c.admit(SEC), 0, 1, 10), 2);
        let k = KeyedLimiter::new(1.0, 2, 64);
        assert_eq!(admitted(|_| k.admit(7, SEC), 0, 1, 10), 2);
        k.reset();
        assert_eq!(admitted(|_| k.admit(7, SEC), 0, 1, 10), 2);
    }

    #[test]
    fn key_hasher_spreads_and_separates_parts() {
        // 10^6 distinct keys over 1024 cells: ~977 each (σ ≈ 31); every cell
        // within ±20 % (over 6σ).
        let k = KeyedLimiter::new(1.0, 1, 1024);
        let mut count = vec![0u32; 1024];
        for i in 0..1_000_000u64 {
            count[k.cell_index(key(&[b"span.name", &i.to_le_bytes()]))] += 1;
        }
        let (min, max) = (
            count.iter().copied().min().unwrap_or(0),
            count.iter().copied().max().unwrap_or(0),
        );
        assert!(min > 781 && max < 1172, "min {min} max {max}");
        // Integer keys through write_u64 (sequential ids) as well.
        let mut count = vec![0u32; 1024];
        for i in 0..1_000_000u64 {
            let mut h = KeyHasher::new();
            h.write_u64(i);
            count[k.cell_index(h.finish())] += 1;
        }
        let (min, max) = (
            count.iter().copied().min().unwrap_or(0),
            count.iter().copied().max().unwrap_or(0),
        );
        assert!(min > 781 && max < 1172, "min {min} max {max}");
        // Part boundaries matter; equal inputs agree; empty parts count.
        assert_ne!(key(&[b"ab", b"c"]), key(&[b"a", b"bc"]));
        assert_ne!(key(&[b"abc"]), key(&[b"abc", b""]));
        assert_ne!(key(&[b""]), key(&[]));
        assert_ne!(key(&[b"\0"]), key(&[b""]));
        assert_ne!(key(&[b"12345678"]), key(&[b"1234567", b"8"]));
        assert_eq!(key(&[b"GET", b"/a"]), key(&[b"GET", b"/a"]));
        // The Hasher impl is the same hash.
        let mut a = KeyHasher::default();
        Hasher::write(&mut a, b"tenant-7");
        assert_eq!(Hasher::finish(&a), key(&[b"tenant-7"]));
    }
}
