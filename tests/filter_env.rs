//! `DATAPUNK_LOG`: an invalid value fails `init()` naming the variable and the
//! bad part; a valid value wins over the builder's filter.

mod common;

use datapunk_log::{FILTER_ENV, InitError, MemorySink};

#[test]
fn env_var_is_validated_and_wins() {
    assert_eq!(FILTER_ENV, "DATAPUNK_LOG");
    // SAFETY: this file has a single test, so no other thread of this process
    // reads or writes the environment while it runs.
    unsafe { std::env::set_var(FILTER_ENV, "info,my_crate=loud") };
    match datapunk_log::builder().filter("trace").init() {
        Err(InitError::Filter { source, error }) => {
            assert_eq!(source, "DATAPUNK_LOG");
            assert_eq!(error.part(), "my_crate=loud");
            let shown = InitError::Filter { source, error }.to_string();
            assert!(shown.contains("DATAPUNK_LOG"), "{shown}");
            assert!(shown.contains("my_crate=loud"), "{shown}");
        }
        other => panic!("unexpected {other:?}"),
    }

    // SAFETY: as above.
    unsafe { std::env::set_var(FILTER_ENV, "warn,env_target=trace") };
    let sink = MemorySink::new();
    let _guard = datapunk_log::builder()
        .memory(&sink)
        .filter("trace")
        .init()
        .expect("init");
    datapunk_log::info!(target: "plain", n = 1);
    datapunk_log::warn!(target: "plain", n = 2);
    datapunk_log::trace!(target: "env_target", n = 3);
    datapunk_log::debug!(target: "env_target::sub", n = 4);
    datapunk_log::debug!(target: "elsewhere", n = 5);
    datapunk_log::flush();
    let got: Vec<u64> = common::lines_of(&sink).iter().map(|l| l.u64("n")).collect();
    assert_eq!(got, [2, 3, 4]);
}
