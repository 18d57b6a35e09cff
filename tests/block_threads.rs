//! `Overflow::Block` with a small ring: N threads × M records all arrive,
//! each thread's records in order, and the counters agree with the output.

mod common;

use std::collections::HashMap;

use datapunk_log::Overflow;

const THREADS: u64 = 4;
const PER_THREAD: u64 = 20_000;

#[test]
fn blocking_threads_lose_nothing_and_keep_order() {
    let (sink, _guard) = common::memory_engine(|b| {
        b.overflow(Overflow::Block)
            .ring_capacity(8192)
            .batch_bytes(16 * 1024)
    });

    common::run_named_threads("bt", THREADS, |t| {
        let pad = "x".repeat(40 + t as usize * 30);
        for seq in 0..PER_THREAD {
            if seq % 3 == 0 {
                // The formatting (scratch-buffer) path.
                datapunk_log::info!(target: "bt", t, seq, pad = pad.as_str(), "rec {}", seq);
            } else {
                // The size-known (direct) path.
                datapunk_log::info!(target: "bt", t, seq, pad = pad.as_str());
            }
        }
    });
    datapunk_log::flush();

    let bytes = sink.contents();
    let lines = common::parse_bytes(&bytes);
    assert_eq!(lines.len() as u64, THREADS * PER_THREAD);
    let mut next: HashMap<u64, u64> = HashMap::new();
    for l in &lines {
        assert_eq!(l.target(), "bt");
        let t = l.u64("t");
        let seq = l.u64("seq");
        assert_eq!(l.str("thread"), format!("bt-{t}"));
        assert_eq!(l.str("pad").len(), 40 + t as usize * 30);
        let want = next.entry(t).or_insert(0);
        assert_eq!(seq, *want, "thread {t}: records out of order or missing");
        *want += 1;
        if seq % 3 == 0 {
            assert_eq!(l.message(), format!("rec {seq}"));
        } else {
            assert_eq!(l.message(), "");
        }
    }
    assert_eq!(next.len() as u64, THREADS);
    assert!(next.values().all(|&n| n == PER_THREAD));

    let s = datapunk_log::stats();
    assert_eq!(s.produced, THREADS * PER_THREAD);
    assert_eq!(s.written, THREADS * PER_THREAD);
    assert_eq!(s.dropped, 0);
    assert_eq!(s.notices, 0);
    assert_eq!(s.corrupt, 0);
    assert_eq!(s.truncated, 0);
    assert_eq!(s.sink_errors, 0);
    assert_eq!(s.bytes, bytes.len() as u64);
}
