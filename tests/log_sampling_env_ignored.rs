//! `ignore_env()`: invalid `DATAPUNK_LOG_SAMPLING`, `DATAPUNK_LOG_UNSAMPLED`
//! and `DATAPUNK_LOG_BUFFER` have no effect; the builder's settings apply.

mod common;

use datapunk_log::sampler::{self, BUFFER_ENV, LogPolicy, SAMPLING_ENV, UNSAMPLED_ENV, Unsampled};
use datapunk_log::{Level, MemorySink};

#[test]
fn ignore_env_uses_the_builders_log_sampling() {
    for (var, value) in [
        (SAMPLING_ENV, "first=oops"),
        (UNSAMPLED_ENV, "never"),
        (BUFFER_ENV, "bytes=lots"),
    ] {
        // SAFETY: this file has a single test, so no other thread of this
        // process reads or writes the environment while it runs.
        unsafe { std::env::set_var(var, value) };
    }
    let sink = MemorySink::new();
    let _guard = datapunk_log::builder()
        .memory(&sink)
        .log_sampling(LogPolicy::new(1, 0, 0))
        .unsampled_logs(Unsampled::Buffer)
        .ignore_env()
        .init()
        .expect("invalid variables must be ignored");
    assert_eq!(sampler::log_policy(Level::Info), LogPolicy::new(1, 0, 0));
    assert_eq!(sampler::unsampled(), Unsampled::Buffer);
    for i in 0..3u64 {
        datapunk_log::info!(i);
    }
    datapunk_log::flush();
    let got: Vec<u64> = common::lines_of(&sink).iter().map(|l| l.u64("i")).collect();
    assert_eq!(got, [0]);
}
