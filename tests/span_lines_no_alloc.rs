//! With span lines on (span fields and span-end lines), after warm-up the
//! whole process, the writer thread included, allocates nothing while spans
//! start, get attributes and a status, hold log calls, and end: the
//! writer's table of live spans reuses its slots and buffers.

#[path = "common/process_alloc.rs"]
mod process_alloc;

use datapunk_log::Status;
use process_alloc::{Discard, allocations};

fn work(n: u64) {
    for i in 0..n {
        let outer = datapunk_log::span!("request", route = "/api/v1/items", user_id = i);
        let _o = outer.enter();
        datapunk_log::info!(latency = i as f64 / 7.0, "request handled");
        let inner = datapunk_log::span!("db_query", table = "orders");
        {
            let _i = inner.enter();
            inner.record("rows", &(i % 17));
            datapunk_log::info!(rows = i % 17, "queried");
        }
        if i % 3 == 0 {
            inner.set_status(Status::Error("timeout"));
        }
        drop(inner);
        let bare = datapunk_log::span!("bare");
        drop(bare);
    }
}

#[test]
fn span_lines_allocate_nothing_in_steady_state() {
    let _guard = datapunk_log::builder()
        .sink(Box::new(Discard))
        .ignore_env()
        .ring_capacity(1 << 20)
        .span_fields(true)
        .span_ends(true)
        .init()
        .expect("init");
    for _ in 0..3 {
        work(2_000);
        datapunk_log::flush();
    }
    let before = allocations();
    for _ in 0..5 {
        work(2_000);
        datapunk_log::flush();
    }
    let after = allocations();
    let stats = datapunk_log::stats();
    assert_eq!(stats.written, 8 * 4_000);
    assert_eq!(stats.span_end_lines, 8 * 6_000);
    assert_eq!(stats.dropped, 0);
    assert_eq!(stats.corrupt, 0);
    assert_eq!(after - before, 0, "allocations during steady span lines");
}
