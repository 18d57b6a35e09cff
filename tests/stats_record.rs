//! `Builder::stats_interval`: the writer writes an INFO record of the
//! engine's figures, whose values agree with `stats()`.

mod common;

use std::time::Duration;

use common::{lines_for, memory_engine, wait_until};

#[test]
fn the_writer_reports_the_engines_figures() {
    let (sink, _guard) = memory_engine(|b| b.stats_interval(Duration::from_millis(1)));
    for i in 0..100u64 {
        datapunk_log::info!(target: "stats.rec", i, "record");
    }
    datapunk_log::flush();
    // The record goes out on a writer pass after its interval; wait (bounded)
    // for one that counts the 100 records.
    let found = wait_until(Duration::from_secs(20), || {
        datapunk_log::flush();
        lines_for(&sink, "datapunk_log::stats")
            .iter()
            .any(|l| l.u64("written") >= 100)
    });
    assert!(found, "no engine stats record counting the records");
    let lines = lines_for(&sink, "datapunk_log::stats");
    let st = datapunk_log::stats();
    for l in &lines {
        assert_eq!(l.str("level"), "INFO");
        assert_eq!(l.message(), "engine stats");
        // Figures only grow: no record reports more than stats() now.
        for (key, now) in [
            ("produced", st.produced),
            ("written", st.written),
            ("bytes", st.bytes),
            ("dropped", st.dropped),
        ] {
            assert!(l.u64(key) <= now, "{key}: {} > {now}", l.u64(key));
        }
        for key in [
            "sampled_out",
            "threads",
            "sink_errors",
            "sink_lost",
            "file_rotations",
            "files_deleted",
            "compress_backlog",
            "compress_skipped",
            "export_pending_logs",
            "export_dropped_logs",
            "export_failed_logs",
            "redacted",
        ] {
            l.u64(key);
        }
    }
    let records: Vec<u64> = lines_for(&sink, "stats.rec")
        .iter()
        .map(|l| l.u64("i"))
        .collect();
    assert_eq!(records, (0..100).collect::<Vec<_>>());
}
