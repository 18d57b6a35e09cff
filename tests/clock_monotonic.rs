//! Timestamps of one thread never go backwards, across the writer's periodic
//! clock recalibrations. One thread logs continuously (groups of 16 records
//! with short pauses) from `init()` until the writer has recalibrated the TSC
//! rate twice (about 100 ms apart), with an ordering window of zero so that
//! records are converted to wall time in many small writer passes on both
//! sides of each recalibration.

mod common;

use std::time::{Duration, Instant};

#[test]
fn timestamps_of_one_thread_never_go_backwards() {
    let (sink, _guard) = common::memory_engine(|b| b.order_window(Duration::ZERO));
    let recalibrations = datapunk_log::__private::recalibrations;
    let first = recalibrations();

    // Bounded in count and time; the check after the loop says whether a
    // recalibration came while it ran.
    let start = Instant::now();
    let mut seq = 0u64;
    while seq < 400_000 && start.elapsed() < Duration::from_secs(20) {
        if let (Some(a), Some(b)) = (first, recalibrations())
            && b >= a + 2
        {
            break;
        }
        if first.is_none() && start.elapsed() > Duration::from_millis(250) {
            break; // no recalibration with this clock: a quarter second of records
        }
        for _ in 0..16 {
            datapunk_log::info!(seq);
            seq += 1;
        }
        // Pacing (records ~3 µs apart on average), so that the records
        // span the recalibrations without filling the memory sink.
        std::thread::sleep(Duration::from_micros(50));
    }
    if let (Some(a), Some(b)) = (first, recalibrations()) {
        assert!(
            b > a,
            "no recalibration while {seq} records were logged over {:?}",
            start.elapsed()
        );
    }
    datapunk_log::flush();

    let text = String::from_utf8(sink.contents()).expect("UTF-8");
    let mut prev: Option<(u64, String)> = None;
    let mut n = 0u64;
    let mut worst: Option<(u64, u64, String, String)> = None;
    for line in text.lines() {
        // Fast path: the timestamp is the first key; full parsing of every
        // line is done for a sample only (the suite parses lines elsewhere).
        let ts_str = &line[14..44];
        let ts = common::parse_timestamp(ts_str);
        if n.is_multiple_of(1000) {
            let l = common::parse_line(line);
            assert_eq!(l.str("timestamp"), ts_str);
            assert_eq!(l.u64("seq"), n);
        }
        if let Some((p, pstr)) = &prev
            && ts < *p
            && worst.as_ref().is_none_or(|w| p - ts > w.1)
        {
            worst = Some((n, p - ts, pstr.clone(), ts_str.to_owned()));
        }
        prev = Some((ts, ts_str.to_owned()));
        n += 1;
    }
    assert_eq!(n, seq);
    if let Some((at, back, before, after)) = worst {
        panic!(
            "record {at} of {seq} is stamped {back} ns before the record logged just \
             before it on the same thread ({after} < {before})"
        );
    }
}
