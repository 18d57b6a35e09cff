//! Rotated files compressed with gzip and with zstd decompress to exactly
//! the lines written, in order; no uncompressed or half-written (`.tmp`)
//! rotated file is left once the sink is dropped (which waits for its file
//! thread), and the compressed files keep the sink's mode.

#[path = "common/files.rs"]
mod files;

use datapunk_log::Sink;
use datapunk_log::sink::{Compression, FileConfig};
use files::{Dir, all_in_order, rotated};

fn lines(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| {
            format!("{{\"seq\":{i},\"msg\":\"line {i} of the compression test\"}}\n").into_bytes()
        })
        .collect()
}

/// Writes like the writer's slot: until the sink took everything.
fn write_all(sink: &mut dyn Sink, mut buf: &[u8]) {
    let mut calls = 0;
    while !buf.is_empty() {
        let n = sink.write(buf).unwrap();
        assert!(n > 0);
        buf = &buf[n..];
        calls += 1;
        assert!(calls < 100_000);
    }
}

fn round_trip(kind: Compression, ext: &str) {
    let dir = Dir::new(ext);
    let live = dir.join("app.jsonl");
    let all = lines(2000);
    let mut sink = datapunk_log::FileSink::with_config(
        FileConfig::new(&live).rotate_size(8 * 1024).compress(kind),
    )
    .unwrap();
    for chunk in all.chunks(3000) {
        // Chunks end mid-line: the sink completes the line before rotating.
        write_all(&mut sink, chunk);
        // Keep the file thread's bounded queue from filling (a full queue
        // leaves files uncompressed: tests/file_slow_compressor.rs).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while sink.stats().compress_backlog > 0 {
            assert!(std::time::Instant::now() < deadline, "no progress");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    let st = sink.stats();
    assert_eq!(st.compress_skipped, 0);
    assert_eq!(st.compress_errors, 0);
    assert_eq!(st.compressed, st.rotations);
    drop(sink);
    let rot = rotated(&live);
    assert!(rot.len() >= 5, "{:?}", dir.names());
    for r in &rot {
        assert_eq!(r.compressed, ext, "{}", r.path.display());
        #[cfg(unix)]
        assert_eq!(files::mode_of(&r.path), 0o640);
    }
    assert!(
        !dir.names().iter().any(|n| n.ends_with(".tmp")),
        "{:?}",
        dir.names()
    );
    let joined: Vec<u8> = all_in_order(&live)
        .into_iter()
        .flat_map(|(_, c)| c)
        .collect();
    assert_eq!(joined, all);
    // Every file holds whole lines, each a JSON object.
    for (p, c) in all_in_order(&live) {
        let n = files::json_lines(&c).len();
        assert!(n > 0, "{}", p.display());
    }
}

#[test]
fn gzip_files_decompress_to_the_lines_written() {
    round_trip(Compression::Gzip, ".gz");
}

#[test]
fn zstd_files_decompress_to_the_lines_written() {
    round_trip(Compression::Zstd, ".zst");
}
