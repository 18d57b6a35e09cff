//! A sink that takes part of a line and then fails, with a retry backlog
//! smaller than a line: the output must still never hold a torn line (the
//! documented promise of the retry backlog), and what is lost is counted.

mod common;

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use datapunk_log::Sink;

/// While failing: accepts 10 bytes at a line start, then errors.
#[derive(Clone, Default)]
struct TearsThenFails {
    failing: Arc<AtomicBool>,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Sink for TearsThenFails {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = self.out.lock().unwrap();
        if !self.failing.load(Ordering::SeqCst) {
            out.extend_from_slice(buf);
            return Ok(buf.len());
        }
        if out.is_empty() || out.ends_with(b"\n") {
            let n = buf.len().min(10);
            out.extend_from_slice(&buf[..n]);
            return Ok(n);
        }
        Err(io::Error::other("device gone"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_torn_line_with_a_backlog_smaller_than_a_line() {
    let sink = TearsThenFails::default();
    let (mem, _guard) =
        common::memory_engine_on(datapunk_log::builder().sink(Box::new(sink.clone())), |b| {
            b.sink_backlog(64)
        });

    sink.failing.store(true, Ordering::SeqCst);
    for i in 0..20u64 {
        datapunk_log::info!(target: "torn", i, pad = "a line longer than the 64-byte backlog");
    }
    datapunk_log::flush();
    sink.failing.store(false, Ordering::SeqCst);
    for i in 20..25u64 {
        datapunk_log::info!(target: "torn", i, "after recovery");
    }
    datapunk_log::flush();

    assert_eq!(common::lines_of(&mem).len(), 25);
    let out = sink.out.lock().unwrap().clone();
    let text = String::from_utf8(out).expect("UTF-8");
    for line in text.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "torn line in the sink's output: {line:?}"
        );
    }
    let s = datapunk_log::stats();
    assert_eq!(text.lines().count() as u64 + s.sink_lost, 25, "{s:?}");
}
