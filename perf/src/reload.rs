//! The reload scenario: does datapunk-log's log call slow down while the
//! configuration is reloaded at run time?
//!
//! datapunk-log only (`datapunk-precise`; no peer measured here has a run-
//! time reload of filter, sampling and redaction to set beside it): the
//! latency scenario's log call (the message with `user_id: u64`,
//! `latency: f64`, `route: &str`), timed by its `call` and `burst` methods
//! ([`crate::scenario::call_method`], [`crate::scenario::burst_method`]),
//! in one child process per mode:
//!
//! - `no-reload`: nothing reloads (the reference);
//! - `reloading`: a thread calls `datapunk_log::reload(..)` every
//!   `interval_ms` from before the first timed call to after the last,
//!   alternating two configurations that both keep the measured INFO call
//!   enabled and its record unchanged (see [`change`]).
//!
//! Everything else is the same in both modes: a `ring_capacity` ring
//! pre-faulted with `prepare_thread()`, `Overflow::Drop`, a null JSON sink,
//! the precise clock, `flush()` between the methods. The reloads completed
//! during each method are counted, and each reload's own duration is
//! reported.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use datapunk_log::sampler::{LogPolicy, Sampler};
use datapunk_log::{ClockSource, Level, Overflow, Reload};

use crate::otlp::null_sink_builder;
use crate::profile::{ReloadMode, ReloadPart, ReloadProfile};
use crate::results::{ReloadResult, ReloadTimes};
use crate::scenario::{self, ChildSpec, Methods};
use crate::subject::datapunk::Datapunk;
use crate::subject::{Logger, SubjectKind};

pub const DESCRIPTION: &str =
    "datapunk-log info!, precise clock, Overflow::Drop (ring pre-faulted), null JSON sink";

/// The filter directives a reload alternates between: both keep the
/// measured call site (target `perf::subject::datapunk`) at INFO.
pub const FILTERS: [&str; 2] = ["info", "info,reload_bench::elsewhere=debug"];

/// The redacted keys a reload alternates between: neither is a field of
/// the measured record, so it is written the same way under both.
pub const REDACT_KEYS: [&[&str]; 2] = [&["password"], &["password", "customer_email"]];

/// DEBUG's log policy of the second configuration (the first keeps all):
/// INFO's stays keep-all, so the measured call's plan is unchanged.
const DEBUG_EVERY: u64 = 100;

/// The trace sampler's probability of the second configuration (the
/// first: `parent_based(always_on)`); the measured call is outside any span.
const TRACE_PROBABILITY: f64 = 0.5;

pub fn mode_description(m: ReloadMode, p: Option<&ReloadProfile>) -> String {
    match m {
        ReloadMode::NoReload => "no reload (the reference)".into(),
        ReloadMode::Reloading => format!(
            "a thread calls datapunk_log::reload every {} ms, alternating two configurations ({})",
            p.map_or(0, |p| p.interval_ms),
            p.map(|p| parts_description(&p.parts)).unwrap_or_default()
        ),
    }
}

