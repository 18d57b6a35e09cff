//! `ignore_env()`: even an invalid `DATAPUNK_LOG` has no effect; the builder's
//! filter applies.

mod common;

use datapunk_log::{FILTER_ENV, MemorySink};

#[test]
fn ignore_env_uses_the_builder_filter() {
    // SAFETY: this file has a single test, so no other thread of this process
    // reads or writes the environment while it runs.
    unsafe { std::env::set_var(FILTER_ENV, "error,bad=level=twice") };
    let sink = MemorySink::new();
    let _guard = datapunk_log::builder()
        .memory(&sink)
        .filter("debug")
        .ignore_env()
        .init()
        .expect("an invalid DATAPUNK_LOG must be ignored");
    datapunk_log::trace!(n = 1);
    datapunk_log::debug!(n = 2);
    datapunk_log::info!(n = 3);
    datapunk_log::flush();
    let got: Vec<u64> = common::lines_of(&sink).iter().map(|l| l.u64("n")).collect();
    assert_eq!(got, [2, 3]);
}
