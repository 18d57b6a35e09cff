//! `flush()` must cover a thread whose first call (which creates its ring)
//! happened before the flush, even while the writer is busy adopting a crowd
//! of other new rings. A crowd of threads makes their first calls at once;
//! meanwhile fresh threads log one record each, are joined, and the main
//! thread flushes: the fresh record must be in the sink when flush returns.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[test]
fn flush_covers_rings_created_just_before_it() {
    let (sink, _guard) = common::memory_engine(|b| {
        // Without the barrier, nothing would be written for a minute.
        b.order_window(Duration::from_secs(60))
    });

    const CROWD: usize = 100;
    const FRESH_PER_ROUND: u64 = 8;
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut round = 0u64;
    let mut missed = Vec::new();
    let mut all = Vec::new();
    while Instant::now() < deadline && round < 12 {
        round += 1;
        let start = Arc::new(Barrier::new(CROWD + 1));
        let crowd: Vec<_> = (0..CROWD)
            .map(|_| {
                let start = start.clone();
                // Long names full of characters to escape make adopting each
                // new ring slower, widening the writer's adoption phase.
                std::thread::Builder::new()
                    .name("\"".repeat(4096))
                    .spawn(move || {
                        start.wait();
                        datapunk_log::info!(target: "crowd", round);
                    })
                    .unwrap()
            })
            .collect();
        start.wait();
        for k in 0..FRESH_PER_ROUND {
            std::thread::spawn(move || datapunk_log::info!(target: "fresh", round, k))
                .join()
                .unwrap();
            datapunk_log::flush();
            // The record can only have been written by this flush (the
            // ordering window holds everything else back).
            let chunk = sink.take();
            let needle = format!("\"round\":{round},\"k\":{k}}}");
            if !String::from_utf8_lossy(&chunk).contains(&needle) {
                missed.push((round, k));
            }
            all.extend_from_slice(&chunk);
        }
        for c in crowd {
            c.join().unwrap();
        }
    }
    // Every record did arrive eventually.
    datapunk_log::flush();
    all.extend_from_slice(&sink.take());
    let text = String::from_utf8(all).expect("UTF-8");
    let fresh: Vec<_> = text
        .lines()
        .filter(|l| l.contains("\"target\":\"fresh\""))
        .map(common::parse_line)
        .collect();
    assert_eq!(fresh.len() as u64, round * FRESH_PER_ROUND);
    let crowd = text
        .lines()
        .filter(|l| l.contains("\"target\":\"crowd\""))
        .count() as u64;
    assert_eq!(crowd, round * CROWD as u64);
    assert_eq!(text.lines().count() as u64, crowd + fresh.len() as u64);
    assert!(
        missed.is_empty(),
        "flush() returned before a fresh thread's record was written in {} of {} \
         flushes (round, k): {missed:?}",
        missed.len(),
        round * FRESH_PER_ROUND
    );
}
