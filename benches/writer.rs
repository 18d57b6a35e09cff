//! End-to-end throughput: one thread logs N records under `Overflow::Block`
//! and the clock stops when `flush()` returns (every record encoded as JSON
//! and handed to the sink), reported in records/s (`Throughput::Elements`).
//! With a 256 KiB ring (the default) the producer spends most of the time
//! waiting for room, so this measures the writer thread.
//!
//! One engine per process: the null sink runs in this process (group
//! `writer_null`), the JSON file sink in a child — this same executable
//! re-run with `DATAPUNK_BENCH_SINK=file` and the same arguments (group
//! `writer_file`), writing `logs/bench/writer.log` under the working
//! directory (truncated between iterations, off the clock).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use datapunk_log::Overflow;

const SINK_ENV: &str = "DATAPUNK_BENCH_SINK";
const ROUTE: &str = "/api/v1/items";
/// Records per iteration.
const N: u64 = 100_000;

fn log_batch(n: u64) {
    for i in 0..n {
        let user_id = black_box(i);
        let latency = black_box((i & 1023) as f64 * 0.25 + 0.5);
        let route = black_box(ROUTE);
        datapunk_log::info!(user_id, latency, route, "request handled");
    }
}

fn truncate(path: Option<&Path>) {
    if let Some(p) = path {
        // The writer is idle (flush() returned) and the sink appends, so it
        // carries on at the new end.
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .expect("open the bench log");
        f.set_len(0).expect("truncate the bench log");
    }
}

fn main() {
    let file = std::env::var(SINK_ENV).is_ok_and(|v| v == "file");
    let path = file.then(|| PathBuf::from("logs/bench/writer.log"));
    let mut b = datapunk_log::builder()
        .overflow(Overflow::Block)
        .filter("info")
        .ignore_env();
    b = match &path {
        Some(p) => {
            let _ = std::fs::remove_file(p);
            b.json_file(p)
        }
        None => b.null(),
    };
    let guard = b
        .init()
        .expect("the bench process installs the only engine");
    let group = if file { "writer_file" } else { "writer_null" };

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(20)
        .configure_from_args();
    {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(N));
        g.bench_function("block_3_fields_then_flush", |bench| {
            bench.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    log_batch(N);
                    datapunk_log::flush();
                    total += t.elapsed();
                    truncate(path.as_deref());
                }
                total
            })
        });
        g.finish();
    }
    c.final_summary();

    let s = datapunk_log::stats();
    eprintln!(
        "{group}: {} records written, {} dropped, {:.1} bytes/record",
        s.written,
        s.dropped,
        s.bytes as f64 / s.written.max(1) as f64
    );
    assert_eq!(s.dropped, 0, "Overflow::Block never drops");
    drop(guard);
    if let Some(p) = &path {
        let _ = std::fs::remove_file(p);
    }

    if !file {
        let status = std::process::Command::new(
            std::env::current_exe().expect("the bench executable's path"),
        )
        .args(std::env::args_os().skip(1))
        .env(SINK_ENV, "file")
        .status()
        .expect("start the file-sink bench process");
        if !status.success() {
            eprintln!("the file-sink run failed: {status}");
            std::process::exit(1);
        }
    }
}
