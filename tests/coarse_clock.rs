//! `ClockSource::Coarse`: timestamps are well-formed, close to the wall
//! clock, never go backwards within a thread, and advance over time.

mod common;

use std::time::Duration;

use datapunk_log::ClockSource;

#[test]
fn coarse_timestamps() {
    let (sink, _guard) = common::memory_engine(|b| b.clock(ClockSource::Coarse));

    let before = common::now_nanos();
    for group in 0..10u64 {
        for i in 0..20u64 {
            datapunk_log::info!(group, i);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    datapunk_log::flush();
    let after = common::now_nanos();

    let lines = common::lines_of(&sink);
    assert_eq!(lines.len(), 200);
    let stamps: Vec<u64> = lines.iter().map(|l| l.timestamp_nanos()).collect();
    // A sanity bound, not a timing assertion: the stamps are today's time.
    let slack = 5_000_000_000;
    for (l, ts) in lines.iter().zip(&stamps) {
        assert!(
            *ts + slack >= before && *ts <= after + slack,
            "{} is far from now",
            l.str("timestamp")
        );
    }
    assert!(
        stamps.windows(2).all(|w| w[0] <= w[1]),
        "coarse time went backwards"
    );
    let distinct: std::collections::BTreeSet<u64> = stamps.iter().copied().collect();
    assert!(distinct.len() >= 2, "the coarse clock never advanced");
}
