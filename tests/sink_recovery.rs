//! A sink whose retry backlog filled up while it was failing, and which has
//! since recovered: the lines logged after the recovery must reach it. The
//! backlog may keep or drop old lines, but a healthy sink must not lose the
//! new ones because the stale backlog was queued ahead of them.

mod common;

use std::sync::atomic::Ordering;

use common::FailingSink;

#[test]
fn lines_logged_after_recovery_are_delivered() {
    let broken = FailingSink::default();
    let (mem, _guard) = common::memory_engine_on(
        datapunk_log::builder().sink(Box::new(broken.clone())),
        |b| b.sink_backlog(8 * 1024),
    );

    broken.failing.store(true, Ordering::SeqCst);
    for i in 0..1000u64 {
        datapunk_log::info!(target: "sr", i, pad = "0123456789abcdef0123456789abcdef");
    }
    datapunk_log::flush();
    assert!(datapunk_log::stats().sink_lost > 0);

    // The sink is healthy again; these lines are logged after that.
    broken.failing.store(false, Ordering::SeqCst);
    for i in 1000..1010u64 {
        datapunk_log::info!(target: "sr", i, "after recovery");
    }
    datapunk_log::flush();

    assert_eq!(common::lines_of(&mem).len(), 1010);
    let got = common::parse_bytes(&broken.out.lock().unwrap());
    let ids: Vec<u64> = got.iter().map(|l| l.u64("i")).collect();
    let s = datapunk_log::stats();
    assert_eq!(got.len() as u64 + s.sink_lost, 1010, "{s:?}");
    let after: Vec<u64> = ids.iter().copied().filter(|&i| i >= 1000).collect();
    assert_eq!(
        after,
        (1000..1010).collect::<Vec<_>>(),
        "lines logged after the sink recovered were counted as lost: {s:?}"
    );
}
