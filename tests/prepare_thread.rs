//! `prepare_thread()` creates the calling thread's ring up front and backs
//! every page of it, so the ring's first lap takes no page faults in log
//! calls; the pages it writes are never published as records.
//!
//! Page faults are counted by the kernel per thread (`minflt` in
//! `/proc/thread-self/stat`): a count, not a timing.

use datapunk_log::{MemorySink, Overflow};

/// Minor page faults of the calling thread so far.
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("/proc/thread-self/stat");
    // Fields after the command name (which may hold spaces): state is
    // field 3, minflt field 10.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    rest.split(' ')
        .nth(10 - 3)
        .and_then(|v| v.parse().ok())
        .expect("minflt")
}

/// 1 MiB ring: one glibc mmap of its own, too small for a huge page, so its
/// pages are faulted in one by one on first write.
const RING: usize = 1 << 20;
/// About 45 bytes a record: half the first lap, not past it.
const CALLS: u64 = 12_000;

/// Faults taken by `CALLS` log calls on a new thread, prepared or not.
fn faults_in_calls(prepare: bool, tag: &'static str) -> u64 {
    std::thread::spawn(move || {
        if prepare {
            assert!(datapunk_log::prepare_thread());
        }
        let before = minor_faults();
        for i in 0..CALLS {
            datapunk_log::info!(tag, i, "first lap");
        }
        minor_faults() - before
    })
    .join()
    .expect("thread")
}

#[test]
fn a_prepared_thread_takes_no_page_faults_on_the_first_lap() {
    assert!(
        !datapunk_log::prepare_thread(),
        "no engine yet: nothing to prepare"
    );
    let sink = MemorySink::new();
    let _guard = datapunk_log::builder()
        .memory(&sink)
        .ring_capacity(RING)
        .overflow(Overflow::Block)
        .filter("info")
        .ignore_env()
        .init()
        .expect("init");

    let cold = faults_in_calls(false, "cold");
    let prepared = faults_in_calls(true, "prepared");
    // 12 000 records of ~45 bytes cover about 130 pages of the ring.
    assert!(
        cold >= 100,
        "an unprepared ring faults its pages in: {cold}"
    );
    assert!(
        prepared * 10 <= cold,
        "prepared: {prepared} faults, unprepared: {cold}"
    );

    // Nothing the preparation wrote is read back as a record.
    datapunk_log::flush();
    let lines = sink.lines();
    let mut per_tag = [0u64; 2];
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("valid JSON");
        assert_eq!(v["message"], "first lap");
        match v["tag"].as_str() {
            Some("cold") => per_tag[0] += 1,
            Some("prepared") => per_tag[1] += 1,
            other => panic!("unexpected tag {other:?}"),
        }
    }
    assert_eq!(per_tag, [CALLS, CALLS]);
    let st = datapunk_log::stats();
    assert_eq!((st.dropped, st.corrupt), (0, 0));
    // Preparing again is harmless.
    assert!(datapunk_log::prepare_thread());
}
