//! An `init()` that fails to start one of the engine's threads leaves
//! nothing behind: the next `init()` succeeds and its engine writes and
//! exports.
//!
//! One engine for the whole binary (one engine per process).

mod common;

use datapunk_log::__private::fail_next_spawns;
use datapunk_log::export::MemoryExporter;
use datapunk_log::{InitError, MemorySink};

#[test]
fn a_failed_thread_start_leaves_nothing_behind() {
    let sink = MemorySink::new();
    let exporter = MemoryExporter::new();
    // The writer thread (no exporter: the only thread).
    fail_next_spawns(1);
    let err = datapunk_log::builder()
        .memory(&sink)
        .ignore_env()
        .panic_hook(false)
        .init()
        .expect_err("the writer cannot start");
    assert!(matches!(err, InitError::Spawn(_)), "{err}");
    // The export thread.
    fail_next_spawns(1);
    let err = datapunk_log::builder()
        .memory(&sink)
        .exporter(exporter.clone())
        .ignore_env()
        .panic_hook(false)
        .init()
        .expect_err("the export thread cannot start");
    assert!(matches!(err, InitError::Export(_)), "{err}");
    // Nothing was left: this one starts, writes and exports.
    let guard = datapunk_log::builder()
        .memory(&sink)
        .exporter(exporter.clone())
        .ignore_env()
        .panic_hook(false)
        .init()
        .expect("init after two failed ones");
    datapunk_log::info!(attempt = 3u64, "after failed inits");
    datapunk_log::flush();
    let lines = common::lines_of(&sink);
    let line = lines
        .iter()
        .find(|l| l.message() == "after failed inits")
        .expect("the line");
    assert_eq!(line.u64("attempt"), 3);
    assert!(
        exporter
            .logs()
            .iter()
            .any(|l| l.message == "after failed inits")
    );
    drop(guard);
    // A second engine while one exists is still refused.
    assert!(matches!(
        datapunk_log::builder().null().ignore_env().init(),
        Err(InitError::AlreadyInitialized)
    ));
}
