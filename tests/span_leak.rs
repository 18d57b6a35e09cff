//! Spans that never end (leaked) do not stop later spans from being
//! exported: beyond the open-span limit the oldest open span is given up,
//! and counted.

mod common;

use datapunk_log::export::MemoryExporter;

#[test]
fn leaked_spans_are_evicted_oldest_first() {
    let exporter = MemoryExporter::spans_only();
    let (_sink, _guard) = common::memory_engine(|b| b.exporter(exporter.clone()));
    let leaked = 70_000u64;
    for i in 0..leaked {
        std::mem::forget(datapunk_log::span!("leaked", i));
        if i.is_multiple_of(10_000) {
            datapunk_log::flush();
        }
    }
    drop(datapunk_log::span!("after_the_leak"));
    datapunk_log::flush();
    let st = datapunk_log::stats();
    let spans = exporter.spans();
    assert_eq!(spans.len(), 1, "only the span that ended is exported");
    assert_eq!(spans[0].name, "after_the_leak");
    // 70 001 started, at most 65 536 open: the oldest were given up.
    assert_eq!(st.export_dropped_spans, leaked + 1 - 65_536);
    assert_eq!(st.corrupt, 0);
}
