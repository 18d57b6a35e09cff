//! A sink that logs (as one built on a crate that logs would) does not feed
//! the writer its own records: they are discarded and counted, nothing loops
//! back, and under `Overflow::Block` with a small ring the writer does not
//! wait on itself.

mod common;

use std::io;
use std::time::Duration;

use datapunk_log::{MemorySink, Overflow, Sink};

#[derive(Clone, Default)]
struct Chatty {
    inner: MemorySink,
}

impl Sink for Chatty {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.iter().filter(|&&b| b == b'\n').count() as u64;
        datapunk_log::info!(target: "sink.inner", lines = n, "the sink wrote");
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        datapunk_log::debug!(target: "sink.inner", "the sink flushed");
        Ok(())
    }
}

#[test]
fn a_sink_that_logs_does_not_loop_back() {
    let sink = Chatty::default();
    let _guard = datapunk_log::builder()
        .sink(Box::new(sink.clone()))
        .filter("trace")
        .ring_capacity(4096)
        .overflow(Overflow::Block)
        .ignore_env()
        .init()
        .expect("init");
    let before = datapunk_log::stats();
    for i in 0..500u64 {
        datapunk_log::info!(target: "app", i, pad = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "app");
    }
    assert!(datapunk_log::flush_timeout(Duration::from_secs(30)));
    let lines = common::lines_of(&sink.inner);
    let app: Vec<u64> = lines
        .iter()
        .filter(|l| l.message() == "app")
        .map(|l| l.u64("i"))
        .collect();
    assert_eq!(app, (0..500).collect::<Vec<_>>());
    assert!(
        lines.iter().all(|l| l.str("target") != "sink.inner"),
        "the sink's own records came back"
    );
    let s = datapunk_log::stats();
    assert!(s.discarded > before.discarded, "{s:?}");
    assert_eq!(s.dropped, 0, "{s:?}");
}
