//! End-to-end throughput: one thread logs N records under `Overflow::Block`
//! and the clock stops when `flush()` returns (every record encoded as JSON
//! and handed to the sink), reported in records/s (`Throughput::Elements`).
//! With a 256 KiB ring (the default) the producer spends most of the time
//! waiting for room, so this measures the writer thread.
//!
//! One engine per process: the null sink runs in this process (group
//! `writer_null`, redaction on as by default), then in a child with
//! redaction off (`writer_null_redaction_off`: this same executable re-run
//! with `DATAPUNK_BENCH_REDACT=off`), and the JSON file sink in another
//! child (`DATAPUNK_BENCH_SINK=file`, group `writer_file`), writing
//! `logs/bench/writer.log` under the working directory (truncated between
//! iterations, off the clock). Children get the same arguments.
//!
//! Two more children write through a rotating file sink
//! (`sink::FileConfig`, `logs/bench/rolling.jsonl`): rotation by size every
//! 4 MiB, the newest 4 rotated files kept, without compression
//! (`DATAPUNK_BENCH_SINK=rolling`, group `writer_file_rotating`) and with
//! gzip on the sink's file thread (`rolling_gzip`, group
//! `writer_file_rotating_gzip`). Compare `block_3_fields_then_flush` across
//! `writer_file` and these: the difference is what rotation costs the
//! writer (the rename and create, every 4 MiB). The live file is not
//! truncated between iterations (the sink tracks its size); retention
//! bounds the disk used. Mind what `writer_file` measures: its file is
//! truncated between iterations, so its dirty pages are dropped before any
//! writeback, while the rotated files live on until retention deletes them
//! (four rotations later) and may be written back meanwhile: part of the
//! difference is the page cache's, not the rotation's (a rotation itself,
//! the rename, the create and the hand-over, is about 0.1 to 0.3 ms; a
//! plain file left to grow, not truncated, measured by hand on a loaded
//! 2-core VM, ran at 1.1-1.3 M records/s against 1.6-1.9 M for the
//! rotating sink and 2.0 M for the truncated file). With
//! gzip, the file thread competes with the writer for the cores, and at
//! this rate (hundreds of MB/s) it cannot keep up: most rotated files stay
//! uncompressed, counted as skipped (printed after the group).
//!
//! Besides the three-field record (`block_3_fields_then_flush`), the null
//! sink groups log records with about 180 bytes of text for the value
//! patterns to scan: a user agent, a referer URL and a formatted path
//! (`text_no_secrets_then_flush`), and the same shape with a bearer JWT,
//! credentials in the URL and a card number in them
//! (`text_with_secrets_then_flush`). Compare a bench between
//! `writer_null` and `writer_null_redaction_off` of one run: the difference
//! is what redaction costs the writer. Group `redact_scan` (this process
//! only) times the scanner alone on single strings, against plain JSON
//! escaping, in bytes/s.
//!
//! `block_3_fields_in_spans_then_flush`: the three-field record inside
//! spans (a span with two fields per 10 records, entered around them).
//! With `DATAPUNK_BENCH_SPAN_LINES=on` the whole run has span lines on
//! (`span_fields` and `span_ends`; groups get a `_span_lines` suffix):
//! compare that case between the two runs for what span lines cost the
//! writer (a line per span more, and the span's piece on each line).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use datapunk_log::Overflow;
use datapunk_log::sink::{Compression, FileConfig};

const SINK_ENV: &str = "DATAPUNK_BENCH_SINK";
const REDACT_ENV: &str = "DATAPUNK_BENCH_REDACT";
const SPAN_LINES_ENV: &str = "DATAPUNK_BENCH_SPAN_LINES";
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

const AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
const REFERER: &str = "https://shop.example.com/cart?item=4711&qty=2";
const PATH: &str = "/api/v1/items/8812/reviews?page=3";
const AUTH: &str =
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
const REFERER_CREDS: &str = "https://bob:hunter2@shop.example.com/cart?item=4711&qty=2";
const PATH_CARD: &str = "/api/v1/pay?card=4111111111111111&amount=1200";
const PROSE: &str =
    "the upstream closed the connection before the response was complete, retrying with a new one";

/// Records whose strings the value patterns scan (three strings, one of
/// them the formatted message's argument).
/// [`log_batch`] inside spans of 10 records each.
fn log_in_spans(n: u64) {
    for j in 0..n / 10 {
        let s = datapunk_log::span!("request", route = ROUTE, request_id = j);
        let _e = s.enter();
        log_batch(10);
    }
}

