//! Rotated names in local time carry the zone's offset without a colon
//! (`2026-12-03T18-30-00+0530`) and show the local wall clock. The zone is
//! set with a POSIX `TZ` rule (no time zone database needed) before
//! anything reads it.
#![cfg(unix)]

#[path = "common/files.rs"]
mod files;

use std::time::{SystemTime, UNIX_EPOCH};

use datapunk_log::Sink;
use datapunk_log::sink::FileConfig;
use files::Dir;

#[test]
fn local_time_names_carry_the_offset() {
    // SAFETY: the only test of this binary, run before any thread of ours
    // reads the environment; `localtime_r` reads `TZ` on first use.
    unsafe { std::env::set_var("TZ", "IST-5:30") };
    let dir = Dir::new("local");
    let live = dir.join("app.jsonl");
    let utc_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut s = datapunk_log::FileSink::with_config(
        FileConfig::new(&live).rotate_size(10).local_time(true),
    )
    .unwrap();
    let mut buf: &[u8] = b"{\"a\":1}\n{\"a\":2}\n";
    while !buf.is_empty() {
        let n = s.write(buf).unwrap();
        buf = &buf[n..];
    }
    drop(s);
    let names = dir.names();
    assert_eq!(names.len(), 2, "{names:?}");
    let rotated = &names[0];
    // app.YYYY-MM-DDTHH-MM-SS+0530.jsonl
    assert!(
        rotated.starts_with("app.") && rotated.ends_with("+0530.jsonl"),
        "{rotated}"
    );
    assert!(!rotated.contains(':'));
    let stamp = &rotated[4..4 + 24];
    let num = |r: std::ops::Range<usize>| stamp[r].parse::<i64>().unwrap();
    let local_tod = num(11..13) * 3600 + num(14..16) * 60 + num(17..19);
    let utc_tod = utc_now.rem_euclid(86_400);
    // The stamp is the local time of the file's creation, moments ago.
    let diff = (local_tod - (utc_tod + 5 * 3600 + 30 * 60)).rem_euclid(86_400);
    assert!(
        diff <= 120 || diff >= 86_400 - 120,
        "{stamp} vs UTC {utc_tod}"
    );
}
