//! The trace-aware debug buffer (writer side, single-threaded).
//!
//! Records of unsampled traces are held back, in bounded memory, instead of
//! being written: at most `K` per trace and `B` bytes in all, oldest first
//! out. When a record at ERROR or above arrives in such a trace, the
//! buffered records of that trace are replayed first, in order, and the
//! trace is *promoted*: the rest of its records in this process are kept.
//! When no error comes, the records age out and count as sampled out
//! (anchor: .NET's log buffering).
//!
//! Records are opaque byte slices (already-encoded raw records).
//!
//! # Memory
//!
//! Everything is allocated in [`DebugBuffer::with_limits`]; nothing after:
//!
//! * a byte arena of `B` bytes used as a FIFO ring: each record is stored
//!   contiguously (a record that does not fit before the arena's end leaves
//!   the end unused and starts at 0);
//! * a ring of at most `E` entries (offset, length, trace slot, link to the
//!   trace's next record), 24 bytes each, in push order;
//! * `E` trace slots (40 bytes each) and an open-addressing index of
//!   `2E` rounded up to a power of two `u32`s from trace id to slot;
//! * the promoted ids: a ring of the last `P` ids (32 bytes each) and its
//!   index.
//!
//! A record removed out of push order (its trace's K-th newer record
//! arrived, or its trace was triggered) leaves a hole that is reclaimed
//! when the ring's oldest end reaches it; the holes count against `B`, so
//! a record stays buffered at most until about `B` more bytes (or `E` more
//! records) have been pushed after it. `buffered_bytes() <= B` and
//! `buffered_records() <= E` always hold.
//!
//! # Accounting
//!
//! Every record given to [`DebugBuffer::push`] is, exactly once, replayed by
//! [`DebugBuffer::trigger`], reported in an [`Evicted`] (by `push`,
//! [`DebugBuffer::discard_trace`] or [`DebugBuffer::clear`]), or still
//! buffered: `pushed == replayed + evicted + buffered_records()`, and the
//! same for bytes.

#![warn(missing_docs)]

use std::hash::BuildHasher;
use std::hash::RandomState;
use std::ops::AddAssign;

/// How many promoted trace ids [`DebugBuffer::new`] remembers.
pub const DEFAULT_PROMOTED: usize = 4096;

/// [`DebugBuffer::new`] allows one buffered record per this many bytes of
/// `max_bytes` (at least 64 records, unless `max_bytes` is smaller).
pub const BYTES_PER_RECORD: usize = 128;

/// "No entry" in links and index buckets.
const NONE: u32 = u32::MAX;

/// What a push or an eviction released: records and bytes now counted as
/// sampled out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Records released.
    pub records: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl Evicted {
    /// One record of `len` bytes.
    fn one(len: usize) -> Evicted {
        Evicted {
            records: 1,
            bytes: len as u64,
        }
    }
}

impl AddAssign for Evicted {
    fn add_assign(&mut self, rhs: Evicted) {
        self.records = self.records.wrapping_add(rhs.records);
        self.bytes = self.bytes.wrapping_add(rhs.bytes);
    }
}

/// One buffered record (or a hole, when `!live`) in the entry ring.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Offset of the record's bytes in the arena.
    off: u32,
    /// The record's length.
    len: u32,
    /// Arena bytes this entry occupies: `len` plus the unused end of the
    /// arena skipped before it, if it wrapped.
    foot: u32,
    /// Trace slot (meaningful while `live`).
    slot: u32,
    /// Entry index of the trace's next record, or [`NONE`].
    next: u32,
    /// Still buffered (not evicted, replayed or discarded).
    live: bool,
}

const EMPTY_ENTRY: Entry = Entry {
    off: 0,
    len: 0,
    foot: 0,
    slot: NONE,
    next: NONE,
    live: false,
};

/// A trace with buffered records: a singly linked list of its entries,
/// oldest first (records are only ever removed at its head, or all at once).
#[derive(Clone, Copy, Debug)]
struct Trace {
    id_lo: u64,
    id_hi: u64,
    hash: u64,
    head: u32,
    tail: u32,
    count: u32,
}

impl Trace {
    const FREE: Trace = Trace {
        id_lo: 0,
        id_hi: 0,
        hash: 0,
        head: NONE,
        tail: NONE,
        count: 0,
    };
}

/// Splits a trace id into its low and high halves.
fn halves(id: u128) -> (u64, u64) {
    (id as u64, (id >> 64) as u64)
}

/// Open-addressing index from a hashed key to a `u32` position in a table
/// kept by the caller (linear probing, backward-shift deletion). Sized for
/// at most half full, so a probe always finds an empty bucket.
#[derive(Debug)]
struct Index {
    buckets: Vec<u32>,
    mask: usize,
}

