//! The compile-time maximum level. Without level features every level is
//! compiled in; `.ci/run` also runs this file with `--features max_level_warn`,
//! where TRACE, DEBUG and INFO calls compile to nothing, whatever the runtime
//! filter says.

use datapunk_log::{LevelFilter, MemorySink};

#[test]
fn calls_above_the_static_maximum_compile_to_nothing() {
    let sink = MemorySink::new();
    let _guard = datapunk_log::builder()
        .memory(&sink)
        .filter("trace")
        .ignore_env()
        .init()
        .expect("init");
    datapunk_log::trace!(n = 1u8, "t");
    datapunk_log::debug!(n = 2u8, "d");
    datapunk_log::info!(n = 3u8, "i");
    datapunk_log::warn!(n = 4u8, "w");
    datapunk_log::error!(n = 5u8, "e");
    datapunk_log::fatal!(n = 6u8, "f");
    datapunk_log::flush();
    let levels: Vec<String> = sink
        .lines()
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("valid JSON");
            v["level"].as_str().expect("level").to_owned()
        })
        .collect();
    let release_feature = cfg!(any(
        feature = "release_max_level_off",
        feature = "release_max_level_fatal",
        feature = "release_max_level_error",
        feature = "release_max_level_warn",
        feature = "release_max_level_info",
        feature = "release_max_level_debug",
        feature = "release_max_level_trace",
    ));
    let any_level_feature = release_feature
        || cfg!(any(
            feature = "max_level_off",
            feature = "max_level_fatal",
            feature = "max_level_error",
            feature = "max_level_warn",
            feature = "max_level_info",
            feature = "max_level_debug",
            feature = "max_level_trace",
        ));
    // `max_level_warn` decides unless a stricter max level is on, or a
    // release level applies (no debug assertions).
    let only_warn = cfg!(feature = "max_level_warn")
        && !cfg!(any(
            feature = "max_level_off",
            feature = "max_level_fatal",
            feature = "max_level_error"
        ))
        && (cfg!(debug_assertions) || !release_feature);
    if !any_level_feature {
        assert_eq!(datapunk_log::level::STATIC_MAX_LEVEL, LevelFilter::TRACE);
        assert_eq!(levels, ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]);
        assert_eq!(datapunk_log::stats().produced, 6);
    } else if only_warn {
        assert_eq!(datapunk_log::level::STATIC_MAX_LEVEL, LevelFilter::WARN);
        assert_eq!(levels, ["WARN", "ERROR", "FATAL"]);
        // Compiled out: not even counted as discarded.
        let s = datapunk_log::stats();
        assert_eq!((s.produced, s.discarded), (3, 0));
    } else {
        // Other feature mixes: what is written is exactly what the static
        // maximum lets through.
        let all = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
        let want: Vec<&str> = all
            .iter()
            .copied()
            .filter(|l| {
                let level: datapunk_log::Level = l.parse().expect("level name");
                datapunk_log::level::STATIC_MAX_LEVEL.enables(level)
            })
            .collect();
        assert_eq!(levels, want);
    }
}
