//! `flush()` is a barrier: every record captured before it, on any thread,
//! is in the sink when it returns, including records of threads that made
//! their first call (created their ring) just before the flush.

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

const ROUNDS: u64 = 25;
const LONG_LIVED: u64 = 3;
const PER_ROUND: u64 = 300;
const FRESH: u64 = 3;

#[test]
fn flush_waits_for_every_thread() {
    let (sink, _guard) = common::memory_engine(|b| {
        // A long ordering window: without the barrier, recent records would
        // still be held back when flush() returns.
        b.order_window(Duration::from_secs(30))
            .idle_poll(Duration::from_millis(50))
    });

    // Long-lived threads log a round, then meet the main thread.
    let start = Arc::new(Barrier::new(LONG_LIVED as usize + 1));
    let done = Arc::new(Barrier::new(LONG_LIVED as usize + 1));
    let workers: Vec<_> = (0..LONG_LIVED)
        .map(|t| {
            let (start, done) = (start.clone(), done.clone());
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    start.wait();
                    for seq in 0..PER_ROUND {
                        datapunk_log::info!(target: "fb", round, t, seq);
                    }
                    done.wait();
                }
            })
        })
        .collect();

    for round in 0..ROUNDS {
        start.wait();
        // Fresh threads: their first call creates a ring right before the flush.
        let fresh: Vec<_> = (0..FRESH)
            .map(|f| {
                std::thread::spawn(move || {
                    datapunk_log::info!(target: "fb", round, t = 100 + f, seq = 0u64);
                })
            })
            .collect();
        for f in fresh {
            f.join().unwrap();
        }
        done.wait();
        datapunk_log::info!(target: "fb", round, t = 999u64, seq = 0u64);
        datapunk_log::flush();

        let lines = common::parse_bytes(&sink.take());
        let mine: Vec<_> = lines.iter().filter(|l| l.u64("round") == round).collect();
        assert_eq!(
            lines.len(),
            mine.len(),
            "round {round}: a later round's record appeared early"
        );
        let expected = LONG_LIVED * PER_ROUND + FRESH + 1;
        assert_eq!(
            mine.len() as u64,
            expected,
            "round {round}: flush returned before every record was written"
        );
        for t in 0..LONG_LIVED {
            let seqs = common::seqs_of(mine.iter().copied(), t);
            assert_eq!(
                seqs,
                (0..PER_ROUND).collect::<Vec<_>>(),
                "round {round} thread {t}"
            );
        }
    }
    for w in workers {
        w.join().unwrap();
    }
    let s = datapunk_log::stats();
    let total = ROUNDS * (LONG_LIVED * PER_ROUND + FRESH + 1);
    assert_eq!(s.produced, total);
    assert_eq!(s.written, total);

    // Concurrent flushes: each thread's own records are visible to it as soon
    // as its flush returns.
    let checkers: Vec<_> = (0..4u64)
        .map(|t| {
            let sink = sink.clone();
            std::thread::spawn(move || {
                for round in 0..10u64 {
                    for seq in 0..50u64 {
                        datapunk_log::info!(target: "fb.conc", t, round, seq);
                    }
                    assert!(datapunk_log::flush_timeout(Duration::from_secs(30)));
                    let text = String::from_utf8(sink.contents()).unwrap();
                    let n = text
                        .lines()
                        .map(common::parse_line)
                        .filter(|l| {
                            l.value["target"] == "fb.conc"
                                && l.u64("t") == t
                                && l.u64("round") == round
                        })
                        .count();
                    assert_eq!(n, 50, "thread {t} round {round}");
                }
            })
        })
        .collect();
    for c in checkers {
        c.join().unwrap();
    }
}
