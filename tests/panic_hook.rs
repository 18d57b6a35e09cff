//! The panic hook flushes before the panic unwinds: records logged by a
//! panicking thread are in the sink when the thread is joined, without any
//! flush by the test. The previously installed hook still runs.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use datapunk_log::MemorySink;

static PREVIOUS_HOOK_RUNS: AtomicU64 = AtomicU64::new(0);

fn count(sink: &MemorySink, marker: &str) -> usize {
    common::lines_of(sink)
        .iter()
        .filter(|l| l.value["marker"] == marker)
        .count()
}

#[test]
fn panics_flush_before_unwinding() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PREVIOUS_HOOK_RUNS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));

    let (sink, _guard) = common::memory_engine(|b| {
        // Hold every record back: only a flush writes them.
        b.order_window(Duration::from_secs(120))
            .idle_poll(Duration::from_millis(20))
    });
    common::second_ring();

    // Control: the ordering window (two live rings) holds every record
    // until a flush, so the checks below can only pass because the hook
    // flushed.
    for i in 0..5u64 {
        datapunk_log::info!(marker = "control", i);
    }
    assert_eq!(
        count(&sink, "control"),
        0,
        "the writer did not hold records back"
    );

    // A spawned thread logs, then panics.
    let h = std::thread::Builder::new()
        .name("doomed".into())
        .spawn(|| {
            for i in 0..10u64 {
                datapunk_log::error!(marker = "before-panic", i, "about to fail {}", i);
            }
            panic!("worker failed");
        })
        .unwrap();
    assert!(h.join().is_err());
    assert_eq!(count(&sink, "before-panic"), 10);
    // The flush is a barrier for every thread: the control records too.
    assert_eq!(count(&sink, "control"), 5);
    assert_eq!(PREVIOUS_HOOK_RUNS.load(Ordering::SeqCst), 1);

    // A panic caught on the logging thread itself.
    let r = std::panic::catch_unwind(|| {
        for i in 0..3u64 {
            datapunk_log::warn!(marker = "caught", i);
        }
        panic!("caught panic");
    });
    assert!(r.is_err());
    assert_eq!(count(&sink, "caught"), 3);
    assert_eq!(PREVIOUS_HOOK_RUNS.load(Ordering::SeqCst), 2);

    let lines = common::lines_of(&sink);
    let doomed: Vec<_> = lines
        .iter()
        .filter(|l| l.value["marker"] == "before-panic")
        .collect();
    for (i, l) in doomed.iter().enumerate() {
        assert_eq!(l.str("thread"), "doomed");
        assert_eq!(l.u64("i"), i as u64);
        assert_eq!(l.message(), format!("about to fail {i}"));
    }
}
