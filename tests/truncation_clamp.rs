//! A record limit larger than the ring can hold is clamped: huge records are
//! cut to fit the smallest ring, never panic, never deadlock under Block.

mod common;

use datapunk_log::{MemorySink, Overflow};

#[test]
fn record_limit_is_clamped_to_the_ring() {
    let sink = MemorySink::new();
    let _guard = datapunk_log::builder()
        .memory(&sink)
        .ring_capacity(4096)
        .max_record_bytes(1 << 20)
        .overflow(Overflow::Block)
        .ignore_env()
        .init()
        .expect("a too-large record limit is clamped, not an error");

    let big = "z".repeat(100 * 1024);
    let n = 200u64;
    for i in 0..n {
        if i % 2 == 0 {
            datapunk_log::info!(i, big = big.as_str());
        } else {
            datapunk_log::info!(i, shown = %big, "{}", big);
        }
    }
    datapunk_log::flush();
    let lines = common::lines_of(&sink);
    assert_eq!(lines.len() as u64, n);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l.u64("i"), i as u64);
        assert_eq!(l.get("truncated"), true);
        let kept = if i % 2 == 0 {
            l.str("big").len()
        } else {
            l.str("shown").len() + l.message().len()
        };
        assert!(kept > 0 && kept < 4096, "{kept} bytes of text kept");
        // Every line fits comfortably in the ring's budget.
        assert!(l.raw.len() < 4096, "{} bytes", l.raw.len());
    }
    let s = datapunk_log::stats();
    assert_eq!(s.truncated, n);
    assert_eq!(s.written, n);
    assert_eq!(s.dropped, 0);
}
