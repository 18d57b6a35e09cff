//! OTLP/gRPC export to a slow collector (every request takes 300 ms): the
//! export side holds a fixed number of chunks, so memory stays bounded while
//! 500 000 records are logged; what it cannot take is dropped and counted,
//! and every record still reaches the JSON writer.

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;

use std::time::{Duration, Instant};

use datapunk_log::export::otlp::{OtlpConfig, Protocol, otlp_stats};
use otlp_receiver::{Mode, Receiver};

const RECORDS: u64 = 500_000;

/// Resident set size in bytes (Linux: `/proc/self/statm`, in pages).
#[cfg(target_os = "linux")]
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("resident pages in statm");
    // The page size is 4 KiB on the usual Linux targets; a larger one would
    // only make the bound below looser.
    pages * 4096
}

/// Samples RSS every 10 ms on a thread until dropped; `peak()` is the max.
#[cfg(target_os = "linux")]
struct RssSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    peak: std::sync::Arc<std::sync::atomic::AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[cfg(target_os = "linux")]
impl RssSampler {
    fn start() -> RssSampler {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let peak = std::sync::Arc::new(AtomicU64::new(rss_bytes()));
        let thread = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_bytes(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        RssSampler {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    fn peak(&self) -> u64 {
        self.peak
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(rss_bytes())
    }
}

#[cfg(target_os = "linux")]
impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_slow_collector_keeps_memory_bounded() {
    let rx = Receiver::start();
    rx.set_mode(Mode::Delay(Duration::from_millis(300)));
    let cfg = OtlpConfig::default()
        .protocol(Protocol::Grpc)
        .endpoint(rx.grpc_endpoint())
        .timeout(Duration::from_secs(5))
        .export_timeout(Duration::from_secs(5))
        .schedule_delay(Duration::from_millis(100));
    let guard = datapunk_log::builder()
        .null()
        .ignore_env()
        .otlp(cfg)
        .expect("valid OTLP config")
        .service_name("otlp-slow-test")
        .shutdown_timeout(Duration::from_secs(2))
        .init()
        .expect("init");
    // Let the export thread set up its runtime and exporters first.
    datapunk_log::info!(warmup = true, "slow warmup");
    let _ = datapunk_log::flush_timeout(Duration::from_secs(3));

    #[cfg(target_os = "linux")]
    let (sampler, rss_before) = (RssSampler::start(), rss_bytes());

    let t0 = Instant::now();
    for i in 0..RECORDS {
        datapunk_log::info!(
            i = i,
            user = "alice",
            amount = 12.5,
            "slow collector: a record with a few fields"
        );
    }
    let logging = t0.elapsed();
    assert!(
        logging < Duration::from_secs(60),
        "logging {RECORDS} records took {logging:?}"
    );
    let t0 = Instant::now();
    // The export side is behind: this flush gives up after its timeout.
    let _ = datapunk_log::flush_timeout(Duration::from_secs(1));
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());

    // Every record reached the JSON writer.
    let s = otlp_receiver::stats_once_written(RECORDS + 1, Duration::from_secs(10));
    // Span records go to the export thread, not to the JSON writer.
    assert_eq!(
        s.produced,
        s.written + s.dropped + s.span_records,
        "every record captured was written or counted: {s:?}"
    );
    assert!(s.written > RECORDS, "{s:?}");

    #[cfg(target_os = "linux")]
    {
        let peak = sampler.peak();
        drop(sampler);
        let grown = peak.saturating_sub(rss_before);
        eprintln!("RSS before {rss_before}, peak {peak}");
        assert!(
            grown < 300 << 20,
            "RSS grew by {} MiB while logging (before {} MiB, peak {} MiB)",
            grown >> 20,
            rss_before >> 20,
            peak >> 20
        );
    }

    // Either the export side kept up (not at 300 ms a request), or it
    // dropped what it had no room for, and counted it.
    // Counters first: the collector stores a batch before it answers, so
    // what the exporter counts as sent is then at most what is stored.
    let o = otlp_stats();
    let s = datapunk_log::stats();
    let delivered = rx.logs().len() as u64;
    assert!(
        s.export_dropped_logs > 0 || delivered == RECORDS + 1,
        "delivered {delivered}, {s:?} {o:?}"
    );
    // Nothing is counted twice: handed over + dropped in front never exceeds
    // what was logged.
    assert!(
        s.exported_logs + s.export_dropped_logs <= RECORDS + 1,
        "{s:?}"
    );
    // The collector is slow, not failing: what was sent arrived.
    assert!(delivered > 0, "{s:?} {o:?}");
    assert!(o.logs_exported <= delivered, "{o:?} delivered {delivered}");

    eprintln!("logging {logging:?}, delivered {delivered}, {s:?} {o:?}");
    let t0 = Instant::now();
    drop(guard);
    let shutdown = t0.elapsed();
    eprintln!("shutdown {shutdown:?}");
    assert!(
        shutdown < Duration::from_secs(10),
        "shutdown with a 2 s timeout took {shutdown:?}"
    );
}
