//! After warm-up, the whole process, the writer thread included, allocates
//! nothing while records are captured, encoded and written to a sink: the
//! writer reuses its batch buffer and per-call-site keys. Records whose
//! values hold secrets (replaced by the mask on the writer) included.

#[path = "common/process_alloc.rs"]
mod process_alloc;

use process_alloc::{Discard, allocations};

fn log_batch(n: u64) {
    let route = "/api/v1/items";
    for i in 0..n {
        let latency = i as f64 / 7.0;
        datapunk_log::info!(user_id = i, latency, route, ok = true, "request handled");
        datapunk_log::warn!(attempt = i, "retry {} of {}", i, n);
        datapunk_log::info!(
            header = "Bearer s3cr3tT0kenValue9",
            "charged {} at postgres://app:hunter2@db",
            "4111 1111 1111 1111"
        );
    }
}

#[test]
fn steady_state_allocates_nothing_anywhere() {
    let _guard = datapunk_log::builder()
        .sink(Box::new(Discard))
        .ignore_env()
        .ring_capacity(1 << 20)
        .init()
        .expect("init");
    // Warm-up: the thread's ring, the writer's first sight of each call site,
    // the batch buffer's growth to its high-water mark.
    for _ in 0..3 {
        log_batch(5_000);
        datapunk_log::flush();
    }
    let before = allocations();
    for _ in 0..5 {
        log_batch(5_000);
        datapunk_log::flush();
    }
    let after = allocations();
    let stats = datapunk_log::stats();
    assert_eq!(stats.written, 8 * 15_000);
    assert_eq!(stats.redacted_by_rule.card, 8 * 5_000);
    assert_eq!(stats.dropped, 0);
    assert_eq!(after - before, 0, "allocations during steady logging");
}
