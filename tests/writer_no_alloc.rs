//! After warm-up, the whole process, the writer thread included, allocates
//! nothing while records are captured, encoded and written to a sink: the
//! writer reuses its batch buffer and per-call-site keys.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: defers to the system allocator and only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Discards batches without allocating.
struct Discard;
impl datapunk_log::Sink for Discard {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_batch(n: u64) {
    let route = "/api/v1/items";
    for i in 0..n {
        let latency = i as f64 / 7.0;
        datapunk_log::info!(user_id = i, latency, route, ok = true, "request handled");
        datapunk_log::warn!(attempt = i, "retry {} of {}", i, n);
    }
}

#[test]
fn steady_state_allocates_nothing_anywhere() {
    let _guard = datapunk_log::builder()
        .sink(Box::new(Discard))
        .ignore_env()
        .ring_capacity(1 << 20)
        .init()
        .expect("init");
    // Warm-up: the thread's ring, the writer's first sight of each call site,
    // the batch buffer's growth to its high-water mark.
    for _ in 0..3 {
        log_batch(5_000);
        datapunk_log::flush();
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..5 {
        log_batch(5_000);
        datapunk_log::flush();
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    let stats = datapunk_log::stats();
    assert_eq!(stats.written, 8 * 10_000);
    assert_eq!(stats.dropped, 0);
    assert_eq!(after - before, 0, "allocations during steady logging");
}
