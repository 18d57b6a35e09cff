//! Rotation by time (hourly and daily) through the real engine, without
//! waiting for the hour: the test sets the file sinks' clock with the test
//! hook `set_file_clock` (names, boundaries and deadlines read it, line
//! timestamps do not), second by second across the boundaries.
//!
//! An hourly and a daily sink get the same runs of lines, each run handed
//! over in two flushed batches, at these times of the sinks' clock (D is
//! tomorrow, UTC):
//!
//! | run | time          | hourly sink          | daily sink           |
//! |-----|---------------|----------------------|----------------------|
//! | 1   | D 12:30:00    | opens its file       | opens its file       |
//! | 2   | D 12:59:59    | -                    | -                    |
//! | 3   | D 13:00:00    | rotates              | -                    |
//! | 4   | D 23:59:59    | rotates              | -                    |
//! | 5   | D+1 00:00:00  | rotates              | rotates              |
//! | 6   | D+2 00:00:00  | rotates              | rotates              |
//!
//! Each line is in exactly one file, split exactly at the boundaries; the
//! first file is named by the time the sink opened it, the others by the
//! start of their period; names sort by time as text and carry no colon.

mod common;
#[path = "common/files.rs"]
mod files;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use datapunk_log::__private::set_file_clock;
use datapunk_log::sink::{FileConfig, Rotation};
use files::{Dir, json_lines, rotated};

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
/// Lines per batch; two batches per run.
const PER_BATCH: u64 = 50;

/// Sets the sinks' clock to `at`, then logs run `run` (`seq` 0..2 ×
/// PER_BATCH) in two batches, each handed to the sinks by a flush. Returns
/// each sink's rotations so far.
fn run_at(at: i64, run: u64) -> Vec<u64> {
    set_file_clock(at);
    for half in 0..2 {
        for i in 0..PER_BATCH {
            let seq = half * PER_BATCH + i;
            datapunk_log::info!(target: "timerot", run, seq, "line");
        }
        datapunk_log::flush();
    }
    datapunk_log::sink_stats()
        .iter()
        .map(|s| s.rotations)
        .collect()
}

/// The rotated names' UTC stamp of Unix time `t` (`2026-12-03T13-00-00Z`),
/// worked out here and checked with the tests' timestamp parser.
fn stamp_of(t: i64) -> String {
    let days = t.div_euclid(DAY);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let s = t.rem_euclid(DAY);
    let stamp = format!(
        "{y:04}-{m:02}-{d:02}T{:02}-{:02}-{:02}Z",
        s / HOUR,
        s / 60 % 60,
        s % 60
    );
    // Cross-check with the tests' timestamp parser.
    let rfc3339 = format!(
        "{}:{}:{}.000000000Z",
        &stamp[..13],
        &stamp[14..16],
        &stamp[17..19]
    );
    assert_eq!(
        common::parse_timestamp(&rfc3339),
        t as u64 * 1_000_000_000,
        "{stamp}"
    );
    stamp
}

/// The names in `dir`, sorted as text.
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// (run, seq) of each line of `path`, every line being one of ours.
fn lines_of(path: &Path) -> Vec<(u64, u64)> {
    let bytes = files::content(path);
    json_lines(&bytes)
        .iter()
        .map(|l| {
            assert_eq!(l["target"], "timerot", "{}: {l}", path.display());
            (l["run"].as_u64().unwrap(), l["seq"].as_u64().unwrap())
        })
        .collect()
}

/// The lines of the runs `runs`, in order.
fn lines_of_runs(runs: &[u64]) -> Vec<(u64, u64)> {
    runs.iter()
        .flat_map(|&r| (0..2 * PER_BATCH).map(move |s| (r, s)))
        .collect()
}

/// Checks the files of the sink whose live file is `live`: `expected`
/// lists each rotated file's start (its stamp) and runs, oldest first; the
/// live file holds `live_runs`.
fn check_files(live: &Path, expected: &[(i64, &[u64])], live_runs: &[u64]) {
    let names = names_in(live.parent().unwrap());
    for n in &names {
        assert!(!n.contains(':'), "a colon in {n}");
    }
    // As text, the rotated names sort by time, and the live file last.
    let mut want: Vec<String> = expected
        .iter()
        .map(|(start, _)| format!("app.{}.jsonl", stamp_of(*start)))
        .collect();
    want.push("app.jsonl".to_string());
    assert_eq!(names, want);
    assert!(expected.windows(2).all(|w| w[0].0 < w[1].0));
    // The helper that reads names back orders them the same way.
    let rot = rotated(live);
    assert_eq!(rot.len(), expected.len());
    for (r, (start, runs)) in rot.iter().zip(expected) {
        assert_eq!(r.stamp, stamp_of(*start));
        assert_eq!(r.n, 0);
        assert_eq!(lines_of(&r.path), lines_of_runs(runs), "{}", r.stamp);
    }
    assert_eq!(lines_of(live), lines_of_runs(live_runs));
}

#[test]
fn hourly_and_daily_rotation_at_the_boundary() {
    let dir = Dir::new("time-rotation");
    let hourly = dir.join("hourly").join("app.jsonl");
    let daily = dir.join("daily").join("app.jsonl");

    // D: tomorrow (UTC), as Unix seconds of its midnight.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let d = (now.div_euclid(DAY) + 1) * DAY;
    let opened = d + 12 * HOUR + 30 * 60;

    // Set before the sinks open: their files start at 12:30:00.
    set_file_clock(opened);
    let guard = datapunk_log::builder()
        .file(FileConfig::new(&hourly).rotate_every(Rotation::Hourly))
        .file(FileConfig::new(&daily).rotate_every(Rotation::Daily))
        .ignore_env()
        .init()
        .expect("init");

    assert_eq!(run_at(opened, 1), [0, 0]);
    // A second before the hour: no rotation; at the hour: the hourly one.
    assert_eq!(run_at(d + 13 * HOUR - 1, 2), [0, 0]);
    assert_eq!(run_at(d + 13 * HOUR, 3), [1, 0]);
    // A second before midnight: the hourly one (23:00 passed); at
    // midnight: both.
    assert_eq!(run_at(d + DAY - 1, 4), [2, 0]);
    assert_eq!(run_at(d + DAY, 5), [3, 1]);
    // A day later: both, once (however many hours passed).
    assert_eq!(run_at(d + 2 * DAY, 6), [4, 2]);

    let stats = datapunk_log::stats();
    let sinks = datapunk_log::sink_stats();
    drop(guard);
    assert_eq!(stats.file_rotations, 6);
    assert_eq!(stats.file_rotate_errors, 0);
    assert_eq!(
        sinks.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
        [hourly.display().to_string(), daily.display().to_string()]
    );
    assert!(sinks.iter().all(|s| s.write_errors == 0));
    assert_eq!(stats.written, 6 * 2 * PER_BATCH);

    // The first file is named by the time the sink opened it; a file
    // started by a rotation by time, by the start of its period.
    check_files(
        &hourly,
        &[
            (opened, &[1, 2]),
            (d + 13 * HOUR, &[3]),
            (d + 23 * HOUR, &[4]),
            (d + DAY, &[5]),
        ],
        &[6],
    );
    check_files(&daily, &[(opened, &[1, 2, 3, 4]), (d + DAY, &[5])], &[6]);
}
