//! `flush_on_signal(true)`: SIGTERM writes every queued record, then ends the
//! process by the signal, as if no handler were installed. The test re-runs
//! its own binary as the child that gets the signal.
#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "DATAPUNK_SIGNAL_TEST_FILE";
const RECORDS: u64 = 1000;

fn child(path: &str) -> ! {
    let _guard = datapunk_log::builder()
        .json_file(path)
        .flush_on_signal(true)
        // The writer looks at the rings only when woken: the records stay
        // queued until something flushes.
        .idle_poll(Duration::from_secs(60))
        .ignore_env()
        .init()
        .expect("init");
    std::thread::sleep(Duration::from_millis(200));
    for seq in 0..RECORDS {
        datapunk_log::info!(seq, "before the signal");
    }
    std::thread::sleep(Duration::from_millis(100));
    let before = std::fs::read(path).expect("file exists").len();
    // Control: nothing was written yet, so what the parent finds is the
    // signal's flush.
    assert_eq!(before, 0, "records were written before the signal");
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(std::process::id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Still alive: the signal did not end the process.
    std::process::exit(3);
}

#[test]
fn sigterm_flushes_then_ends_the_process_by_the_signal() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        child(&path);
    }
    let dir = std::env::temp_dir().join(format!("dp-signal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.jsonl");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sigterm_flushes_then_ends_the_process_by_the_signal",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .output()
        .expect("run the child");
    assert_eq!(
        out.status.signal(),
        Some(15),
        "the child should end by SIGTERM: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).expect("log file");
    let seqs: Vec<u64> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("valid JSON line");
            assert_eq!(v["message"], "before the signal");
            v["seq"].as_u64().expect("seq")
        })
        .collect();
    assert_eq!(seqs, (0..RECORDS).collect::<Vec<_>>());
    let _ = std::fs::remove_dir_all(&dir);
}
