//! A compressor that does not keep up never holds up the writer: with the
//! file thread held, logging and `flush()` complete, rotated files beyond
//! the bounded queue stay uncompressed and are counted as skipped; once
//! released, the queue drains and every line is still on disk exactly once.

#[path = "common/files.rs"]
mod files;

use std::time::{Duration, Instant};

use datapunk_log::sink::{Compression, FileConfig};
use files::{Dir, all_in_order, json_lines, rotated};

const LINES: u64 = 4000;

#[test]
fn held_compressor_skips_and_never_blocks() {
    let dir = Dir::new("slow");
    let live = dir.join("app.jsonl");
    let hold = datapunk_log::__private::hold_compression();
    let guard = datapunk_log::builder()
        .file(
            FileConfig::new(&live)
                .rotate_size(4096)
                .compress(Compression::Gzip),
        )
        .overflow(datapunk_log::Overflow::Block)
        .ignore_env()
        .init()
        .expect("init");
    for seq in 0..LINES {
        datapunk_log::info!(target: "slow", seq, "record {}", seq);
    }
    // Bounded: a writer stuck behind the compressor would make this fail
    // rather than hang.
    assert!(datapunk_log::flush_timeout(Duration::from_secs(60)));
    let held = datapunk_log::stats();
    assert!(held.file_rotations > 20, "{held:?}");
    assert!(held.compress_skipped > 0, "{held:?}");
    assert!(held.compress_backlog > 0, "{held:?}");
    assert_eq!(held.written, LINES);
    let per_sink = &datapunk_log::sink_stats()[0];
    assert_eq!(per_sink.compress_skipped, held.compress_skipped);
    assert_eq!(per_sink.compressed, 0);

    drop(hold);
    let deadline = Instant::now() + Duration::from_secs(60);
    while datapunk_log::stats().compress_backlog > 0 {
        assert!(Instant::now() < deadline, "the queue never drained");
        std::thread::sleep(Duration::from_millis(5));
    }
    let done = datapunk_log::sink_stats()[0].clone();
    assert_eq!(done.compress_errors, 0);
    // The jobs queued were compressed; the skipped files stayed plain.
    let rot = rotated(&live);
    let gz = rot.iter().filter(|r| r.compressed == ".gz").count() as u64;
    let plain = rot.iter().filter(|r| r.compressed.is_empty()).count() as u64;
    assert_eq!(gz, done.compressed);
    assert_eq!(plain, done.compress_skipped);
    assert_eq!(gz + plain, done.rotations);
    drop(guard);

    let seqs: Vec<u64> = all_in_order(&live)
        .iter()
        .flat_map(|(_, c)| json_lines(c))
        .filter(|v| v["target"] == "slow")
        .map(|v| v["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..LINES).collect::<Vec<_>>());
}
