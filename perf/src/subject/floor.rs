//! The floor: what any capture of this record costs at least on this
//! machine, measured beside the loggers (DESIGN.md, "Performance: how it is
//! judged"). Each call reads the TSC once (the harness's own unfenced read,
//! [`crate::tsc::now`]) and pushes one 64-byte record — the timestamp, the
//! call's `u64` and `f64`, and the route's first 39 bytes with their length,
//! padded — into the producer thread's `rtrb` ring. A drain thread wakes
//! every 200 µs and pops everything, checking each record (user ids never
//! decreasing: one producer, in order; the route's bytes); it writes
//! nothing.
//!
//! No level check, no formatting, no file: a logger's figure over the
//! floor's is what the logger adds to the capture itself. The disabled call
//! is a relaxed load of a level and a branch. A full ring drops the record
//! and counts it (Overflow::Drop, the latency scenario's policy); with
//! Overflow::Block (`--probe`) the call waits for the drain. The floor runs the latency
//! scenario only: its drain writes nothing, so a records/s figure would
//! only measure the ring's size over the drain's wake-up period.

use std::cell::{Cell, UnsafeCell};
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{DRAIN_LIMIT, Finished, Logger, Setup, wait_until};
use crate::profile::OverflowKind;
use crate::scenario::ROUTE;

/// How long the drain sleeps between passes.
pub const DRAIN_PERIOD: Duration = Duration::from_micros(200);

/// Bytes of the route a record holds.
const ROUTE_BYTES: usize = 39;

/// One captured call: 64 bytes, one cache line.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Record {
    ts: u64,
    user_id: u64,
    latency: f64,
    route_len: u8,
    route: [u8; ROUTE_BYTES],
}

const _: () = assert!(std::mem::size_of::<Record>() == 64);

/// Levels as the floor's filter compares them (lower = more severe).
const DEBUG: u8 = 4;
const INFO: u8 = 3;

/// The floor's level filter: INFO, as every subject's.
static LEVEL: AtomicU8 = AtomicU8::new(INFO);

/// What the drain thread counted.
#[derive(Default)]
struct DrainCounts {
    /// Records popped.
    popped: AtomicU64,
    /// Of them, records that failed the check (user id below the
    /// previous one, or a route that is not the harness's).
    bad: AtomicU64,
    /// Passes that found the ring non-empty.
    busy_wakes: AtomicU64,
}

pub struct Floor {
    /// The producer thread's end of its ring. `Floor` is not `Sync` (the
    /// `UnsafeCell`), so only the thread that owns it calls `log`.
    producer: UnsafeCell<rtrb::Producer<Record>>,
    /// Records a full ring refused (Overflow::Drop semantics).
    dropped: Cell<u64>,
    /// Overflow::Block (the `--probe` run): a full ring is waited for.
    block: bool,
    capacity: usize,
    stop: Arc<AtomicBool>,
    counts: Arc<DrainCounts>,
    drain: Option<JoinHandle<()>>,
}

impl Floor {
    pub fn new(setup: &Setup) -> Result<Floor, String> {
        let bytes = setup
            .ring_capacity
            .unwrap_or(datapunk_log::DEFAULT_RING_CAPACITY);
        let capacity = (bytes / std::mem::size_of::<Record>()).max(1);
        let (producer, consumer) = rtrb::RingBuffer::<Record>::new(capacity);
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(DrainCounts::default());
        let drain = {
            let (stop, counts) = (stop.clone(), counts.clone());
            std::thread::Builder::new()
                .name("floor-drain".into())
                .spawn(move || drain(consumer, &stop, &counts))
                .map_err(|e| format!("cannot start the floor's drain thread: {e}"))?
        };
        Ok(Floor {
            producer: UnsafeCell::new(producer),
            dropped: Cell::new(0),
            block: setup.overflow == OverflowKind::Block,
            capacity,
            stop,
            counts,
            drain: Some(drain),
        })
    }

    fn accounted(&self) -> u64 {
        self.counts.popped.load(Ordering::Acquire) + self.dropped.get()
    }
}

