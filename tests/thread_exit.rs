//! Threads that log and exit at once lose nothing; their rings are retired
//! (`stats().threads` goes back down); logging from thread-local destructors
//! is either written or counted, never lost silently and never a crash.

mod common;

use std::time::Duration;

const BATCHES: u64 = 25;
const PER_BATCH: u64 = 8;
const RECORDS: u64 = 10;

struct LogsOnDrop(u64);

impl Drop for LogsOnDrop {
    fn drop(&mut self) {
        datapunk_log::info!(target: "te.dtor", id = self.0, "from a TLS destructor");
    }
}

thread_local! {
    static DTOR: std::cell::RefCell<Option<LogsOnDrop>> = const { std::cell::RefCell::new(None) };
}

#[test]
fn short_lived_threads_lose_nothing() {
    let (sink, _guard) = common::memory_engine(|b| b);

    // The main thread keeps a ring for the whole test.
    datapunk_log::info!(target: "te.main", "start");
    datapunk_log::flush();
    assert_eq!(datapunk_log::stats().threads, 1);

    for b in 0..BATCHES {
        let hs: Vec<_> = (0..PER_BATCH)
            .map(|i| {
                let id = b * PER_BATCH + i;
                std::thread::spawn(move || {
                    for seq in 0..RECORDS {
                        datapunk_log::info!(target: "te", id, seq);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    }
    datapunk_log::flush();
    let lines: Vec<_> = common::lines_of(&sink)
        .into_iter()
        .filter(|l| l.target() == "te")
        .collect();
    let threads = BATCHES * PER_BATCH;
    assert_eq!(lines.len() as u64, threads * RECORDS);
    let mut per_thread = vec![Vec::new(); threads as usize];
    for l in &lines {
        per_thread[l.u64("id") as usize].push(l.u64("seq"));
    }
    for (id, seqs) in per_thread.iter().enumerate() {
        assert_eq!(seqs, &(0..RECORDS).collect::<Vec<_>>(), "thread {id}");
    }

    // Exited threads' rings are retired once drained.
    assert!(
        common::wait_until(Duration::from_secs(10), || datapunk_log::stats().threads
            == 1),
        "rings of exited threads were not retired: {:?}",
        datapunk_log::stats()
    );
    let s = datapunk_log::stats();
    assert_eq!(s.produced, threads * RECORDS + 1, "{s:?}");
    assert_eq!(s.written, s.produced, "{s:?}");

    // Logging from a TLS destructor, on a thread that logged before and on
    // one whose first call is in the destructor.
    let before = datapunk_log::stats();
    for (id, logs_first) in [(1u64, true), (2, false)] {
        std::thread::spawn(move || {
            if logs_first {
                datapunk_log::info!(target: "te.dtor", id, "before exit");
            }
            DTOR.with(|d| *d.borrow_mut() = Some(LogsOnDrop(id)));
        })
        .join()
        .expect("a thread logging from a TLS destructor must exit cleanly");
    }
    datapunk_log::flush();
    let after = datapunk_log::stats();
    let dtor_lines = common::lines_of(&sink)
        .into_iter()
        .filter(|l| l.target() == "te.dtor" && l.message() == "from a TLS destructor")
        .count() as u64;
    let discarded = after.discarded - before.discarded;
    assert_eq!(
        dtor_lines + discarded,
        2,
        "each destructor call is written or counted as discarded: {after:?}"
    );
    assert_eq!(after.written, after.produced);
    assert!(
        common::wait_until(Duration::from_secs(10), || datapunk_log::stats().threads
            == 1),
        "{:?}",
        datapunk_log::stats()
    );
}
