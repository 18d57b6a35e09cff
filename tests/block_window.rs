//! `Overflow::Block` with a tiny ring and a huge ordering window: a full ring
//! is drained regardless of the window, so producers never deadlock waiting
//! for records the writer would otherwise hold back.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use datapunk_log::Overflow;

#[test]
fn full_rings_are_drained_despite_the_window() {
    let (sink, _guard) = common::memory_engine(|b| {
        b.overflow(Overflow::Block)
            .ring_capacity(4096)
            .order_window(Duration::from_secs(600))
    });

    const THREADS: u64 = 2;
    const PER_THREAD: u64 = 3000;
    let (tx, rx) = mpsc::channel();
    for t in 0..THREADS {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for seq in 0..PER_THREAD {
                datapunk_log::info!(t, seq, pad = "0123456789012345678901234567890123456789");
            }
            tx.send(t).unwrap();
        });
    }
    for _ in 0..THREADS {
        rx.recv_timeout(Duration::from_secs(60))
            .expect("a producer is stuck on a full ring the writer holds back");
    }
    // Most records were written under ring pressure, before any flush.
    let before_flush = common::lines_of(&sink).len() as u64;
    assert!(before_flush > 0);
    datapunk_log::flush();
    let lines = common::lines_of(&sink);
    assert_eq!(lines.len() as u64, THREADS * PER_THREAD);
    for t in 0..THREADS {
        let seqs = common::seqs_of(&lines, t);
        assert_eq!(seqs, (0..PER_THREAD).collect::<Vec<_>>());
    }
    let s = datapunk_log::stats();
    assert_eq!((s.produced, s.written, s.dropped), (6000, 6000, 0));
}