/// What each part of a reload alternates between, in words.
pub fn parts_description(parts: &[ReloadPart]) -> String {
    parts
        .iter()
        .map(|part| match part {
            ReloadPart::Filter => format!("filter `{}` <-> `{}`", FILTERS[0], FILTERS[1]),
            ReloadPart::LogSampling => {
                format!("DEBUG log policy keep-all <-> 1 in {DEBUG_EVERY}")
            }
            ReloadPart::TraceSampling => format!(
                "trace sampler parent_based(always_on) <-> parent_based(probability({TRACE_PROBABILITY}))"
            ),
            ReloadPart::Redaction => format!(
                "redacted keys {:?} <-> {:?} (waits for the writer twice)",
                REDACT_KEYS[0], REDACT_KEYS[1]
            ),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The `n`-th reload's change: configuration `n % 2` of every part.
fn change(parts: &[ReloadPart], n: u64) -> Reload {
    let second = n % 2 == 1;
    let mut r = Reload::new();
    for part in parts {
        r = match part {
            ReloadPart::Filter => r.filter(FILTERS[usize::from(second)]),
            ReloadPart::LogSampling => r.log_sampling_level(
                Level::Debug,
                if second {
                    LogPolicy::new(0, DEBUG_EVERY, 0)
                } else {
                    LogPolicy::KEEP_ALL
                },
            ),
            ReloadPart::TraceSampling => r.sampler(Sampler::parent_based(if second {
                Sampler::probability(TRACE_PROBABILITY)
            } else {
                Sampler::AlwaysOn
            })),
            ReloadPart::Redaction => {
                r.redact_keys(REDACT_KEYS[usize::from(second)].iter().copied())
            }
        };
    }
    r
}

/// The thread that reloads every interval until stopped.
struct Reloader {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    thread: Option<JoinHandle<Result<Vec<u64>, String>>>,
}

impl Reloader {
    fn start(interval: Duration, parts: Vec<ReloadPart>) -> Result<Reloader, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let (flag, count) = (stop.clone(), done.clone());
        let thread = std::thread::Builder::new()
            .name("reloader".into())
            .spawn(move || {
                // Each reload's duration, ns (a reload every 10 ms for a
                // minute is 6 000 entries).
                let mut took = Vec::with_capacity(4096);
                let mut n = 0u64;
                loop {
                    std::thread::sleep(interval);
                    if flag.load(Ordering::Acquire) {
                        return Ok(took);
                    }
                    n += 1;
                    let r = change(&parts, n);
                    let t = Instant::now();
                    datapunk_log::reload(r).map_err(|e| format!("reload {n} refused: {e}"))?;
                    took.push(t.elapsed().as_nanos() as u64);
                    count.fetch_add(1, Ordering::Release);
                }
            })
            .map_err(|e| format!("cannot start the reloading thread: {e}"))?;
        Ok(Reloader {
            stop,
            done,
            thread: Some(thread),
        })
    }

    /// Stops the thread; each reload's duration, ns.
    fn stop(mut self) -> Result<Vec<u64>, String> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err("the reloading thread panicked".into()),
            None => Ok(Vec::new()),
        }
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn run(spec: &ChildSpec) -> Result<ReloadResult, String> {
    let p = spec
        .profile
        .reload
        .as_ref()
        .ok_or("the profile has no [reload] section")?;
    let mode = spec.reload_mode.ok_or("the reload scenario needs a mode")?;
    if spec.subject != SubjectKind::DatapunkPrecise {
        return Err(format!(
            "the reload scenario measures datapunk-precise, not {}",
            spec.subject.name()
        ));
    }
    let started = Instant::now();
    let guard = null_sink_builder(ClockSource::Precise, Overflow::Drop, Overflow::Drop)
        .ring_capacity(p.ring_capacity)
        .init()
        .map_err(|e| format!("datapunk-log init: {e}"))?;

    let cal = spec.calibration;
    let subtract = spec.profile.latency.subtract_rdtsc_overhead;
    let (overhead, minus) = scenario::rdtsc_overhead(&cal, subtract);
    let l = Datapunk::with_guard(guard);
    let mut calls = 0u64;
    // The DEBUG call site registered too: the log-sampling reload has a
    // DEBUG site to replan (disabled under `info`, so no record).
    for i in 0..16 {
        l.log_disabled(i, 0.5, scenario::ROUTE);
    }
    scenario::warm_up(&l, p.warmup_calls, &mut calls);

    let reloader = match mode {
        ReloadMode::NoReload => None,
        ReloadMode::Reloading => Some(Reloader::start(
            Duration::from_millis(p.interval_ms),
            p.parts.clone(),
        )?),
    };
    let reloads = || {
        reloader
            .as_ref()
            .map_or(0, |r| r.done.load(Ordering::Acquire))
    };
    if let Some(r) = &reloader {
        // Measure from a running reloader: its first reload is done.
        let t = Instant::now();
        while r.done.load(Ordering::Acquire) == 0 {
            if t.elapsed() > Duration::from_secs(10) {
                return Err("the reloading thread made no reload within 10 s".into());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    let methods = Methods {
        call_samples: p.call_samples,
        call_pause_ns: p.call_pause_ns,
        bursts: p.bursts,
        burst_size: p.burst_size,
        burst_pause_ns: p.burst_pause_ns,
    };
    let mut ticks = Vec::new();
    let r0 = reloads();
    let t = Instant::now();
    let call = scenario::call_method(&l, &methods, &cal, minus, &mut calls, &mut ticks);
    let call_s = t.elapsed().as_secs_f64();
    let reloads_call = reloads() - r0;
    l.settle(calls);
    let r0 = reloads();
    let t = Instant::now();
    let burst = scenario::burst_method(&l, &methods, &cal, minus, &mut calls, &mut ticks);
    let burst_s = t.elapsed().as_secs_f64();
    let reloads_burst = reloads() - r0;
    drop(ticks);
    let took = match reloader {
        Some(r) => Some(r.stop()?),
        None => None,
    };
    // Every call is made: what the engine counted is final.
    let produced = datapunk_log::stats().produced;
    // Flushes, checks that the figures add up, ends the engine.
    let fin = l.finish(calls)?;
    if produced != calls {
        return Err(format!(
            "{calls} INFO calls made but stats().produced is {produced}: a reload disabled the measured call"
        ));
    }
    Ok(ReloadResult {
        mode: mode.name().into(),
        interval_ms: p.interval_ms,
        parts: p.parts.iter().map(|x| x.name().to_string()).collect(),
        ring_capacity: p.ring_capacity,
        rdtsc_overhead: overhead,
        rdtsc_overhead_subtracted: subtract,
        call,
        call_pause_ns: p.call_pause_ns,
        burst,
        burst_size: p.burst_size,
        burst_pause_ns: p.burst_pause_ns,
        reloads_call,
        reloads_burst,
        reloads_total: took.as_ref().map_or(0, |t| t.len() as u64),
        call_s,
        burst_s,
        reload_time: took.as_deref().map(ReloadTimes::from_ns),
        calls_total: calls,
        subject_stats: fin.stats,
        wall_s: started.elapsed().as_secs_f64(),
    })
}
