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
    // A span without fields is written whole when it ends: never held open.
    drop(datapunk_log::span!("after_the_leak"));
    datapunk_log::flush();
    let st = datapunk_log::stats();
    assert_eq!(st.export_dropped_spans, leaked - 65_536);
    // One with a field opens at its start: one more of the oldest goes.
    drop(datapunk_log::span!("after_the_leak_with_a_field", n = 1u8));
    datapunk_log::flush();
    let st = datapunk_log::stats();
    let spans = exporter.spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(
        names,
        ["after_the_leak", "after_the_leak_with_a_field"],
        "only the spans that ended are exported"
    );
    // 70 001 opened, at most 65 536 open: the oldest were given up.
    assert_eq!(st.export_dropped_spans, leaked + 1 - 65_536);
    assert_eq!(st.corrupt, 0);
}
