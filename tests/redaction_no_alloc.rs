//! Redaction keeps the writer free of allocation: after warm-up, records
//! whose fields, formatted messages and errors hold secrets of every
//! default pattern, and fields redacted by key, are written with each
//! secret replaced by its keyed hash (HMAC-SHA256) without one allocation
//! anywhere in the process.

#[path = "common/process_alloc.rs"]
mod process_alloc;

use std::fmt;

use process_alloc::{Discard, allocations};

#[derive(Debug)]
struct Failed;

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("login as postgres://app:hunter2@db failed")
    }
}

impl std::error::Error for Failed {}

fn log_batch(n: u64) {
    let header = "Bearer s3cr3tT0kenValue9";
    let card = "4111 1111 1111 1111";
    for i in 0..n {
        datapunk_log::info!(
            user_id = i,
            header,
            card,
            password = i,
            key = "AKIAIOSFODNN7EXAMPLE",
            "paid with {} and token {}",
            "378282246310005",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
        );
        datapunk_log::warn!(
            error = &Failed as &dyn std::error::Error,
            "retry {} of {}",
            i,
            n
        );
    }
}

#[test]
fn redacting_and_hashing_allocate_nothing() {
    let _guard = datapunk_log::builder()
        .sink(Box::new(Discard))
        .ignore_env()
        .ring_capacity(1 << 20)
        .redact_hmac_key("k1", vec![7u8; 32])
        .init()
        .expect("init");
    for _ in 0..3 {
        log_batch(2_000);
        datapunk_log::flush();
    }
    let before = allocations();
    let redacted = datapunk_log::stats().redacted;
    for _ in 0..5 {
        log_batch(2_000);
        datapunk_log::flush();
    }
    let after = allocations();
    let stats = datapunk_log::stats();
    assert_eq!(stats.written, 8 * 4_000);
    assert_eq!(stats.dropped, 0);
    // Per pair of records: bearer, card (field and message), password,
    // cloud key, JWT, and the URL password in the error (its message and
    // its copy in the stack trace count once).
    assert_eq!(stats.redacted - redacted, 5 * 2_000 * 7);
    assert_eq!(after - before, 0, "allocations while redacting");
}
