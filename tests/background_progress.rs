//! Without any `flush()`, the writer delivers records on its own within a
//! bounded time (default settings), including those of exited threads.

mod common;

use std::time::Duration;

#[test]
fn records_arrive_without_flush() {
    let (sink, _guard) = common::memory_engine(|b| b);

    for i in 0..5u64 {
        datapunk_log::info!(i, "no flush");
        let arrived = common::wait_until(Duration::from_secs(10), || {
            common::lines_of(&sink).iter().any(|l| l.value["i"] == i)
        });
        assert!(
            arrived,
            "record {i} was not written within 10 s without a flush"
        );
    }
    std::thread::spawn(|| datapunk_log::warn!(from = "exited thread"))
        .join()
        .unwrap();
    assert!(common::wait_until(Duration::from_secs(10), || {
        common::lines_of(&sink)
            .iter()
            .any(|l| l.value["from"] == "exited thread")
    }));
    assert!(common::wait_until(Duration::from_secs(10), || {
        datapunk_log::stats().threads == 1
    }));
    let s = datapunk_log::stats();
    assert_eq!(s.written, 6);
}
