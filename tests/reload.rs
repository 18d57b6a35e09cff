//! `reload`: filter directives, trace sampling, log sampling and redaction
//! change while the engine runs; a refused change applies nothing; threads
//! logging during reloads lose no record and every line stays valid.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{lines_for, lines_of, serial, shared_sink};
use datapunk_log::sampler::{LogPolicy, Sampler, Unsampled};
use datapunk_log::{Level, MemorySink, Reload, ReloadError, reload};

fn sink() -> &'static MemorySink {
    shared_sink(|b| b.filter("info").span_fields(true))
}

#[test]
fn filter_changes_what_call_sites_write() {
    let _s = serial();
    sink();
    let emit = |round: u64| {
        datapunk_log::debug!(target: "r.filter", round, "debug line");
        datapunk_log::info!(target: "r.filter", round, "info line");
    };
    emit(0);
    reload(Reload::new().filter("info,r.filter=debug")).unwrap();
    emit(1);
    reload(Reload::new().filter("info")).unwrap();
    emit(2);
    datapunk_log::flush();
    let got: Vec<(String, u64)> = lines_for(sink(), "r.filter")
        .iter()
        .map(|l| (l.str("level").to_string(), l.u64("round")))
        .collect();
    let want: Vec<(String, u64)> = [("INFO", 0), ("DEBUG", 1), ("INFO", 1), ("INFO", 2)]
        .iter()
        .map(|(l, r)| (l.to_string(), *r))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn bad_filter_is_refused_and_the_old_one_stays() {
    let _s = serial();
    sink();
    let err = reload(
        Reload::new()
            .filter("r.bad=loud")
            .redact_key("never_applied"),
    )
    .unwrap_err();
    assert!(matches!(err, ReloadError::Filter(_)), "{err}");
    assert!(err.to_string().contains("loud"), "{err}");
    datapunk_log::debug!(target: "r.bad", "still filtered");
    datapunk_log::info!(target: "r.bad", never_applied = "visible", "kept");
    datapunk_log::flush();
    let lines = lines_for(sink(), "r.bad");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].str("level"), "INFO");
    // The redaction edit of the refused change was not applied either.
    assert_eq!(lines[0].str("never_applied"), "visible");
}

#[test]
fn redaction_keys_and_patterns_change() {
    let _s = serial();
    sink();
    let email = "someone@example.com";
    datapunk_log::info!(target: "r.redact", round = 0u64, customer = "ann", note = email, "x");
    reload(
        Reload::new()
            .redact_key("customer")
            .redact_rule(datapunk_log::redact::Rule::Email, true),
    )
    .unwrap();
    datapunk_log::info!(target: "r.redact", round = 1u64, customer = "ann", note = email, "x");
    reload(
        Reload::new()
            .redact_keys(["password"])
            .redact_rule(datapunk_log::redact::Rule::Email, false),
    )
    .unwrap();
    datapunk_log::info!(target: "r.redact", round = 2u64, customer = "ann", note = email, "x");
    datapunk_log::flush();
    let lines = lines_for(sink(), "r.redact");
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0].str("customer"), "ann");
    assert_eq!(lines[0].str("note"), email);
    assert_eq!(lines[1].str("customer"), datapunk_log::MASK);
    assert_eq!(lines[1].str("note"), datapunk_log::MASK);
    assert_eq!(lines[2].str("customer"), "ann");
    assert_eq!(lines[2].str("note"), email);
    // The default keys are back only by a reload naming them.
    reload(Reload::new().redaction(true)).unwrap();
}

