//! A custom sink that panics is treated as one that fails: the panic is
//! caught and counted, the other sinks and the engine go on (producers under
//! `Overflow::Block` keep logging, `flush()` completes), and once the sink
//! stops panicking it receives the lines it missed, whole and in order.

mod common;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use datapunk_log::{MemorySink, Overflow, Sink};

#[derive(Clone, Default)]
struct Explodes {
    armed: Arc<AtomicBool>,
    inner: MemorySink,
}

impl Sink for Explodes {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.armed.load(Ordering::SeqCst) {
            panic!("sink exploded");
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.armed.load(Ordering::SeqCst) {
            panic!("sink exploded while flushing");
        }
        Ok(())
    }
}

fn numbers(sink: &MemorySink) -> Vec<u64> {
    common::lines_of(sink)
        .iter()
        .filter(|l| l.message() == "n")
        .map(|l| l.u64("i"))
        .collect()
}

#[test]
fn a_panicking_sink_is_retried_and_the_others_go_on() {
    let exploding = Explodes::default();
    let healthy = MemorySink::new();
    let _guard = datapunk_log::builder()
        .sink(Box::new(exploding.clone()))
        .memory(&healthy)
        .ring_capacity(1 << 16)
        .overflow(Overflow::Block)
        .ignore_env()
        .panic_hook(false)
        .init()
        .expect("init");
    for i in 0..10u64 {
        datapunk_log::info!(i, "n");
    }
    assert!(datapunk_log::flush_timeout(std::time::Duration::from_secs(
        30
    )));
    exploding.armed.store(true, Ordering::SeqCst);
    // Many times the ring's size under Overflow::Block: the writer must go
    // on draining for these calls to return.
    let big = "q".repeat(200);
    for i in 10..2000u64 {
        datapunk_log::info!(i, big = big.as_str(), "n");
    }
    assert!(datapunk_log::flush_timeout(std::time::Duration::from_secs(
        30
    )));
    let s = datapunk_log::stats();
    assert!(s.sink_panics >= 1, "{s:?}");
    assert!(s.sink_errors >= s.sink_panics, "{s:?}");
    assert_eq!(s.dropped, 0, "{s:?}");
    assert_eq!(numbers(&healthy), (0..2000).collect::<Vec<_>>());
    // The exploding sink has its first ten lines and a backlog of the rest
    // (8 MiB of backlog hold them all); disarmed, it gets them at the next
    // flush, in order.
    assert_eq!(numbers(&exploding.inner), (0..10).collect::<Vec<_>>());
    exploding.armed.store(false, Ordering::SeqCst);
    datapunk_log::info!(i = 2000u64, "n");
    assert!(datapunk_log::flush_timeout(std::time::Duration::from_secs(
        30
    )));
    assert_eq!(numbers(&exploding.inner), (0..2001).collect::<Vec<_>>());
    assert_eq!(datapunk_log::stats().sink_lost, 0);
}
