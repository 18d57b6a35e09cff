//! `Overflow::Drop` with the smallest ring: records are dropped, never
//! blocked on; every record is accounted for; the writer's WARN notices
//! report exactly the dropped counts.

mod common;

use std::collections::HashMap;

use datapunk_log::Overflow;

const THREADS: u64 = 4;
const PER_THREAD: u64 = 10_000; // 200 bursts of 50

#[test]
fn dropped_records_are_counted_and_reported() {
    let (sink, _guard) = common::memory_engine(|b| b.overflow(Overflow::Drop).ring_capacity(4096));

    common::run_named_threads("drop", THREADS, |t| {
        let big = "y".repeat(600);
        for seq in 0..PER_THREAD {
            // Bursts with pauses: drops are reported while the threads live,
            // not only when they exit.
            if seq % 50 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            if seq % 2 == 0 {
                datapunk_log::info!(target: "dr", t, seq, big = big.as_str());
            } else {
                datapunk_log::info!(target: "dr", t, seq, big = %big, "m{}", seq);
            }
        }
    });
    datapunk_log::flush();

    let lines = common::lines_of(&sink);
    let s = datapunk_log::stats();
    assert_eq!(s.produced, THREADS * PER_THREAD);
    assert!(s.dropped > 0, "a 4 KiB ring never overflowed: {s:?}");
    assert_eq!(s.written + s.dropped, s.produced, "{s:?}");

    let (notices, records): (Vec<_>, Vec<_>) =
        lines.iter().partition(|l| l.target() == "datapunk_log");
    assert_eq!(
        records.len() as u64,
        s.written,
        "notices are not counted as written"
    );
    assert_eq!(notices.len() as u64, s.notices);

    // Each thread's surviving records are in order (gaps allowed).
    let mut last: HashMap<u64, u64> = HashMap::new();
    let mut kept: HashMap<String, u64> = HashMap::new();
    for l in &records {
        assert_eq!(l.target(), "dr");
        let (t, seq) = (l.u64("t"), l.u64("seq"));
        if let Some(prev) = last.insert(t, seq) {
            assert!(seq > prev, "thread {t}: {seq} after {prev}");
        }
        assert_eq!(l.str("big").len(), 600);
        *kept.entry(l.str("thread").to_owned()).or_default() += 1;
    }

    // Notices: WARN from the engine, per thread, summing to the drops.
    let mut dropped_by_thread: HashMap<String, u64> = HashMap::new();
    let mut total_by_thread: HashMap<String, u64> = HashMap::new();
    for n in &notices {
        assert_eq!(n.str("level"), "WARN");
        assert_eq!(n.message(), "records dropped: ring full");
        let thread = n.str("thread").to_owned();
        assert!(thread.starts_with("drop-"), "{}", n.raw);
        let d = n.u64("dropped");
        assert!(d > 0);
        let sum = dropped_by_thread.entry(thread.clone()).or_default();
        *sum += d;
        // `dropped_total` is the running total of that thread.
        assert_eq!(n.u64("dropped_total"), *sum, "{}", n.raw);
        total_by_thread.insert(thread, n.u64("dropped_total"));
    }
    let notice_sum: u64 = dropped_by_thread.values().sum();
    assert_eq!(notice_sum, s.dropped);
    // Per thread: kept + dropped == produced.
    for t in 0..THREADS {
        let name = format!("drop-{t}");
        let k = kept.get(&name).copied().unwrap_or(0);
        let d = dropped_by_thread.get(&name).copied().unwrap_or(0);
        assert_eq!(k + d, PER_THREAD, "thread {name}");
    }
    // The threads exited: their rings are retired once drained and reported.
    assert!(
        common::wait_until(std::time::Duration::from_secs(10), || {
            datapunk_log::stats().threads == 0
        }),
        "rings were not retired: {:?}",
        datapunk_log::stats()
    );
    let after = datapunk_log::stats();
    assert_eq!(after.produced, s.produced);
    assert_eq!(after.dropped, s.dropped);
}
