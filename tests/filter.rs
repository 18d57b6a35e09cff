//! Filter directives: invalid ones are rejected at `init()` naming the bad
//! part; a valid set enables exactly the records it should; calls before
//! `init()` are counted as discarded and never written.

mod common;

use std::collections::BTreeSet;

use datapunk_log::{InitError, Level, LevelFilter};

fn early_call(i: u64) {
    datapunk_log::info!(target: "early", i, "before or after init");
}

/// Logs at every level to one target (targets must be literals).
macro_rules! all_levels {
    ($t:literal) => {
        datapunk_log::trace!(target: $t, lvl = "TRACE");
        datapunk_log::debug!(target: $t, lvl = "DEBUG");
        datapunk_log::info!(target: $t, lvl = "INFO");
        datapunk_log::warn!(target: $t, lvl = "WARN");
        datapunk_log::error!(target: $t, lvl = "ERROR");
    };
}

fn expect_filter_error(directives: &str, part: &str) {
    match datapunk_log::builder()
        .filter(directives)
        .ignore_env()
        .init()
    {
        Err(InitError::Filter { source, error }) => {
            assert_eq!(source, "filter");
            assert_eq!(error.part(), part, "{directives}");
            let e = InitError::Filter { source, error };
            let shown = e.to_string();
            assert!(shown.contains(part), "{shown}");
            assert!(std::error::Error::source(&e).is_some());
        }
        Err(other) => panic!("{directives:?}: unexpected error {other}"),
        Ok(_) => panic!("{directives:?} was accepted"),
    }
}

#[test]
fn directives_select_records() {
    // Before init: counted, not captured.
    assert_eq!(
        datapunk_log::stats(),
        datapunk_log::Stats {
            discarded: 0,
            ..Default::default()
        }
    );
    for i in 0..3 {
        early_call(i);
    }
    datapunk_log::trace!(target: "early", "a disabled level is discarded too");
    let s = datapunk_log::stats();
    assert_eq!(s.discarded, 4, "{s:?}");
    assert_eq!(s.produced, 0);
    assert!(!datapunk_log::flush_timeout(
        std::time::Duration::from_secs(1)
    ));
    datapunk_log::flush(); // returns at once without an engine

    // Invalid directives: each names the offending part; none installs.
    match datapunk_log::builder()
        .filter("info,my_crate=loud")
        .ignore_env()
        .init()
    {
        Err(InitError::Filter { source, error }) => {
            assert_eq!(source, "filter");
            assert_eq!(error.part(), "my_crate=loud");
            assert_eq!(error.index(), 2);
            let shown = InitError::Filter { source, error }.to_string();
            assert!(shown.contains("my_crate=loud"), "{shown}");
            assert!(shown.contains("loud"), "{shown}");
        }
        other => panic!("unexpected {other:?}"),
    }
    expect_filter_error("info,=debug", "=debug");
    expect_filter_error("a=b=c", "a=b=c");
    expect_filter_error("warn, my crate = info", "my crate = info");
    expect_filter_error("app=", "app=");
    expect_filter_error("verbose!", "verbose!");

    // A valid set.
    let (sink, _guard) = common::memory_engine(|b| {
        b.filter(
            "warn,tests_target=debug,tests_target::quiet=error,noisy=off,loud=trace,early=info",
        )
    });

    all_levels!("other");
    all_levels!("tests_target");
    all_levels!("tests_target::sub");
    all_levels!("tests_target::quiet");
    all_levels!("tests_target::quiet::deeper");
    all_levels!("tests_targetx");
    all_levels!("noisy");
    all_levels!("noisy::child");
    all_levels!("loud");
    datapunk_log::info!(lvl = "INFO", "default target");
    datapunk_log::warn!(lvl = "WARN", "default target");
    early_call(99);
    datapunk_log::flush();

    let got: BTreeSet<(String, String)> = common::lines_of(&sink)
        .iter()
        .filter(|l| l.target() != "early")
        .map(|l| {
            assert_eq!(l.str("level"), l.str("lvl"));
            (l.target().to_owned(), l.str("lvl").to_owned())
        })
        .collect();
    let rules: [(&str, LevelFilter); 9] = [
        ("other", LevelFilter::WARN),
        ("tests_target", LevelFilter::DEBUG),
        ("tests_target::sub", LevelFilter::DEBUG),
        ("tests_target::quiet", LevelFilter::ERROR),
        ("tests_target::quiet::deeper", LevelFilter::ERROR),
        // Not a `::` boundary: the default applies.
        ("tests_targetx", LevelFilter::WARN),
        ("noisy", LevelFilter::OFF),
        ("noisy::child", LevelFilter::OFF),
        ("loud", LevelFilter::TRACE),
    ];
    let mut want = BTreeSet::new();
    for (target, filter) in rules {
        for level in [
            Level::Trace,
            Level::Debug,
            Level::Info,
            Level::Warn,
            Level::Error,
        ] {
            if filter.enables(level) {
                want.insert((target.to_owned(), level.as_str().to_owned()));
            }
        }
    }
    want.insert((module_path!().to_owned(), "WARN".to_owned()));
    assert_eq!(got, want);

    // The early call site works after init; the pre-init calls never appear.
    let early: Vec<u64> = common::lines_of(&sink)
        .iter()
        .filter(|l| l.target() == "early")
        .map(|l| l.u64("i"))
        .collect();
    assert_eq!(early, [99]);
    // A disabled call does not evaluate its arguments.
    let mut evaluated = 0;
    let mut touch = || {
        evaluated += 1;
        evaluated
    };
    datapunk_log::trace!(target: "other", a = touch(), b = %touch(), "{}", touch());
    datapunk_log::info!(target: "noisy", a = touch());
    assert_eq!(evaluated, 0);

    let s = datapunk_log::stats();
    assert_eq!(
        s.discarded, 4,
        "filtered-out calls are not 'discarded': {s:?}"
    );
    assert_eq!(s.produced, s.written);
    assert_eq!(s.written as usize, got.len() + 1);
}
