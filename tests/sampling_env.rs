//! `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` are read at `init()`:
//! a bad argument gives one WARN record naming the variable, and a ratio of
//! 1.0. (Every value's mapping is unit-tested in `sampler::env`; this checks
//! that `init()` reads them and reports. One engine per process: one test.)

mod common;

use datapunk_log::sampler::{self, Sampler};

#[test]
fn init_reads_the_sampler_variables_and_warns_once_on_a_bad_argument() {
    // SAFETY: set before any other thread of this test binary reads the
    // environment (the only test, at its start).
    unsafe {
        std::env::set_var("OTEL_TRACES_SAMPLER", "ParentBased_TraceIdRatio");
        std::env::set_var("OTEL_TRACES_SAMPLER_ARG", "1.5");
    }
    let sink = datapunk_log::MemorySink::new();
    let _guard = datapunk_log::builder().memory(&sink).init().expect("init");
    assert_eq!(
        sampler::current().sampler(),
        &Sampler::parent_based(Sampler::probability(1.0))
    );
    datapunk_log::flush();
    let warnings: Vec<_> = common::lines_of(&sink)
        .into_iter()
        .filter(|l| l.str("level") == "WARN" && l.target() == "datapunk_log")
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].message().contains("OTEL_TRACES_SAMPLER_ARG"));
    // p = 1.0 keeps every root, with th:0.
    let s = datapunk_log::span!("root");
    assert!(s.is_sampled());
    assert_eq!(s.tracestate().to_string(), "ot=th:0");
}
