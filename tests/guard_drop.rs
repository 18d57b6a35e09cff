//! Dropping the guard writes everything to the file, later calls are counted
//! as discarded and never written, flush after shutdown returns at once, and
//! a second `init()` fails.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use datapunk_log::InitError;

const THREADS: u64 = 3;
const PER_THREAD: u64 = 300;

fn enabled_call(i: u64) {
    datapunk_log::info!(target: "gd.after", i, "after shutdown");
}

fn disabled_call(i: u64) {
    datapunk_log::debug!(target: "gd.after", i, "disabled after shutdown");
}

#[test]
fn dropping_the_guard_drains_and_stops() {
    let dir = common::TempDir(common::temp_path("guard-drop"));
    // Parent directories are created.
    let path = dir.0.join("nested").join("deeper").join("app.log.json");
    let (mem, guard) = common::memory_engine_on(datapunk_log::builder().json_file(&path), |b| {
        // Hold records back: only the shutdown drain can write them.
        b.order_window(Duration::from_secs(60))
    });
    common::second_ring();

    // One call site used before and after shutdown.
    enabled_call(u64::MAX);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                for seq in 0..PER_THREAD {
                    datapunk_log::info!(target: "gd", t, seq, "record {}", seq);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // Nothing reached the sinks yet, so what follows is the guard's doing.
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        common::lines_of(&mem)
            .iter()
            .all(|l| l.target() == common::HOLD_TARGET),
        "records were written before the drop"
    );
    assert_eq!(datapunk_log::stats().written, 1);

    drop(guard);

    let file = std::fs::read(&path).expect("log file exists");
    assert_eq!(file, mem.contents(), "file and memory sinks differ");
    let mut lines = common::parse_bytes(&file);
    lines.retain(|l| l.target() != common::HOLD_TARGET);
    let total = THREADS * PER_THREAD + 1;
    assert_eq!(lines.len() as u64, total);
    for t in 0..THREADS {
        let seqs = common::seqs_of(lines.iter().filter(|l| l.target() == "gd"), t);
        assert_eq!(seqs, (0..PER_THREAD).collect::<Vec<_>>());
    }
    // `total` plus the second ring's one record.
    let s = datapunk_log::stats();
    assert_eq!(s.produced, total + 1);
    assert_eq!(s.written, total + 1);
    assert_eq!(s.discarded, 0);

    // After shutdown: counted as discarded, never written, never blocking.
    for i in 0..5 {
        enabled_call(i);
    }
    std::thread::spawn(|| {
        for i in 0..3 {
            datapunk_log::warn!(target: "gd.after", i, "new call site, new thread");
        }
    })
    .join()
    .unwrap();
    for i in 0..4 {
        disabled_call(i);
    }
    let s = datapunk_log::stats();
    assert_eq!(s.discarded, 8, "{s:?}");
    assert_eq!(s.written, total + 1);
    assert_eq!(s.produced, total + 1);

    // flush() after shutdown returns at once (run it on a thread so that a
    // hang fails the test instead of stalling it).
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        datapunk_log::flush();
        let timed = datapunk_log::flush_timeout(Duration::from_secs(60));
        tx.send(timed).unwrap();
    });
    let completed = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("flush() hangs after shutdown");
    assert!(!completed, "flush_timeout reports success without a writer");

    assert_eq!(
        std::fs::read(&path).unwrap(),
        file,
        "written after shutdown"
    );
    assert!(mem.contents() == file);

    match datapunk_log::builder().ignore_env().null().init() {
        Err(InitError::AlreadyInitialized) => {}
        other => panic!("second init: {other:?}"),
    }
    let e = datapunk_log::builder().ignore_env().init().unwrap_err();
    assert_eq!(e.to_string(), "datapunk-log is already initialized");
}