fn log_text(n: u64, agent: &str, referer: &str, path: &str) {
    for i in 0..n {
        let user_id = black_box(i);
        let agent = black_box(agent);
        let referer = black_box(referer);
        datapunk_log::info!(user_id, agent, referer, "GET {}", black_box(path));
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
    let sink = std::env::var(SINK_ENV).unwrap_or_default();
    let rolling = match sink.as_str() {
        "rolling" => Some(Compression::None),
        "rolling_gzip" => Some(Compression::Gzip),
        _ => None,
    };
    let file = sink == "file" || rolling.is_some();
    let redaction_off = std::env::var(REDACT_ENV).is_ok_and(|v| v == "off");
    let span_lines = std::env::var(SPAN_LINES_ENV).is_ok_and(|v| v == "on");
    let path = (sink == "file").then(|| PathBuf::from("logs/bench/writer.log"));
    let rolling_dir = PathBuf::from("logs/bench/rolling");
    let mut b = datapunk_log::builder()
        .overflow(Overflow::Block)
        .filter("info")
        .ignore_env();
    b = match (&path, rolling) {
        (Some(p), _) => {
            let _ = std::fs::remove_file(p);
            b.json_file(p)
        }
        (None, Some(kind)) => {
            let _ = std::fs::remove_dir_all(&rolling_dir);
            b.file(
                FileConfig::new(rolling_dir.join("rolling.jsonl"))
                    .rotate_size(4 << 20)
                    .keep_files(4)
                    .compress(kind),
            )
        }
        (None, None) => b.null(),
    };
    if redaction_off {
        b = b.redaction(false);
    }
    b = b.span_fields(span_lines).span_ends(span_lines);
    let guard = b
        .init()
        .expect("the bench process installs the only engine");
    let group = match (file, redaction_off) {
        (true, _) if rolling == Some(Compression::Gzip) => "writer_file_rotating_gzip",
        (true, _) if rolling.is_some() => "writer_file_rotating",
        (true, _) => "writer_file",
        (false, false) => "writer_null",
        (false, true) => "writer_null_redaction_off",
    };
    let group = if span_lines {
        format!("{group}_span_lines")
    } else {
        group.to_string()
    };
    let group = group.as_str();

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(20)
        .configure_from_args();
    {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(N));
        let mut run = |name: &str, log: &dyn Fn(u64)| {
            g.bench_function(name, |bench| {
                bench.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let t = Instant::now();
                        log(N);
                        datapunk_log::flush();
                        total += t.elapsed();
                        truncate(path.as_deref());
                    }
                    total
                })
            });
        };
        run("block_3_fields_then_flush", &log_batch);
        if !file {
            run("block_3_fields_in_spans_then_flush", &log_in_spans);
            run("text_no_secrets_then_flush", &|n| {
                log_text(n, AGENT, REFERER, PATH)
            });
            run("text_with_secrets_then_flush", &|n| {
                log_text(n, AUTH, REFERER_CREDS, PATH_CARD)
            });
        }
        g.finish();
    }
    if !file && !redaction_off {
        // The scanner alone, on one string at a time: JSON escaping (what
        // the writer does with redaction off) against escaping with every
        // value pattern on (the fuzz targets' scanner: the defaults and
        // e-mail), in bytes/s.
        let mut g = c.benchmark_group("redact_scan");
        for (name, text) in [
            ("user_agent", AGENT),
            ("referer", REFERER),
            ("path", PATH),
            ("prose", PROSE),
            ("secrets", AUTH),
        ] {
            g.throughput(Throughput::Bytes(text.len() as u64));
            g.bench_function(format!("escape/{name}"), |b| {
                b.iter(|| datapunk_log::__fuzz::escape(black_box(text)))
            });
            g.bench_function(format!("scan_and_escape/{name}"), |b| {
                b.iter(|| datapunk_log::__fuzz::redact_json(black_box(text.as_bytes())))
            });
        }
        g.finish();
    }
    c.final_summary();

    let s = datapunk_log::stats();
    eprintln!(
        "{group}: {} records written, {} dropped, {:.1} bytes/record, {} values redacted ({:?})",
        s.written,
        s.dropped,
        s.bytes as f64 / s.written.max(1) as f64,
        s.redacted,
        s.redacted_by_rule,
    );
    if rolling.is_some() {
        let f = &datapunk_log::sink_stats()[0];
        eprintln!(
            "{group}: {} rotations, {} files deleted, {} compressed, {} left uncompressed (queue full), {} compression errors",
            f.rotations, f.files_deleted, f.compressed, f.compress_skipped, f.compress_errors,
        );
    }
    assert_eq!(s.dropped, 0, "Overflow::Block never drops");
    drop(guard);
    if let Some(p) = &path {
        let _ = std::fs::remove_file(p);
    }
    if rolling.is_some() {
        let _ = std::fs::remove_dir_all(&rolling_dir);
    }

    if !file && !redaction_off {
        for (var, value) in [
            (REDACT_ENV, "off"),
            (SINK_ENV, "file"),
            (SINK_ENV, "rolling"),
            (SINK_ENV, "rolling_gzip"),
        ] {
            let status = std::process::Command::new(
                std::env::current_exe().expect("the bench executable's path"),
            )
            .args(std::env::args_os().skip(1))
            .env(var, value)
            .status()
            .expect("start a child bench process");
            if !status.success() {
                eprintln!("the {var}={value} run failed: {status}");
                std::process::exit(1);
            }
        }
    }
}
