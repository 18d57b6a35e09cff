//! The collector scenario: is datapunk-log's log call slowed when the OTLP
//! collector is down or stalled?
//!
//! datapunk-log only (`datapunk-precise`): the latency scenario's log call
//! (the message with `user_id: u64`, `latency: f64`, `route: &str`), timed
//! by its `call` and `burst` methods ([`crate::scenario::call_and_burst`]),
//! in one child process per condition:
//!
//! - `no-export`: no exporter (the reference);
//! - `up`: OTLP/gRPC to a healthy loopback receiver ([`Receiver`]) in the
//!   same process, which answers and counts the records;
//! - `down`: OTLP/gRPC to a 127.0.0.1 port where nothing listens (a
//!   listener bound to port 0, its port read, then closed): connections are
//!   refused, retried within the timeout, then the batch fails;
//! - `stalled`: OTLP/gRPC to a loopback listener that accepts connections
//!   and never reads or answers (each batch waits out the timeout).
//!
//! Everything else is the same in every condition: `Overflow::Drop` on the
//! ring (pre-faulted with `prepare_thread()`), `export_overflow(Drop)` (the
//! default), a null JSON sink, the precise clock. The exporter's request
//! and batch timeouts are `export_timeout_ms`, and the engine's shutdown
//! timeout `shutdown_timeout_ms`, so the child ends within a bounded time
//! whatever the collector does. The library's counters are read after the
//! guard's drop, so a reader sees where the records went.

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use datapunk_log::export::otlp::otlp_stats;
use datapunk_log::{ClockSource, Overflow};

use crate::otlp::{grpc_logs_config, null_sink_builder};
use crate::profile::Condition;
use crate::receiver::Receiver;
use crate::results::{CollectorCounters, CollectorResult};
use crate::scenario::{self, ChildSpec, MESSAGE, Methods};
use crate::subject::datapunk::{log_debug, log_info, stats_json};
use crate::subject::{Finished, Logger, SubjectKind, wait_until};

pub const DESCRIPTION: &str = "datapunk-log info!, precise clock, Overflow::Drop (ring pre-faulted), null JSON sink, export_overflow(Drop); OTLP/gRPC export per condition";

/// How long the writer may take to drain the ring in a settle, and the
/// `up` warm-up's flush (neither is ever near it).
const WAIT: Duration = Duration::from_secs(30);

pub fn condition_description(c: Condition) -> &'static str {
    match c {
        Condition::NoExport => "no exporter (the reference)",
        Condition::Up => {
            "OTLP/gRPC to a loopback receiver in the same process that answers and counts the records"
        }
        Condition::Down => {
            "OTLP/gRPC to a 127.0.0.1 port where nothing listens: refused, retried within the timeout, batch dropped"
        }
        Condition::Stalled => {
            "OTLP/gRPC to a loopback listener that accepts connections and never reads or answers"
        }
    }
}

/// The collector side of a condition.
enum Collector {
    None,
    Up(Receiver),
    Down(String),
    Stalled(Stall),
}

impl Collector {
    fn start(c: Condition) -> Result<Collector, String> {
        Ok(match c {
            Condition::NoExport => Collector::None,
            Condition::Up => Collector::Up(Receiver::start(MESSAGE)?),
            Condition::Down => {
                // A port that was free a moment ago and is closed now.
                let l = TcpListener::bind("127.0.0.1:0")
                    .map_err(|e| format!("down: cannot bind: {e}"))?;
                let addr = l.local_addr().map_err(|e| format!("down: {e}"))?;
                drop(l);
                Collector::Down(format!("http://{addr}"))
            }
            Condition::Stalled => Collector::Stalled(Stall::start()?),
        })
    }

    fn endpoint(&self) -> Option<String> {
        match self {
            Collector::None => None,
            Collector::Up(rx) => Some(rx.endpoint().to_string()),
            Collector::Down(e) => Some(e.clone()),
            Collector::Stalled(s) => Some(s.endpoint.clone()),
        }
    }

    /// Stops the collector side: records received (`up`), connections
    /// accepted (`stalled`).
    fn stop(self) -> (Option<u64>, Option<u64>) {
        match self {
            Collector::Up(rx) => (Some(rx.snapshot().records), None),
            Collector::Stalled(s) => (None, Some(s.stop())),
            Collector::None | Collector::Down(_) => (None, None),
        }
    }
}