#[test]
fn a_live_span_takes_the_new_redaction() {
    let _s = serial();
    sink();
    let span = datapunk_log::span!("r_span_op", account = "acct-42", n = 1u64);
    let _e = span.enter();
    datapunk_log::info!(target: "r.span", round = 0u64, "in span");
    reload(Reload::new().redact_key("account")).unwrap();
    datapunk_log::info!(target: "r.span", round = 1u64, "in span");
    reload(Reload::new().redaction(true)).unwrap();
    datapunk_log::flush();
    let lines = lines_for(sink(), "r.span");
    assert_eq!(lines.len(), 2, "{lines:?}");
    let spans: Vec<(&str, &str, u64)> = lines
        .iter()
        .map(|l| {
            let s = l.get("span");
            (
                s["name"].as_str().unwrap_or_default(),
                s["account"].as_str().unwrap_or_default(),
                s["n"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    // The span started before the reload: its piece is built again.
    assert_eq!(
        spans,
        [
            ("r_span_op", "acct-42", 1),
            ("r_span_op", datapunk_log::MASK, 1)
        ]
    );
}

#[test]
fn bad_redaction_is_refused() {
    let _s = serial();
    sink();
    let err = reload(Reload::new().redact_token_prefix("x")).unwrap_err();
    assert!(matches!(err, ReloadError::Redaction(_)), "{err}");
}

#[test]
fn log_and_trace_sampling_change() {
    let _s = serial();
    sink();
    reload(
        Reload::new()
            .log_sampling_level(Level::Info, LogPolicy::new(0, 10, 0))
            .unsampled_logs(Unsampled::Drop),
    )
    .unwrap();
    for i in 0..100u64 {
        datapunk_log::info!(target: "r.sampling", i, "sampled");
    }
    reload(
        Reload::new()
            .log_sampling_level(Level::Info, LogPolicy::KEEP_ALL)
            .sampler(Sampler::AlwaysOff),
    )
    .unwrap();
    {
        let span = datapunk_log::span!("r.unsampled");
        let _e = span.enter();
        // Unsampled trace, below ERROR, `Unsampled::Drop`: dropped.
        datapunk_log::info!(target: "r.sampling", i = 1000u64, "in an unsampled trace");
    }
    reload(
        Reload::new()
            .unsampled_logs(Unsampled::Keep)
            .sampler(Sampler::AlwaysOn),
    )
    .unwrap();
    datapunk_log::info!(target: "r.sampling", i = 2000u64, "after");
    datapunk_log::flush();
    let kept: Vec<u64> = lines_for(sink(), "r.sampling")
        .iter()
        .map(|l| l.u64("i"))
        .collect();
    assert_eq!(kept.len(), 11, "{kept:?}");
    assert_eq!(kept.last(), Some(&2000));
    assert!(kept.iter().all(|&i| i < 100 || i == 2000), "{kept:?}");
}

/// Two threads log while a third reloads the filter back and forth: every
/// INFO record (enabled under both filters) is written exactly once, every
/// DEBUG record written is whole, and the counters add up.
#[test]
fn reloads_under_load_lose_nothing() {
    let _s = serial();
    sink();
    const THREADS: u64 = 2;
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(THREADS as usize + 1));
    let before = datapunk_log::stats();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let stop = stop.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                let mut seq = 0u64;
                while !stop.load(Ordering::Relaxed) && seq < 2_000_000 {
                    datapunk_log::info!(target: "r.load", t, seq, "info");
                    datapunk_log::debug!(target: "r.load", t, seq, "debug");
                    seq += 1;
                }
                seq
            })
        })
        .collect();
    start.wait();
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut reloads = 0;
    while Instant::now() < deadline && reloads < 2_000 {
        let f = if reloads % 2 == 0 {
            "info,r.load=debug"
        } else {
            "info"
        };
        reload(Reload::new().filter(f)).unwrap();
        reloads += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let counts: Vec<u64> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    reload(Reload::new().filter("info")).unwrap();
    datapunk_log::flush();
    assert!(reloads >= 2);
    let lines = lines_for(sink(), "r.load");
    for t in 0..THREADS {
        let mut info: Vec<u64> = lines
            .iter()
            .filter(|l| l.u64("t") == t && l.str("level") == "INFO")
            .map(|l| l.u64("seq"))
            .collect();
        info.sort_unstable();
        let want: Vec<u64> = (0..counts[t as usize]).collect();
        assert_eq!(info, want, "thread {t}: INFO records lost or repeated");
        let debug = lines
            .iter()
            .filter(|l| l.u64("t") == t && l.str("level") == "DEBUG")
            .count() as u64;
        assert!(debug <= counts[t as usize]);
    }
    let after = datapunk_log::stats();
    assert_eq!(after.dropped, before.dropped);
    assert_eq!(after.corrupt, 0);
    // Every line of the sink parses (lines_of panics otherwise).
    assert!(!lines_of(sink()).is_empty());
}

/// The `log` and `tracing` bridges follow a reloaded filter (`log`'s max
/// level and `tracing`'s cached interest are brought up to date).
#[test]
fn bridges_follow_the_filter() {
    let _s = serial();
    sink();
    let emit = |round: u64| {
        log::debug!(target: "r.bridges", round; "log debug");
        tracing::debug!(target: "r.bridges", round, "tracing debug");
    };
    emit(0);
    reload(Reload::new().filter("info,r.bridges=debug")).unwrap();
    emit(1);
    reload(Reload::new().filter("info")).unwrap();
    emit(2);
    datapunk_log::flush();
    let got: Vec<(String, u64)> = lines_for(sink(), "r.bridges")
        .iter()
        .map(|l| (l.str("message").to_string(), l.u64("round")))
        .collect();
    assert_eq!(
        got,
        [
            ("log debug".to_string(), 1),
            ("tracing debug".to_string(), 1)
        ]
    );
}
