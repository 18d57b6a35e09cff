//! `panic_hook(false)`: no hook is installed, so a panic does not flush
//! (the counterpart of tests/panic_hook.rs, showing what the hook does).

mod common;

use std::time::Duration;

#[test]
fn without_the_hook_a_panic_does_not_flush() {
    let (sink, _guard) =
        common::memory_engine(|b| b.order_window(Duration::from_secs(120)).panic_hook(false));
    common::second_ring();
    let h = std::thread::spawn(|| {
        for i in 0..10u64 {
            datapunk_log::error!(i, "before panic");
        }
        panic!("no hook");
    });
    assert!(h.join().is_err());
    assert!(
        common::lines_of(&sink)
            .iter()
            .all(|l| l.target() == common::HOLD_TARGET),
        "something flushed on panic"
    );
    datapunk_log::flush();
    let lines = common::lines_of(&sink);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.target() != common::HOLD_TARGET)
            .count(),
        10
    );
}
