//! A custom sink that panics takes down only the writer: `flush()` returns,
//! producers under `Overflow::Block` do not hang once their ring is full
//! (their records are counted as dropped), and the process carries on.

mod common;

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

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
        Ok(())
    }
}

/// Runs `f` on a thread; fails the test if it does not finish in time.
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{what} hangs"))
}

fn bulk(i: u64, big: &str) {
    datapunk_log::info!(i, big, "bulk");
}

#[test]
fn panicking_sink_does_not_hang_the_application() {
    let sink = Explodes::default();
    let _guard = datapunk_log::builder()
        .sink(Box::new(sink.clone()))
        .ring_capacity(4096)
        .overflow(Overflow::Block)
        .ignore_env()
        .init()
        .expect("init");

    for i in 0..10u64 {
        datapunk_log::info!(i, "healthy");
    }
    // Registers the call site used after the writer died.
    bulk(0, "registered while healthy");
    datapunk_log::flush();
    assert_eq!(common::lines_of(&sink.inner).len(), 11);

    sink.armed.store(true, Ordering::SeqCst);
    datapunk_log::info!("this write panics the writer");
    bounded("flush() after the writer died", || {
        datapunk_log::flush_timeout(Duration::from_secs(20))
    });
    bounded(
        "flush() without timeout after the writer died",
        datapunk_log::flush,
    );

    // The ring (4 KiB) fills up; blocked calls must give up, not spin forever.
    let produced = bounded("logging under Block after the writer died", || {
        let big = "q".repeat(200);
        for i in 0..500u64 {
            bulk(i, &big);
        }
        500u64
    });
    let s = datapunk_log::stats();
    assert_eq!(s.written, 11, "{s:?}");
    assert!(s.dropped > 0, "{s:?}");
    assert_eq!(s.produced, 11 + 1 + produced, "{s:?}");
    // A call site first used after the writer died is discarded at once.
    datapunk_log::warn!("new call site");
    assert_eq!(datapunk_log::stats().discarded, s.discarded + 1);
    assert!(s.dropped <= produced);
}