/// A loopback listener that accepts connections and keeps them open
/// without ever reading or writing, until stopped.
struct Stall {
    endpoint: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Stall {
    fn start() -> Result<Stall, String> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| format!("stalled: cannot bind: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("stalled: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("stalled: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("stalled-collector".into())
            .spawn(move || {
                let mut held: Vec<TcpStream> = Vec::new();
                while !flag.load(Ordering::Acquire) {
                    match listener.accept() {
                        Ok((s, _)) => held.push(s),
                        // WouldBlock, or a transient accept error.
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
                held.len() as u64
            })
            .map_err(|e| format!("stalled: cannot start its thread: {e}"))?;
        Ok(Stall {
            endpoint: format!("http://{addr}"),
            stop,
            thread: Some(thread),
        })
    }

    /// Stops accepting, closes the connections; how many it accepted.
    fn stop(mut self) -> u64 {
        self.halt()
    }

    fn halt(&mut self) -> u64 {
        self.stop.store(true, Ordering::Release);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or(0)
    }
}

impl Drop for Stall {
    fn drop(&mut self) {
        self.halt();
    }
}

/// datapunk-log as configured by [`run`]: the latency scenario's call, the
/// ring pre-faulted by `prepare_thread()`, and a settle that waits for the
/// writer only (`flush()` also waits for the export thread, which a
/// collector that is down or stalled holds up to the timeout per batch).
struct Exporting;

impl Exporting {
    /// True once the writer has taken every record produced so far.
    fn drained() -> bool {
        let s = datapunk_log::stats();
        s.written + s.dropped >= s.produced
    }
}

impl Logger for Exporting {
    #[inline(always)]
    fn log(&self, user_id: u64, latency: f64, route: &str) {
        log_info(user_id, latency, route);
    }

    #[inline(always)]
    fn log_disabled(&self, user_id: u64, latency: f64, route: &str) {
        log_debug(user_id, latency, route);
    }

    fn dropped(&self) -> Option<u64> {
        Some(datapunk_log::stats().dropped)
    }

    fn prefault(&self, _route: &str) -> u64 {
        datapunk_log::prepare_thread();
        0
    }

    fn settle(&self, _calls: u64) {
        wait_until(WAIT, Exporting::drained);
    }

    fn finish(self, _calls: u64) -> Result<Finished, String> {
        if !wait_until(WAIT, Exporting::drained) {
            return Err(format!(
                "the writer did not take every record within {} s",
                WAIT.as_secs()
            ));
        }
        let drained_at = Instant::now();
        let s = datapunk_log::stats();
        Ok(Finished {
            drained_at,
            extra_lines: s.notices,
            consumed: None,
            dropped: Some(s.dropped),
            stats: Some(stats_json(&s)),
        })
    }
}

pub fn run(spec: &ChildSpec) -> Result<CollectorResult, String> {
    let p = spec
        .profile
        .collector
        .as_ref()
        .ok_or("the profile has no [collector] section")?;
    let cond = spec
        .condition
        .ok_or("the collector scenario needs a condition")?;
    if spec.subject != SubjectKind::DatapunkPrecise {
        return Err(format!(
            "the collector scenario measures datapunk-precise, not {}",
            spec.subject.name()
        ));
    }
    let started = Instant::now();
    let timeout = Duration::from_millis(p.export_timeout_ms);
    let collector = Collector::start(cond)?;
    let endpoint = collector.endpoint();
    let mut b = null_sink_builder(ClockSource::Precise, Overflow::Drop, Overflow::Drop)
        .ring_capacity(p.ring_capacity)
        .shutdown_timeout(Duration::from_millis(p.shutdown_timeout_ms));
    if let Some(e) = &endpoint {
        let config = grpc_logs_config(e).timeout(timeout).export_timeout(timeout);
        b = b
            .otlp(config)
            .map_err(|e| format!("datapunk-log otlp: {e}"))?;
    }
    let guard = b.init().map_err(|e| format!("datapunk-log init: {e}"))?;

    let cal = spec.calibration;
    let subtract = spec.profile.latency.subtract_rdtsc_overhead;
    let (overhead, minus) = scenario::rdtsc_overhead(&cal, subtract);
    let l = Exporting;
    let mut calls = 0u64;
    scenario::warm_up(&l, p.warmup_calls, &mut calls);
    if let Collector::Up(rx) = &collector {
        // The connection is up and the export path has run once.
        datapunk_log::flush_timeout(WAIT);
        if p.warmup_calls > 0 && rx.snapshot().records == 0 {
            return Err("up: the receiver got none of the warm-up records".into());
        }
    }
    let methods = Methods {
        call_samples: p.call_samples,
        call_pause_ns: p.call_pause_ns,
        bursts: p.bursts,
        burst_size: p.burst_size,
        burst_pause_ns: p.burst_pause_ns,
    };
    let (call, burst) = scenario::call_and_burst(&l, &methods, &cal, minus, &mut calls);
    l.finish(calls)?;

    // Bounded by the shutdown timeout, whatever the collector does.
    let t = Instant::now();
    drop(guard);
    let shutdown = t.elapsed();
    let s = datapunk_log::stats();
    let o = otlp_stats();
    let (received, connections) = collector.stop();
    let counters = CollectorCounters {
        produced: s.produced,
        ring_dropped: s.dropped,
        export_dropped_logs: s.export_dropped_logs,
        exported_logs: s.exported_logs,
        export_pending: endpoint.as_ref().map(|_| s.export_pending_logs),
        otlp_logs_exported: o.logs_exported,
        otlp_logs_failed: o.logs_failed,
        otlp_export_requests: o.export_requests,
        otlp_export_errors: o.export_errors,
        received,
        connections,
    };
    Ok(CollectorResult {
        condition: cond.name().into(),
        endpoint,
        ring_capacity: p.ring_capacity,
        export_timeout_ms: p.export_timeout_ms,
        rdtsc_overhead: overhead,
        rdtsc_overhead_subtracted: subtract,
        call,
        call_pause_ns: p.call_pause_ns,
        burst,
        burst_size: p.burst_size,
        burst_pause_ns: p.burst_pause_ns,
        calls_total: calls,
        counters,
        shutdown_s: shutdown.as_secs_f64(),
        wall_s: started.elapsed().as_secs_f64(),
    })
}
