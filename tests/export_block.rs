//! .export_overflow(Overflow::Block)`: when the exporter is slower than the
//! application, the writer waits for the export side instead of dropping,
//! so every record is exported.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datapunk_log::Overflow;
use datapunk_log::export::{Exporter, LogView};

struct Slow(Arc<AtomicU64>);

impl Exporter for Slow {
    fn export_log(&mut self, log: &LogView<'_>) {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(2000) {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        std::hint::black_box(log.message);
    }
    fn wants_spans(&self) -> bool {
        false
    }
}

#[test]
fn a_slow_exporter_gets_every_record_under_block() {
    let seen = Arc::new(AtomicU64::new(0));
    let (_sink, _guard) = common::memory_engine(|b| {
        b.exporter(Slow(seen.clone()))
            .export_overflow(Overflow::Block)
            .overflow(Overflow::Block)
    });
    let n = 400_000u64;
    for i in 0..n {
        datapunk_log::info!(i, "exported one by one");
    }
    datapunk_log::flush();
    let st = datapunk_log::stats();
    assert_eq!(st.export_dropped_logs, 0, "{st:?}");
    assert_eq!(st.exported_logs, n);
    assert_eq!(seen.load(Ordering::Relaxed), n);
    assert_eq!(st.written, n);
}
