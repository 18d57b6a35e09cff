//! Records logged on the export thread (by an exporter, or a library it
//! uses) are discarded and counted: the export never feeds itself.

mod common;

use common::lines_of;
use datapunk_log::export::{Exporter, LogView, SpanView};

struct Chatty;

impl Exporter for Chatty {
    fn export_log(&mut self, log: &LogView<'_>) {
        datapunk_log::warn!(seen = log.message, "exporter saw a log");
    }
    fn export_span(&mut self, span: &SpanView<'_>) {
        datapunk_log::warn!(seen = span.name, "exporter saw a span");
    }
}

#[test]
fn logging_from_an_exporter_does_not_loop() {
    let (sink, _guard) = common::memory_engine(|b| b.exporter(Chatty));
    for i in 0..100u32 {
        let s = datapunk_log::span!("work", i);
        let _e = s.enter();
        datapunk_log::info!(i, "app record");
    }
    datapunk_log::flush();
    let before = datapunk_log::stats();
    // Another round: still no growth beyond the application's own records.
    datapunk_log::info!("one more");
    datapunk_log::flush();
    let after = datapunk_log::stats();
    let lines = lines_of(&sink);
    assert_eq!(lines.len(), 101);
    assert!(lines.iter().all(|l| l.str("level") != "WARN"));
    assert_eq!(after.written, before.written + 1);
    assert_eq!(after.exported_logs, 101);
    assert_eq!(after.exported_spans, 100);
    // Each exporter call's record was discarded and counted.
    assert!(after.discarded >= 201, "{after:?}");
}
