//! External rotation: after `mv app.jsonl app.jsonl.1` and `reopen()` (or a
//! SIGHUP with `reopen_on_sighup`), new lines go to a new `app.jsonl` and
//! the old lines stay intact in the moved file; a plain `json_file` sink
//! follows too.

#![cfg(unix)]

#[path = "common/files.rs"]
mod files;

use std::time::{Duration, Instant};

use datapunk_log::sink::FileConfig;
use files::{Dir, json_lines};

fn log_phase(phase: &str, n: u64) {
    for seq in 0..n {
        datapunk_log::info!(target: "reopen", phase, seq, "record");
    }
    datapunk_log::flush();
}

fn phases(path: &std::path::Path) -> Vec<(String, u64)> {
    json_lines(&std::fs::read(path).unwrap())
        .into_iter()
        .filter(|v| v["target"] == "reopen")
        .map(|v| {
            (
                v["phase"].as_str().unwrap().to_string(),
                v["seq"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn expect(path: &std::path::Path, phase: &str, n: u64) {
    let want: Vec<(String, u64)> = (0..n).map(|s| (phase.to_string(), s)).collect();
    assert_eq!(phases(path), want, "{}", path.display());
}

#[test]
fn reopen_after_external_rename() {
    let dir = Dir::new("reopen");
    let live = dir.join("app.jsonl");
    let plain = dir.join("plain.jsonl");
    let _guard = datapunk_log::builder()
        .file(FileConfig::new(&live).rotate_size(1 << 20))
        .json_file(&plain)
        .reopen_on_sighup(true)
        .ignore_env()
        .init()
        .expect("init");

    log_phase("a", 50);
    std::fs::rename(&live, dir.join("app.jsonl.1")).unwrap();
    std::fs::rename(&plain, dir.join("plain.jsonl.1")).unwrap();
    datapunk_log::reopen();
    log_phase("b", 30);
    expect(&dir.join("app.jsonl.1"), "a", 50);
    expect(&live, "b", 30);
    expect(&dir.join("plain.jsonl.1"), "a", 50);
    expect(&plain, "b", 30);

    // The same through SIGHUP, as logrotate's postrotate would send it.
    std::fs::rename(&live, dir.join("app.jsonl.2")).unwrap();
    let before = datapunk_log::__private::reopen_generation();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while datapunk_log::__private::reopen_generation() == before {
        assert!(Instant::now() < deadline, "SIGHUP was not seen");
        std::thread::sleep(Duration::from_millis(2));
    }
    log_phase("c", 20);
    expect(&dir.join("app.jsonl.2"), "b", 30);
    expect(&live, "c", 20);
    expect(&dir.join("app.jsonl.1"), "a", 50);
}
