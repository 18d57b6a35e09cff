//! A sink that fails for a while, then takes only a few bytes per write,
//! then recovers: it ends with exactly the lines a healthy sink got, in
//! order, none torn or repeated; errors are counted; nothing is lost.

mod common;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datapunk_log::Sink;

const OK: u8 = 0;
const FAILING: u8 = 1;
const SHORT: u8 = 2;

#[derive(Clone, Default)]
struct Flaky {
    mode: Arc<AtomicU8>,
    out: Arc<Mutex<Vec<u8>>>,
    failed_writes: Arc<AtomicU64>,
    flush_fails: Arc<AtomicBool>,
}

impl Sink for Flaky {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.mode.load(Ordering::SeqCst) {
            FAILING => {
                self.failed_writes.fetch_add(1, Ordering::SeqCst);
                Err(io::Error::other("disk full"))
            }
            SHORT => {
                let n = buf.len().min(7);
                self.out.lock().unwrap().extend_from_slice(&buf[..n]);
                Ok(n)
            }
            _ => {
                self.out.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.flush_fails.load(Ordering::SeqCst) {
            return Err(io::Error::other("fsync failed"));
        }
        Ok(())
    }
}

fn log_batch(phase: &str, from: u64, n: u64) {
    for i in from..from + n {
        datapunk_log::info!(target: "se", phase, i, "record {}", i);
    }
}

#[test]
fn failing_sink_recovers_without_loss() {
    let flaky = Flaky::default();
    let (mem, _guard) =
        common::memory_engine_on(datapunk_log::builder().sink(Box::new(flaky.clone())), |b| {
            b.batch_bytes(4096)
        });

    log_batch("ok", 0, 100);
    datapunk_log::flush();
    assert_eq!(*flaky.out.lock().unwrap(), mem.contents());
    assert_eq!(datapunk_log::stats().sink_errors, 0);

    flaky.mode.store(FAILING, Ordering::SeqCst);
    for round in 0..5 {
        log_batch("failing", 100 + round * 200, 200);
        // The barrier completes even while a sink fails.
        assert!(datapunk_log::flush_timeout(std::time::Duration::from_secs(
            30
        )));
    }
    // The healthy sink got everything meanwhile.
    assert_eq!(common::lines_of(&mem).len(), 1100);
    assert_eq!(common::parse_bytes(&flaky.out.lock().unwrap()).len(), 100);
    let s = datapunk_log::stats();
    assert!(s.sink_errors > 0, "{s:?}");
    assert!(flaky.failed_writes.load(Ordering::SeqCst) > 0);

    flaky.mode.store(SHORT, Ordering::SeqCst);
    log_batch("short", 1100, 100);
    datapunk_log::flush();

    flaky.mode.store(OK, Ordering::SeqCst);
    log_batch("ok-again", 1200, 100);
    datapunk_log::flush();

    let got = flaky.out.lock().unwrap().clone();
    assert_eq!(
        got,
        mem.contents(),
        "the recovered sink differs from the healthy one"
    );
    let lines = common::parse_bytes(&got);
    let ids: Vec<u64> = lines.iter().map(|l| l.u64("i")).collect();
    assert_eq!(ids, (0..1300).collect::<Vec<_>>());
    let s = datapunk_log::stats();
    assert_eq!(s.written, 1300);
    assert_eq!(s.sink_lost, 0, "{s:?}");

    // A failing `Sink::flush` is counted, and loses nothing.
    flaky.flush_fails.store(true, Ordering::SeqCst);
    log_batch("flush-fails", 1300, 10);
    assert!(datapunk_log::flush_timeout(std::time::Duration::from_secs(
        30
    )));
    let after = datapunk_log::stats();
    assert!(after.sink_errors > s.sink_errors, "{after:?}");
    flaky.flush_fails.store(false, Ordering::SeqCst);
    datapunk_log::flush();
    assert_eq!(*flaky.out.lock().unwrap(), mem.contents());
    assert_eq!(common::lines_of(&mem).len(), 1310);
}
