//! Timestamps: each thread's records are strictly ordered; records of
//! different threads come out in timestamp order when the threads log with
//! small pauses (the writer merges within its ordering window).
//!
//! (tests/clock_monotonic.rs checks one thread's timestamps across the
//! clock's first recalibration; this file starts logging after it.)

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Barrier, Once};
use std::time::{Duration, Instant};

use common::lines_for;
use datapunk_log::MemorySink;

/// The engine all tests of this file share; the first call returns once the
/// clock's first recalibration has passed (see the module docs).
fn sink() -> &'static MemorySink {
    static SETTLED: Once = Once::new();
    // On the first call, the engine starts just after this.
    let init = Instant::now();
    let sink = common::shared_sink(|b| {
        // Generous, so that a preempted producer (2 cores, busy machine)
        // cannot push a record after a later one was written.
        b.order_window(Duration::from_millis(20))
    });
    SETTLED.call_once(|| {
        // Wait for the writer's first recalibration of the TSC rate (none
        // happens with another clock), polling its counter, bounded.
        while datapunk_log::__private::recalibrations().is_some_and(|n| n == 0) {
            assert!(
                init.elapsed() < Duration::from_secs(30),
                "the clock's first recalibration never came"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    sink
}

#[test]
fn interleaved_threads_come_out_in_timestamp_order() {
    sink();
    const PER_THREAD: u64 = 150;
    let start = Arc::new(Barrier::new(2));
    let hs: Vec<_> = (0..2u64)
        .map(|t| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                for seq in 0..PER_THREAD {
                    datapunk_log::info!(target: "ord", t, seq);
                    std::thread::sleep(Duration::from_micros(200 + 70 * t));
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let lines = lines_for(sink(), "ord");
    assert_eq!(lines.len() as u64, 2 * PER_THREAD);
    let stamps: Vec<u64> = lines.iter().map(|l| l.timestamp_nanos()).collect();
    for (i, w) in stamps.windows(2).enumerate() {
        assert!(
            w[0] <= w[1],
            "line {} goes back in time: {} then {}",
            i + 1,
            lines[i].str("timestamp"),
            lines[i + 1].str("timestamp")
        );
    }
    let mut last: HashMap<u64, (u64, u64)> = HashMap::new();
    for (l, ts) in lines.iter().zip(&stamps) {
        let (t, seq) = (l.u64("t"), l.u64("seq"));
        match last.insert(t, (seq, *ts)) {
            Some((pseq, pts)) => {
                assert_eq!(seq, pseq + 1);
                assert!(*ts > pts, "thread {t}: timestamp not strictly increasing");
            }
            None => assert_eq!(seq, 0),
        }
    }
    // The threads really interleaved.
    let switches = lines
        .windows(2)
        .filter(|w| w[0].u64("t") != w[1].u64("t"))
        .count();
    assert!(
        switches > 10,
        "threads did not interleave ({switches} switches)"
    );
}