impl Drop for Floor {
    /// Stops the drain thread when `finish` did not (a failed scenario).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// The drain thread: every 200 µs, pops everything and checks it.
fn drain(mut c: rtrb::Consumer<Record>, stop: &AtomicBool, counts: &DrainCounts) {
    let route = ROUTE.as_bytes();
    let want_len = route.len().min(ROUTE_BYTES);
    let mut last: Option<u64> = None;
    loop {
        // Read before the pass, so the pass after `stop` empties the ring.
        let stopping = stop.load(Ordering::Acquire);
        let n = c.slots();
        if n > 0 {
            let chunk = c.read_chunk(n).expect("n slots are readable");
            let (a, b) = chunk.as_slices();
            let mut bad = 0;
            for r in a.iter().chain(b) {
                let ok_id = last.is_none_or(|l| r.user_id >= l);
                let ok_route = r.route_len as usize == want_len
                    && r.route[..want_len] == route[..want_len]
                    && r.ts != 0
                    && r.latency.is_finite();
                if !(ok_id && ok_route) {
                    bad += 1;
                }
                last = Some(r.user_id);
            }
            chunk.commit_all();
            counts.bad.fetch_add(bad, Ordering::Relaxed);
            counts.busy_wakes.fetch_add(1, Ordering::Relaxed);
            counts.popped.fetch_add(n as u64, Ordering::Release);
        }
        if stopping {
            return;
        }
        std::thread::sleep(DRAIN_PERIOD);
    }
}

impl Floor {
    /// A full ring: the record is dropped and counted, or (Block) the drain
    /// waited for.
    #[cold]
    #[inline(never)]
    fn full(&self, producer: &mut rtrb::Producer<Record>, mut rec: Record) {
        if !self.block {
            self.dropped.set(self.dropped.get() + 1);
            return;
        }
        while let Err(rtrb::PushError::Full(r)) = producer.push(rec) {
            rec = r;
            std::thread::sleep(Duration::from_micros(10));
        }
    }
}

impl Logger for Floor {
    #[inline(always)]
    fn log(&self, user_id: u64, latency: f64, route: &str) {
        let ts = crate::tsc::now();
        let n = route.len().min(ROUTE_BYTES);
        let mut bytes = [0u8; ROUTE_BYTES];
        bytes[..n].copy_from_slice(&route.as_bytes()[..n]);
        let rec = Record {
            ts,
            user_id,
            latency,
            route_len: n as u8,
            route: bytes,
        };
        // SAFETY: `Floor` is `!Sync` (it holds an `UnsafeCell`), so `log`
        // runs only on the thread that owns it, and nothing in `log`
        // re-enters it: this is the only reference to the producer while it
        // lives.
        let producer = unsafe { &mut *self.producer.get() };
        if let Err(rtrb::PushError::Full(rec)) = producer.push(rec) {
            self.full(producer, rec);
        }
    }

    /// A relaxed load of the level and a branch.
    #[inline(always)]
    fn log_disabled(&self, user_id: u64, latency: f64, route: &str) {
        if DEBUG <= LEVEL.load(Ordering::Relaxed) {
            self.log(user_id, latency, route);
        }
    }

    fn dropped(&self) -> Option<u64> {
        Some(self.dropped.get())
    }

    /// Writes every slot of the ring without committing it (nothing is
    /// published), so its pages are backed before the timed calls.
    fn prefault(&self, _route: &str) -> u64 {
        // SAFETY: as in `log`: the owning thread, no other reference.
        let producer = unsafe { &mut *self.producer.get() };
        let free = producer.slots();
        if let Ok(mut chunk) = producer.write_chunk_uninit(free) {
            let (a, b) = chunk.as_mut_slices();
            for slot in a.iter_mut().chain(b.iter_mut()) {
                *slot = MaybeUninit::zeroed();
            }
            // Dropped uncommitted: the consumer sees none of it.
        }
        0
    }

    fn settle(&self, calls: u64) {
        wait_until(DRAIN_LIMIT, || self.accounted() >= calls);
    }

    fn finish(mut self, calls: u64) -> Result<Finished, String> {
        if !wait_until(DRAIN_LIMIT, || self.accounted() >= calls) {
            return Err(format!(
                "the floor's drain popped {} of {calls} records in {DRAIN_LIMIT:?}",
                self.accounted()
            ));
        }
        let drained_at = Instant::now();
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.drain.take() {
            h.join()
                .map_err(|_| "the floor's drain thread panicked".to_string())?;
        }
        let popped = self.counts.popped.load(Ordering::Acquire);
        let bad = self.counts.bad.load(Ordering::Relaxed);
        let dropped = self.dropped.get();
        if bad > 0 {
            return Err(format!(
                "the floor's drain found {bad} of {popped} records out of order or corrupt"
            ));
        }
        if popped + dropped != calls {
            return Err(format!(
                "the floor popped {popped} and dropped {dropped} records of {calls} calls"
            ));
        }
        Ok(Finished {
            drained_at,
            extra_lines: 0,
            dropped: Some(dropped),
            stats: Some(serde_json::json!({
                "ring_slots": self.capacity,
                "record_bytes": std::mem::size_of::<Record>(),
                "popped": popped,
                "checked": popped,
                "dropped": dropped,
                "drain_period_us": DRAIN_PERIOD.as_micros() as u64,
                "busy_wakes": self.counts.busy_wakes.load(Ordering::Relaxed),
            })),
            consumed: Some(popped),
        })
    }
}
