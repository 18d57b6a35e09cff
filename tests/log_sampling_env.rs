//! `DATAPUNK_LOG_SAMPLING`, `DATAPUNK_LOG_UNSAMPLED` and `DATAPUNK_LOG_BUFFER`:
//! a bad value makes `init()` fail with an error naming the variable and
//! the bad part (and installs nothing); good values win over the builder.

mod common;

use datapunk_log::sampler::{self, BUFFER_ENV, LogPolicy, SAMPLING_ENV, UNSAMPLED_ENV, Unsampled};
use datapunk_log::{InitError, Level, MemorySink, TraceContext};

fn set(var: &str, value: &str) {
    // SAFETY: this file has a single test, so no other thread of this
    // process reads or writes the environment while it runs.
    unsafe { std::env::set_var(var, value) };
}

fn unset(var: &str) {
    // SAFETY: as in `set`.
    unsafe { std::env::remove_var(var) };
}

#[test]
fn the_environment_configures_log_sampling_and_a_bad_value_fails_init() {
    for var in [SAMPLING_ENV, UNSAMPLED_ENV, BUFFER_ENV] {
        unset(var);
    }
    let cases = [
        (
            SAMPLING_ENV,
            "first=10,thereafter=x",
            "thereafter: not a number: 'x'",
        ),
        (SAMPLING_ENV, "frist=3", "unknown key 'frist'"),
        (SAMPLING_ENV, "period=1.5s", "period: unknown unit '.5s'"),
        (UNSAMPLED_ENV, "sometimes", "unknown value 'sometimes'"),
        (
            BUFFER_ENV,
            "records=8,bytes=12XB",
            "bytes: unknown unit 'XB'",
        ),
        (BUFFER_ENV, "records=-1", "records: not a number: '-1'"),
    ];
    for (var, value, part) in cases {
        set(var, value);
        let sink = MemorySink::new();
        match datapunk_log::builder().memory(&sink).init() {
            Err(e @ InitError::Env { .. }) => {
                let InitError::Env { variable, error } = &e else {
                    unreachable!()
                };
                assert_eq!(*variable, var);
                assert!(error.contains(part), "{value:?}: {error}");
                let shown = e.to_string();
                assert!(shown.starts_with(var) && shown.contains(part), "{shown}");
            }
            Err(other) => panic!("{var}={value:?}: unexpected error {other}"),
            Ok(_) => panic!("{var}={value:?} was accepted"),
        }
        unset(var);
    }
    // Nothing was installed: logging is still discarded.
    datapunk_log::info!("before init");
    assert_eq!(datapunk_log::stats().produced, 0);

    // Good values win over the builder's.
    set(SAMPLING_ENV, " first=2, thereafter=0, period=0 ");
    set(UNSAMPLED_ENV, "DROP");
    set(BUFFER_ENV, "records=3,bytes=1KiB");
    let sink = MemorySink::new();
    let _guard = datapunk_log::builder()
        .memory(&sink)
        .filter("debug")
        .log_sampling(LogPolicy::new(50, 50, 0))
        .unsampled_logs(Unsampled::Keep)
        .debug_buffer(64, 1 << 20)
        .init()
        .expect("valid variables");
    let p = LogPolicy::new(2, 0, 0);
    for level in [Level::Trace, Level::Debug, Level::Info, Level::Warn] {
        assert_eq!(sampler::log_policy(level), p);
    }
    assert!(sampler::log_policy(Level::Error).is_keep_all());
    assert!(sampler::log_policy(Level::Fatal).is_keep_all());
    assert_eq!(sampler::unsampled(), Unsampled::Drop);

    for i in 0..5u64 {
        datapunk_log::info!(target: "env.site", i, "site");
    }
    let prev = datapunk_log::set_context(TraceContext {
        trace_id: 42,
        span_id: 7,
        parent_span_id: 0,
        trace_flags: 0,
    });
    datapunk_log::debug!(target: "env.unsampled", "dropped");
    datapunk_log::error!(target: "env.unsampled", "kept");
    // The buffer's bounds came from the environment too (K = 3): in
    // another unsampled trace, with DEBUG kept by its call sites.
    sampler::set_unsampled(Unsampled::Buffer);
    sampler::set_log_policy(Level::Debug, LogPolicy::KEEP_ALL);
    datapunk_log::set_context(TraceContext {
        trace_id: 43,
        span_id: 8,
        parent_span_id: 0,
        trace_flags: 0,
    });
    for i in 0..5u64 {
        datapunk_log::debug!(target: "env.buffered", i, "held");
    }
    datapunk_log::set_context(prev);
    datapunk_log::flush();
    let lines = common::lines_of(&sink);
    let site: Vec<u64> = lines
        .iter()
        .filter(|l| l.target() == "env.site")
        .map(|l| l.u64("i"))
        .collect();
    assert_eq!(site, [0, 1]);
    let unsampled: Vec<&str> = lines
        .iter()
        .filter(|l| l.target() == "env.unsampled")
        .map(|l| l.str("level"))
        .collect();
    assert_eq!(unsampled, ["ERROR"]);
    let s = datapunk_log::stats();
    assert_eq!(s.sampled_out_callsite, 3, "{s:?}");
    assert_eq!(s.sampled_out_unsampled, 1, "{s:?}");
    assert_eq!(s.buffered, 3, "{s:?}");
    assert_eq!(s.sampled_out_buffer, 2, "{s:?}");
    assert!(lines.iter().all(|l| l.target() != "env.buffered"));
    assert_eq!(
        s.produced,
        s.written + s.span_records + s.dropped + s.sampled_out + s.buffered,
        "{s:?}"
    );
}