impl Index {
    /// An index for up to `items` positions.
    fn new(items: usize) -> Index {
        let n = items.saturating_mul(2).max(2).next_power_of_two();
        Index {
            buckets: vec![NONE; n],
            mask: n - 1,
        }
    }

    fn home(&self, hash: u64) -> usize {
        (hash as usize) & self.mask
    }

    /// The position whose key is `is_key`, probing from `hash`'s bucket.
    fn find(&self, hash: u64, is_key: impl Fn(u32) -> bool) -> Option<u32> {
        let mut i = self.home(hash);
        for _ in 0..self.buckets.len() {
            let p = self.buckets[i];
            if p == NONE {
                return None;
            }
            if is_key(p) {
                return Some(p);
            }
            i = (i + 1) & self.mask;
        }
        None
    }

    /// Adds `pos` (whose key is absent) under `hash`.
    fn insert(&mut self, hash: u64, pos: u32) {
        let mut i = self.home(hash);
        for _ in 0..self.buckets.len() {
            if self.buckets[i] == NONE {
                self.buckets[i] = pos;
                return;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Removes `pos`, stored under `hash`; `hash_of` gives the hash of any
    /// other stored position.
    fn remove(&mut self, hash: u64, pos: u32, hash_of: impl Fn(u32) -> u64) {
        let mut i = self.home(hash);
        let mut found = false;
        for _ in 0..self.buckets.len() {
            let p = self.buckets[i];
            if p == NONE {
                break;
            }
            if p == pos {
                found = true;
                break;
            }
            i = (i + 1) & self.mask;
        }
        if !found {
            return;
        }
        // Backward shift: move later entries of the probe run into the gap
        // when the gap lies between their home bucket and where they are.
        let mut gap = i;
        let mut j = (i + 1) & self.mask;
        loop {
            let p = self.buckets[j];
            if p == NONE {
                break;
            }
            let home = self.home(hash_of(p));
            let displacement = j.wrapping_sub(home) & self.mask;
            let distance = j.wrapping_sub(gap) & self.mask;
            if displacement >= distance {
                self.buckets[gap] = p;
                gap = j;
            }
            j = (j + 1) & self.mask;
            if j == i {
                break;
            }
        }
        self.buckets[gap] = NONE;
    }

    fn clear(&mut self) {
        self.buckets.fill(NONE);
    }
}

/// The trace-aware debug buffer: the most recent records of unsampled
/// traces, replayed when an error arrives in their trace. See the module
/// documentation for the bounds and the accounting.
#[derive(Debug)]
pub struct DebugBuffer {
    /// K: records kept per trace.
    per_trace: usize,
    /// B bytes, used as a FIFO ring.
    arena: Vec<u8>,
    /// Where the next record goes, in `0..arena.len()` (0 when empty).
    tail: usize,
    /// Arena bytes occupied from the oldest entry's start to `tail`,
    /// holes and skipped ends included.
    used: usize,
    /// Entry ring (E slots), oldest at `front`.
    entries: Vec<Entry>,
    front: usize,
    /// Entries in the ring, live or not.
    len: usize,
    /// Trace slots (E of them: each live trace holds a live entry).
    slots: Vec<Trace>,
    /// Free trace slots.
    free: Vec<u32>,
    /// Trace id to slot.
    index: Index,
    /// Records and bytes buffered (live entries).
    live_records: usize,
    live_bytes: usize,
    /// Keyed hash of trace ids (random per buffer: trace ids can come from
    /// outside the process).
    hasher: RandomState,
    /// The last P promoted ids, a ring overwritten at `promoted_next`.
    promoted: Vec<(u128, u64)>,
    promoted_next: usize,
    promoted_index: Index,
    max_promoted: usize,
}

impl DebugBuffer {
    /// A buffer of at most `records_per_trace` records per trace and
    /// `max_bytes` bytes, allowing `max_bytes / 128` records in all (at least
    /// 64, or `max_bytes` if smaller), remembering the last 4096 promoted
    /// traces ([`DEFAULT_PROMOTED`]).
    #[must_use]
    pub fn new(records_per_trace: usize, max_bytes: usize) -> Self {
        let records = (max_bytes / BYTES_PER_RECORD).max(max_bytes.min(64));
        Self::with_limits(records_per_trace, max_bytes, records, DEFAULT_PROMOTED)
    }

    /// A buffer of at most `records_per_trace` records per trace,
    /// `max_bytes` bytes and `max_records` records in all, remembering the
    /// last `max_promoted` promoted traces. Allocates everything it will use.
    /// `max_bytes` is capped at `u32::MAX`, `max_records` at `u32::MAX - 1`
    /// and at least 1; `max_promoted == 0` remembers none.
    #[must_use]
    pub fn with_limits(
        records_per_trace: usize,
        max_bytes: usize,
        max_records: usize,
        max_promoted: usize,
    ) -> Self {
        let max_bytes = max_bytes.min(u32::MAX as usize);
        let e = max_records.clamp(1, (u32::MAX - 1) as usize);
        let max_promoted = max_promoted.min((u32::MAX - 1) as usize);
        let mut free = Vec::with_capacity(e);
        free.extend((0..e as u32).rev());
        DebugBuffer {
            per_trace: records_per_trace.min(u32::MAX as usize),
            arena: vec![0; max_bytes],
            tail: 0,
            used: 0,
            entries: vec![EMPTY_ENTRY; e],
            front: 0,
            len: 0,
            slots: vec![Trace::FREE; e],
            free,
            index: Index::new(e),
            live_records: 0,
            live_bytes: 0,
            hasher: RandomState::new(),
            promoted: Vec::with_capacity(max_promoted),
            promoted_next: 0,
            promoted_index: Index::new(max_promoted),
            max_promoted,
        }
    }

    /// Buffers a record of unsampled trace `trace_id`; returns what was
    /// evicted to make room: the trace's own oldest record when it already
    /// holds K, then the oldest records (of the oldest traces) while the
    /// arena or the entry ring is full. A record larger than B (or any
    /// record when K or B is 0) is not buffered and is returned as evicted
    /// at once.
    ///
    /// The caller checks [`DebugBuffer::is_promoted`] first: records of a
    /// promoted trace are written, not pushed.
    pub fn push(&mut self, trace_id: u128, record: &[u8]) -> Evicted {
        self.push_each(trace_id, record, &mut |_| {})
    }

    /// [`DebugBuffer::push`], calling `on_evict` with each record it
    /// evicts (the pushed record itself when it is not buffered), oldest
    /// first, before its bytes are reused.
    pub fn push_each(
        &mut self,
        trace_id: u128,
        record: &[u8],
        on_evict: &mut dyn FnMut(&[u8]),
    ) -> Evicted {
        let len = record.len();
        if len > self.arena.len() || self.per_trace == 0 {
            on_evict(record);
            return Evicted::one(len);
        }
        let hash = self.hasher.hash_one(trace_id);
        let mut ev = Evicted::default();
        if let Some(slot) = self.find_trace(trace_id, hash)
            && self.slots[slot as usize].count as usize >= self.per_trace
        {
            ev += self.evict_head(slot, on_evict);
        }
        self.pop_dead_front();
        let (off, foot) = loop {
            if self.len < self.entries.len()
                && let Some(place) = self.fit(len)
            {
                break place;
            }
            if self.len == 0 {
                // Unreachable: an empty buffer fits any record <= B.
                on_evict(record);
                ev += Evicted::one(len);
                return ev;
            }
            ev += self.pop_front(on_evict);
            self.pop_dead_front();
        };
        let slot = match self.find_trace(trace_id, hash) {
            Some(slot) => slot,
            None => {
                let Some(slot) = self.free.pop() else {
                    // Unreachable: live traces <= live entries < E.
                    on_evict(record);
                    ev += Evicted::one(len);
                    return ev;
                };
                let (id_lo, id_hi) = halves(trace_id);
                self.slots[slot as usize] = Trace {
                    id_lo,
                    id_hi,
                    hash,
                    head: NONE,
                    tail: NONE,
                    count: 0,
                };
                self.index.insert(hash, slot);
                slot
            }
        };
        let idx = (self.front + self.len) % self.entries.len();
        self.arena[off..off + len].copy_from_slice(record);
        self.entries[idx] = Entry {
            off: off as u32,
            len: len as u32,
            foot: foot as u32,
            slot,
            next: NONE,
            live: true,
        };
        self.len += 1;
        self.used += foot;
        self.tail = off + len;
        if self.tail == self.arena.len() {
            self.tail = 0;
        }
        let t = &mut self.slots[slot as usize];
        if t.count == 0 {
            t.head = idx as u32;
        } else if let Some(prev) = self.entries.get_mut(t.tail as usize) {
            prev.next = idx as u32;
        }
        t.tail = idx as u32;
        t.count += 1;
        self.live_records += 1;
        self.live_bytes += len;
        ev
    }

    /// An error arrived in `trace_id`: calls `f` with each buffered record
    /// of that trace in order, frees them, and marks the trace promoted.
    /// Returns how many were replayed.
    pub fn trigger(&mut self, trace_id: u128, mut f: impl FnMut(&[u8])) -> usize {
        let hash = self.hasher.hash_one(trace_id);
        let n = match self.find_trace(trace_id, hash) {
            Some(slot) => self.take_trace(slot, |rec| f(rec)).records as usize,
            None => 0,
        };
        self.promote(trace_id, hash);
        n
    }

    /// The trace ended (or is abandoned) without an error: frees its
    /// buffered records, returned as evicted; the trace is not promoted.
    pub fn discard_trace(&mut self, trace_id: u128) -> Evicted {
        let hash = self.hasher.hash_one(trace_id);
        match self.find_trace(trace_id, hash) {
            Some(slot) => self.take_trace(slot, |_| {}),
            None => Evicted::default(),
        }
    }

    /// Whether records of this trace are kept because an error came. The
    /// buffer remembers the last P triggered traces (P = [`DEFAULT_PROMOTED`]
    /// = 4096 with [`DebugBuffer::new`]); an older one is forgotten and its
    /// records are buffered again.
    #[must_use]
    pub fn is_promoted(&self, trace_id: u128) -> bool {
        if self.max_promoted == 0 {
            return false;
        }
        let hash = self.hasher.hash_one(trace_id);
        self.find_promoted(trace_id, hash).is_some()
    }

    /// Records buffered now.
    #[must_use]
    pub fn buffered_records(&self) -> usize {
        self.live_records
    }

    /// Bytes of the records buffered now (at most B).
    #[must_use]
    pub fn buffered_bytes(&self) -> usize {
        self.live_bytes
    }

    /// Arena bytes occupied now: the buffered records plus the holes and
    /// skipped arena ends not yet reclaimed (at most B).
    #[must_use]
    pub fn occupied_bytes(&self) -> usize {
        self.used
    }

    /// Traces with buffered records now.
    #[must_use]
    pub fn traces(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// K: the most records buffered per trace.
    #[must_use]
    pub fn records_per_trace(&self) -> usize {
        self.per_trace
    }

    /// B: the most bytes buffered.
    #[must_use]
    pub fn max_bytes(&self) -> usize {
        self.arena.len()
    }

    /// E: the most records buffered in all.
    #[must_use]
    pub fn max_records(&self) -> usize {
        self.entries.len()
    }

    /// Drops every buffered record (shutdown), returning what was discarded
    /// as sampled out. Promoted traces stay promoted.
    pub fn clear(&mut self) -> Evicted {
        self.clear_each(&mut |_| {})
    }

    /// [`DebugBuffer::clear`], calling `on_evict` with each buffered record,
    /// oldest first.
    pub fn clear_each(&mut self, on_evict: &mut dyn FnMut(&[u8])) -> Evicted {
        for i in 0..self.len {
            let e = self.entries[(self.front + i) % self.entries.len()];
            if e.live
                && let Some(rec) = self
                    .arena
                    .get(e.off as usize..e.off as usize + e.len as usize)
            {
                on_evict(rec);
            }
        }
        let ev = Evicted {
            records: self.live_records as u64,
            bytes: self.live_bytes as u64,
        };
        self.tail = 0;
        self.used = 0;
        self.front = 0;
        self.len = 0;
        self.live_records = 0;
        self.live_bytes = 0;
        self.entries.fill(EMPTY_ENTRY);
        self.slots.fill(Trace::FREE);
        self.free.clear();
        self.free.extend((0..self.slots.len() as u32).rev());
        self.index.clear();
        ev
    }

    /// The slot of trace `id`, if it has buffered records.
    fn find_trace(&self, id: u128, hash: u64) -> Option<u32> {
        let (lo, hi) = halves(id);
        let slots = &self.slots;
        self.index.find(hash, |s| {
            let t = &slots[s as usize];
            t.id_lo == lo && t.id_hi == hi
        })
    }

    /// The promoted ring position of `id`, if it is remembered.
    fn find_promoted(&self, id: u128, hash: u64) -> Option<u32> {
        let promoted = &self.promoted;
        self.promoted_index.find(hash, |p| {
            promoted.get(p as usize).is_some_and(|e| e.0 == id)
        })
    }

    /// Remembers `id` as promoted, forgetting the oldest one if P are.
    fn promote(&mut self, id: u128, hash: u64) {
        if self.max_promoted == 0 || self.find_promoted(id, hash).is_some() {
            return;
        }
        let pos = self.promoted_next;
        if self.promoted.len() < self.max_promoted {
            self.promoted.push((id, hash));
        } else {
            let old_hash = self.promoted[pos].1;
            let promoted = &self.promoted;
            self.promoted_index
                .remove(old_hash, pos as u32, |p| promoted[p as usize].1);
            self.promoted[pos] = (id, hash);
        }
        self.promoted_index.insert(hash, pos as u32);
        self.promoted_next = (pos + 1) % self.max_promoted;
    }

    /// Where a record of `len` bytes fits after `tail`: its offset and the
    /// arena bytes it occupies (with the skipped end if it wraps), or `None`
    /// if the oldest entries must go first.
    fn fit(&self, len: usize) -> Option<(usize, usize)> {
        let b = self.arena.len();
        let (tail, used) = (self.tail, self.used);
        // Start of the oldest occupied byte; equal to `tail` when the arena
        // is empty or full.
        let head = if used <= tail {
            tail - used
        } else {
            b - (used - tail)
        };
        if head < tail || used == 0 {
            // Occupied: [head, tail). Free: [tail, b) and [0, head).
            if b - tail >= len {
                Some((tail, len))
            } else if head >= len {
                Some((0, b - tail + len))
            } else {
                None
            }
        } else if head - tail >= len {
            // Occupied: [head, b) and [0, tail). Free: [tail, head).
            Some((tail, len))
        } else {
            None
        }
    }

    /// Removes the oldest entry of the ring; if it is live, it is evicted
    /// (it is then the oldest record of its trace).
    fn pop_front(&mut self, on_evict: &mut dyn FnMut(&[u8])) -> Evicted {
        if self.len == 0 {
            return Evicted::default();
        }
        let e = self.entries[self.front];
        let ev = if e.live {
            self.evict_head(e.slot, on_evict)
        } else {
            Evicted::default()
        };
        self.entries[self.front] = EMPTY_ENTRY;
        self.front = (self.front + 1) % self.entries.len();
        self.len -= 1;
        self.used -= e.foot as usize;
        if self.len == 0 {
            self.front = 0;
            self.tail = 0;
            self.used = 0;
        }
        ev
    }

    /// Reclaims the holes at the ring's oldest end.
    fn pop_dead_front(&mut self) {
        while self.len > 0 && !self.entries[self.front].live {
            self.pop_front(&mut |_| {});
        }
    }

    /// Evicts the oldest record of the trace in `slot` (leaving a hole
    /// until the ring's oldest end reaches it); frees the slot if that was
    /// its last record.
    fn evict_head(&mut self, slot: u32, on_evict: &mut dyn FnMut(&[u8])) -> Evicted {
        let t = self.slots[slot as usize];
        let Some(e) = self.entries.get_mut(t.head as usize) else {
            return Evicted::default();
        };
        if let Some(rec) = self
            .arena
            .get(e.off as usize..e.off as usize + e.len as usize)
        {
            on_evict(rec);
        }
        e.live = false;
        let len = e.len as usize;
        let next = e.next;
        self.live_records -= 1;
        self.live_bytes -= len;
        if t.count <= 1 {
            self.release(slot);
        } else {
            let t = &mut self.slots[slot as usize];
            t.head = next;
            t.count -= 1;
        }
        Evicted::one(len)
    }

    /// Frees every record of the trace in `slot`, oldest first, handing
    /// each to `f`, then the slot; returns what was freed.
    fn take_trace(&mut self, slot: u32, mut f: impl FnMut(&[u8])) -> Evicted {
        let t = self.slots[slot as usize];
        let mut freed = Evicted::default();
        let mut idx = t.head;
        for _ in 0..t.count {
            let Some(e) = self.entries.get_mut(idx as usize) else {
                break;
            };
            e.live = false;
            let (off, len) = (e.off as usize, e.len as usize);
            idx = e.next;
            if let Some(rec) = self.arena.get(off..off + len) {
                f(rec);
            }
            self.live_records -= 1;
            self.live_bytes -= len;
            freed += Evicted::one(len);
        }
        self.release(slot);
        self.pop_dead_front();
        freed
    }

    /// Frees a trace slot (its records are already not live).
    fn release(&mut self, slot: u32) {
        let hash = self.slots[slot as usize].hash;
        let slots = &self.slots;
        self.index.remove(hash, slot, |s| slots[s as usize].hash);
        self.slots[slot as usize] = Trace::FREE;
        self.free.push(slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sampler::test_rng::SplitMix as Rng;

    fn rec(tag: u8, len: usize) -> Vec<u8> {
        (0..len).map(|i| tag.wrapping_add(i as u8)).collect()
    }

    fn replay(b: &mut DebugBuffer, id: u128) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let n = b.trigger(id, |r| out.push(r.to_vec()));
        assert_eq!(n, out.len());
        out
    }

    #[test]
    fn replay_order_and_content() {
        let mut b = DebugBuffer::new(8, 4096);
        let (t1, t2) = (0x1111_u128 << 64 | 7, 0x2222);
        let none = Evicted::default();
        assert_eq!(b.push(t1, b"a1"), none);
        assert_eq!(b.push(t2, b"b1"), none);
        assert_eq!(b.push(t1, b"a2-longer"), none);
        assert_eq!(b.push(t2, b""), none);
        assert_eq!(b.push(t1, b"a3"), none);
        assert_eq!(b.buffered_records(), 5);
        assert_eq!(b.buffered_bytes(), 2 + 2 + 9 + 2);
        assert_eq!(b.traces(), 2);
        assert!(!b.is_promoted(t1));
        assert_eq!(
            replay(&mut b, t1),
            [b"a1".to_vec(), b"a2-longer".to_vec(), b"a3".to_vec()]
        );
        assert!(b.is_promoted(t1));
        assert!(!b.is_promoted(t2));
        assert_eq!(b.buffered_records(), 2);
        assert_eq!(b.buffered_bytes(), 2);
        assert_eq!(b.traces(), 1);
        // Triggering again replays nothing.
        assert_eq!(replay(&mut b, t1), Vec::<Vec<u8>>::new());
        assert_eq!(replay(&mut b, t2), [b"b1".to_vec(), Vec::new()]);
        assert_eq!(b.buffered_records(), 0);
        assert_eq!(b.buffered_bytes(), 0);
        assert_eq!(b.occupied_bytes(), 0);
        assert_eq!(b.traces(), 0);
        // An unknown trace: nothing replayed, still promoted.
        assert_eq!(b.trigger(99, |_| panic!("no records")), 0);
        assert!(b.is_promoted(99));
    }

    #[test]
    fn per_trace_limit_evicts_the_traces_oldest() {
        let mut b = DebugBuffer::new(3, 4096);
        let mut ev = Evicted::default();
        for i in 0..5u8 {
            ev += b.push(1, &rec(i, 10 + usize::from(i)));
            ev += b.push(2, &rec(100 + i, 1));
        }
        // Trace 1: records 0 and 1 (10 and 11 bytes) evicted; trace 2:
        // records 0 and 1 (1 byte each).
        assert_eq!(
            ev,
            Evicted {
                records: 4,
                bytes: 10 + 11 + 1 + 1
            }
        );
        assert_eq!(b.buffered_records(), 6);
        assert_eq!(b.buffered_bytes(), 12 + 13 + 14 + 3);
        assert!(b.occupied_bytes() <= b.max_bytes());
        assert_eq!(replay(&mut b, 1), [rec(2, 12), rec(3, 13), rec(4, 14)]);
        assert_eq!(replay(&mut b, 2), [rec(102, 1), rec(103, 1), rec(104, 1)]);
    }

    #[test]
    fn byte_limit_evicts_oldest_traces_first() {
        let mut b = DebugBuffer::with_limits(4, 1000, 1000, 16);
        let mut ev = Evicted::default();
        for t in 1..=25u128 {
            ev += b.push(t, &rec(t as u8, 100));
            assert!(b.buffered_bytes() <= 1000);
            assert!(b.occupied_bytes() <= 1000);
        }
        assert_eq!(
            ev,
            Evicted {
                records: 15,
                bytes: 1500
            }
        );
        assert_eq!(b.buffered_records(), 10);
        assert_eq!(b.traces(), 10);
        for t in 1..=15u128 {
            assert_eq!(b.trigger(t, |_| {}), 0, "trace {t} was evicted");
        }
        for t in 16..=25u128 {
            assert_eq!(replay(&mut b, t), [rec(t as u8, 100)]);
        }
        // Interleaved traces: the oldest records go first.
        let mut b = DebugBuffer::with_limits(10, 300, 100, 16);
        for (t, tag) in [(1u128, 1u8), (2, 2), (1, 3)] {
            assert_eq!(b.push(t, &rec(tag, 100)), Evicted::default());
        }
        assert_eq!(b.push(3, &rec(4, 100)), Evicted::one(100));
        assert_eq!(replay(&mut b, 1), [rec(3, 100)]);
        // Trace 1's replayed record left a hole behind trace 2's record: the
        // ring's oldest end reaches it only once trace 2's record is gone.
        assert_eq!(b.push(3, &rec(5, 100)), Evicted::one(100));
        assert_eq!(b.trigger(2, |_| {}), 0);
        assert_eq!(b.push(3, &rec(6, 100)), Evicted::default());
        assert_eq!(replay(&mut b, 3), [rec(4, 100), rec(5, 100), rec(6, 100)]);
    }

    #[test]
    fn entry_limit_bounds_records() {
        let mut b = DebugBuffer::with_limits(100, 1 << 16, 4, 16);
        let mut ev = Evicted::default();
        for i in 0..10u8 {
            ev += b.push(u128::from(i % 3), &[i]);
            assert!(b.buffered_records() <= 4);
        }
        assert_eq!(
            ev,
            Evicted {
                records: 6,
                bytes: 6
            }
        );
        // The last four: 6 (trace 0), 7 (trace 1), 8 (trace 2), 9 (trace 0).
        assert_eq!(replay(&mut b, 0), [vec![6], vec![9]]);
        assert_eq!(replay(&mut b, 1), [vec![7]]);
        assert_eq!(replay(&mut b, 2), [vec![8]]);
    }

    #[test]
    fn wrap_around_keeps_records_contiguous() {
        let mut b = DebugBuffer::with_limits(10, 100, 100, 16);
        assert_eq!(b.push(1, &rec(1, 40)), Evicted::default());
        assert_eq!(b.push(2, &rec(2, 40)), Evicted::default());
        // 20 bytes left at the end: the first record goes, the new one
        // starts at 0 and the end is skipped.
        assert_eq!(b.push(3, &rec(3, 40)), Evicted::one(40));
        assert_eq!(b.buffered_bytes(), 80);
        assert_eq!(b.occupied_bytes(), 100);
        assert_eq!(b.push(3, &rec(4, 10)), Evicted::one(40)); // trace 2 goes
        assert_eq!(b.buffered_bytes(), 50);
        // The skipped end stays occupied until the record after it goes.
        assert_eq!(b.occupied_bytes(), 70);
        assert_eq!(b.traces(), 1);
        assert_eq!(replay(&mut b, 3), [rec(3, 40), rec(4, 10)]);
        assert_eq!(b.occupied_bytes(), 0);
        // A record of exactly B fits an empty buffer.
        assert_eq!(b.push(5, &rec(5, 100)), Evicted::default());
        assert_eq!(b.push(6, &rec(6, 1)), Evicted::one(100));
        assert_eq!(replay(&mut b, 6), [rec(6, 1)]);
    }

    #[test]
    fn record_larger_than_b_is_evicted_at_once() {
        let mut b = DebugBuffer::with_limits(4, 50, 10, 16);
        assert_eq!(b.push(1, &rec(0, 20)), Evicted::default());
        assert_eq!(b.push(1, &rec(0, 51)), Evicted::one(51));
        assert_eq!(b.buffered_records(), 1);
        assert_eq!(b.buffered_bytes(), 20);
        let mut z = DebugBuffer::new(4, 0);
        assert_eq!(z.push(1, b"x"), Evicted::one(1));
        assert_eq!(z.push(1, b""), Evicted::default()); // an empty record fits
        let mut k0 = DebugBuffer::new(0, 1000);
        assert_eq!(k0.push(1, b"abc"), Evicted::one(3));
        assert_eq!(k0.buffered_records(), 0);
    }

    #[test]
    fn discard_and_clear() {
        let mut b = DebugBuffer::new(4, 1000);
        b.push(1, b"abc");
        b.push(2, b"de");
        b.push(1, b"f");
        assert_eq!(
            b.discard_trace(1),
            Evicted {
                records: 2,
                bytes: 4
            }
        );
        assert!(!b.is_promoted(1));
        assert_eq!(b.discard_trace(1), Evicted::default());
        b.trigger(3, |_| {});
        assert_eq!(
            b.clear(),
            Evicted {
                records: 1,
                bytes: 2
            }
        );
        assert_eq!(b.buffered_records(), 0);
        assert_eq!(b.traces(), 0);
        assert!(b.is_promoted(3));
        assert_eq!(b.push(2, b"gh"), Evicted::default());
        assert_eq!(replay(&mut b, 2), [b"gh".to_vec()]);
    }

    #[test]
    fn promoted_ids_are_bounded() {
        let mut b = DebugBuffer::with_limits(4, 1000, 10, 3);
        for t in 1..=4u128 {
            b.trigger(t, |_| {});
        }
        assert!(!b.is_promoted(1));
        assert!(b.is_promoted(2) && b.is_promoted(3) && b.is_promoted(4));
        // Re-triggering a remembered id does not take a second place.
        b.trigger(4, |_| {});
        b.trigger(5, |_| {});
        assert!(!b.is_promoted(2));
        assert!(b.is_promoted(3) && b.is_promoted(4) && b.is_promoted(5));
        let mut none = DebugBuffer::with_limits(4, 1000, 10, 0);
        none.push(1, b"x");
        assert_eq!(none.trigger(1, |_| {}), 1);
        assert!(!none.is_promoted(1));
        // Many promotions: exactly the last P are remembered.
        let mut b = DebugBuffer::with_limits(4, 1000, 10, 100);
        for t in 0..1000u128 {
            b.trigger(t * 0x1_0000_0001, |_| {});
        }
        for t in 0..1000u128 {
            assert_eq!(b.is_promoted(t * 0x1_0000_0001), t >= 900, "t={t}");
        }
    }

    #[test]
    fn index_survives_churn() {
        // Many traces coming and going: lookups stay right (exercises the
        // backward-shift deletion).
        let mut b = DebugBuffer::with_limits(2, 1 << 12, 16, 8);
        let mut rng = Rng(7);
        for i in 0..20_000u64 {
            let t = u128::from(rng.below(40));
            b.push(t, &i.to_le_bytes());
            assert!(b.traces() <= 16);
            if i % 5 == 0 {
                let got = replay(&mut b, u128::from(rng.below(40)));
                let seqs: Vec<u64> = got
                    .iter()
                    .map(|r| u64::from_le_bytes(r[..8].try_into().unwrap()))
                    .collect();
                assert!(seqs.windows(2).all(|w| w[0] < w[1]));
                assert!(seqs.len() <= 2);
            }
        }
    }

    #[test]
    fn accounting_is_exact_under_random_operations() {
        const TRACES: u64 = 50;
        let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
        for (k, bytes, records) in [
            (4, 2000, 64),
            (64, 1 << 14, 128),
            (1, 300, 8),
            (3, 5000, 1000),
        ] {
            let mut b = DebugBuffer::with_limits(k, bytes, records, 16);
            let (mut pushed, mut pushed_bytes) = (0u64, 0u64);
            let (mut replayed, mut replayed_bytes) = (0u64, 0u64);
            let mut evicted = Evicted::default();
            // Per trace: the records pushed since its last trigger, by seq.
            let mut since: Vec<Vec<u64>> = vec![Vec::new(); TRACES as usize];
            for seq in 0..30_000u64 {
                let t = rng.below(TRACES);
                if rng.below(10) == 0 {
                    let mut got = Vec::new();
                    let n = b.trigger(u128::from(t) << 70 | 5, |r| {
                        // Content: seq, trace, then a filler from seq.
                        let s = u64::from_le_bytes(r[..8].try_into().unwrap());
                        assert_eq!(r[8], t as u8);
                        assert!(r[9..].iter().all(|&x| x == s as u8));
                        got.push(s);
                        replayed_bytes += r.len() as u64;
                    });
                    replayed += n as u64;
                    assert!(n <= k);
                    // Replayed: exactly the newest n pushed since the last
                    // trigger, in order.
                    let list = &mut since[t as usize];
                    assert_eq!(got, list[list.len() - n..], "trace {t}");
                    list.clear();
                } else {
                    let span = if rng.below(50) == 0 {
                        2 * bytes as u64
                    } else {
                        200
                    };
                    let len = 9 + rng.below(span) as usize;
                    let mut r = vec![seq as u8; len];
                    r[..8].copy_from_slice(&seq.to_le_bytes());
                    r[8] = t as u8;
                    evicted += b.push(u128::from(t) << 70 | 5, &r);
                    pushed += 1;
                    pushed_bytes += len as u64;
                    if len <= bytes {
                        // A record over B is never buffered.
                        since[t as usize].push(seq);
                    }
                }
                assert!(b.buffered_bytes() <= bytes);
                assert!(b.occupied_bytes() <= bytes);
                assert!(b.buffered_records() <= records);
                assert_eq!(
                    pushed,
                    replayed + evicted.records + b.buffered_records() as u64
                );
                assert_eq!(
                    pushed_bytes,
                    replayed_bytes + evicted.bytes + b.buffered_bytes() as u64
                );
            }
            assert!(replayed > 0 && evicted.records > 0);
            evicted += b.clear();
            assert_eq!(pushed, replayed + evicted.records);
            assert_eq!(pushed_bytes, replayed_bytes + evicted.bytes);
        }
    }

    #[test]
    fn eviction_callbacks_see_each_evicted_record_once() {
        let mut rng = Rng(99);
        let mut b = DebugBuffer::with_limits(3, 600, 12, 8);
        let mut pushed: Vec<u64> = Vec::new();
        let mut replayed: Vec<u64> = Vec::new();
        let mut evicted: Vec<u64> = Vec::new();
        let mut ev_total = Evicted::default();
        let seq_of = |r: &[u8]| u64::from_le_bytes(r[..8].try_into().unwrap());
        for seq in 0..5_000u64 {
            let t = u128::from(rng.below(7));
            if rng.below(8) == 0 {
                b.trigger(t, |r| replayed.push(seq_of(r)));
            } else {
                let span = if rng.below(40) == 0 { 900 } else { 90 };
                let len = 8 + rng.below(span) as usize;
                let mut r = vec![0u8; len];
                r[..8].copy_from_slice(&seq.to_le_bytes());
                let mut got = Evicted::default();
                let ev = b.push_each(t, &r, &mut |e| {
                    got += Evicted::one(e.len());
                    evicted.push(seq_of(e));
                });
                assert_eq!(ev, got);
                ev_total += ev;
                pushed.push(seq);
            }
        }
        let mut got = Evicted::default();
        let ev = b.clear_each(&mut |e| {
            got += Evicted::one(e.len());
            evicted.push(seq_of(e));
        });
        assert_eq!(ev, got);
        ev_total += ev;
        assert_eq!(ev_total.records as usize, evicted.len());
        // Every pushed record is either replayed or evicted, exactly once.
        let mut all: Vec<u64> = replayed.iter().chain(evicted.iter()).copied().collect();
        all.sort_unstable();
        assert_eq!(all, pushed);
    }
}
