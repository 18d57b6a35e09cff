//! Retention deletes only the oldest rotated files of the sink (by count,
//! by total bytes, by age) and never the live file or files of another
//! name. The sink is driven directly; dropping it waits for its file thread.

#[path = "common/files.rs"]
mod files;

use std::time::{Duration, SystemTime};

use datapunk_log::Sink;
use datapunk_log::sink::FileConfig;
use files::{Dir, all_in_order, json_lines, rotated};

/// `n` lines of 32 bytes each (`{"seq":N,"pad":"xx…"}\n`).
fn write_lines(sink: &mut dyn Sink, n: u64) {
    for seq in 0..n {
        let pad = "x".repeat(if seq < 10 { 13 } else { 12 });
        let line = format!("{{\"seq\":{seq},\"pad\":\"{pad}\"}}\n");
        assert_eq!(line.len(), 32);
        let mut buf = line.as_bytes();
        while !buf.is_empty() {
            let k = sink.write(buf).unwrap();
            assert!(k > 0);
            buf = &buf[k..];
        }
    }
}

/// The sequence numbers left on disk, oldest file first.
fn seqs_left(live: &std::path::Path) -> Vec<u64> {
    all_in_order(live)
        .iter()
        .flat_map(|(_, c)| json_lines(c))
        .map(|v| v["seq"].as_u64().unwrap())
        .collect()
}

#[test]
fn keep_files_keeps_the_newest() {
    let dir = Dir::new("keep");
    let live = dir.join("app.jsonl");
    std::fs::write(dir.join("other.jsonl"), b"{}\n").unwrap();
    // Two lines (64 bytes) per file: 40 lines make 19 rotated files.
    let mut sink =
        datapunk_log::FileSink::with_config(FileConfig::new(&live).rotate_size(64).keep_files(3))
            .unwrap();
    write_lines(&mut sink, 40);
    drop(sink);
    assert_eq!(rotated(&live).len(), 3, "{:?}", dir.names());
    // What is left is the tail of the sequence: the newest 3 files + live.
    assert_eq!(seqs_left(&live), (32..40).collect::<Vec<_>>());
    assert!(dir.join("other.jsonl").exists());
}

#[test]
fn max_total_bytes_keeps_the_newest_within_the_bound() {
    let dir = Dir::new("bytes");
    let live = dir.join("app.jsonl");
    let mut sink = datapunk_log::FileSink::with_config(
        FileConfig::new(&live).rotate_size(64).max_total_bytes(200),
    )
    .unwrap();
    write_lines(&mut sink, 40);
    drop(sink);
    let rot = rotated(&live);
    let total: u64 = rot
        .iter()
        .map(|r| std::fs::metadata(&r.path).unwrap().len())
        .sum();
    // 64-byte files: three fit in 200, a fourth would not.
    assert_eq!(total, 192, "{:?}", dir.names());
    assert_eq!(seqs_left(&live), (32..40).collect::<Vec<_>>());
}

#[test]
fn max_age_deletes_the_oldest_run_only_and_sweeps_stale_temps() {
    let dir = Dir::new("age");
    let live = dir.join("app.jsonl");
    let day = Duration::from_secs(86_400);
    let now = SystemTime::now();
    let make = |name: &str, age: Duration| {
        let p = dir.join(name);
        std::fs::write(&p, b"{\"old\":true}\n").unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(now - age).unwrap();
    };
    make("app.2020-01-01T00-00-00Z.jsonl", 30 * day);
    make("app.2020-01-02T00-00-00Z.jsonl.gz", 20 * day);
    make("app.2020-01-02T00-00-00Z.1.jsonl", 20 * day);
    make("app.2020-01-03T00-00-00Z.jsonl", Duration::from_secs(3600));
    // Older by its time but newer by its name: after a kept file, kept.
    make("app.2020-01-04T00-00-00Z.jsonl", 40 * day);
    // Not this sink's rotated files.
    make("app.jsonl.1", 90 * day);
    make("other.2020-01-01T00-00-00Z.jsonl", 90 * day);
    make("app.2020-01-05T00-00-00Z.jsonl.gz.tmp", Duration::ZERO);
    let sink = datapunk_log::FileSink::with_config(
        FileConfig::new(&live).max_age(Duration::from_secs(7 * 86_400)),
    )
    .unwrap();
    drop(sink);
    assert_eq!(
        dir.names(),
        vec![
            "app.2020-01-03T00-00-00Z.jsonl",
            "app.2020-01-04T00-00-00Z.jsonl",
            "app.jsonl",
            "app.jsonl.1",
            "other.2020-01-01T00-00-00Z.jsonl",
        ]
    );
}

#[test]
fn retention_with_compression_counts_no_errors() {
    let dir = Dir::new("keep-gz");
    let live = dir.join("app.jsonl");
    let mut sink = datapunk_log::FileSink::with_config(
        FileConfig::new(&live)
            .rotate_size(64)
            .keep_files(2)
            .compress(datapunk_log::sink::Compression::Gzip),
    )
    .unwrap();
    write_lines(&mut sink, 40);
    // Let the file thread finish what it was given (bounded), so that
    // every compression has run before the figures are read.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while sink.stats().compress_backlog > 0 {
        assert!(std::time::Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(1));
    }
    let before_drop = sink.stats();
    drop(sink);
    assert_eq!(before_drop.rotations, 19);
    assert_eq!(rotated(&live).len(), 2, "{:?}", dir.names());
    assert_eq!(seqs_left(&live), (34..40).collect::<Vec<_>>());
    assert!(!dir.names().iter().any(|n| n.ends_with(".tmp")));
    assert_eq!(before_drop.compress_errors, 0);
}
