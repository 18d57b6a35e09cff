//! A failing sink's retry backlog is bounded: what does not fit is counted
//! in `sink_lost` (whole lines), and what the sink gets after it recovers is
//! whole, valid lines in their original order.

mod common;

use std::sync::atomic::Ordering;

use common::FailingSink;

#[test]
fn bounded_backlog_counts_lost_lines() {
    let broken = FailingSink::default();
    let (mem, _guard) = common::memory_engine_on(
        datapunk_log::builder().sink(Box::new(broken.clone())),
        |b| b.sink_backlog(8 * 1024).batch_bytes(2048),
    );

    broken.failing.store(true, Ordering::SeqCst);
    for i in 0..2000u64 {
        datapunk_log::info!(target: "sb", i, pad = "0123456789abcdef0123456789abcdef");
    }
    datapunk_log::flush();
    let s = datapunk_log::stats();
    assert!(s.sink_lost > 0, "an 8 KiB backlog held 2000 lines: {s:?}");
    assert!(s.sink_errors > 0);

    broken.failing.store(false, Ordering::SeqCst);
    // The barrier retries the backlog at once.
    datapunk_log::flush();
    for i in 2000..2010u64 {
        datapunk_log::info!(target: "sb", i, pad = "after recovery");
    }
    datapunk_log::flush();

    let all = common::lines_of(&mem);
    assert_eq!(all.len(), 2010);
    let got = common::parse_bytes(&broken.out.lock().unwrap());
    let s = datapunk_log::stats();
    assert_eq!(got.len() as u64 + s.sink_lost, 2010, "{s:?}");
    // What arrived is a subsequence of the healthy sink's lines, in order,
    // ending with everything logged after recovery.
    let ids: Vec<u64> = got.iter().map(|l| l.u64("i")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(ids.ends_with(&(2000..2010).collect::<Vec<_>>()));
    for l in &got {
        let i = l.u64("i") as usize;
        assert_eq!(l.raw, all[i].raw);
    }
}
