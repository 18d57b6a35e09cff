//! `stats().span_records` is current after a flush even when no JSON line
//! was written since the span records were taken: spans go to the
//! exporters only, so a run of spans with no log line after it leaves the
//! writer's batch buffers empty. (The writer used to publish its counts
//! only when a batch held bytes, so such a run stayed uncounted until the
//! next line: `produced == written + span_records + dropped` failed after a
//! flush; `tests/span_drops.rs` met it when the last ring-full notice came
//! before the last span records.)

mod common;

use std::time::Duration;

use datapunk_log::export::MemoryExporter;

/// Bounds each flush (a loaded machine; nothing here should take long).
const FLUSH: Duration = Duration::from_secs(20);

#[test]
fn span_records_are_counted_at_a_flush_without_any_line() {
    let exporter = MemoryExporter::spans_only();
    let (sink, _guard) = common::memory_engine(|b| b.exporter(exporter.clone()));

    // A log line first, so the writer has published once before.
    datapunk_log::info!(target: "counted", "before the spans");
    assert!(datapunk_log::flush_timeout(FLUSH));
    let before = datapunk_log::stats();
    assert_eq!(before.written, 1);
    assert_eq!(before.span_records, 0);
    let lines_before = common::lines_of(&sink).len();

    const WITH_FIELDS: u64 = 100;
    const WHOLE: u64 = 100;
    for i in 0..WITH_FIELDS {
        drop(datapunk_log::span!("counted_fields", i));
    }
    for _ in 0..WHOLE {
        drop(datapunk_log::span!("counted_whole"));
    }
    assert!(datapunk_log::flush_timeout(FLUSH));
    let st = datapunk_log::stats();

    // No line was written for them: the counts did not ride on a batch.
    assert_eq!(common::lines_of(&sink).len(), lines_before);
    assert_eq!(st.dropped, 0);
    assert_eq!(st.corrupt, 0);
    // A span with fields is a start and an end; one without, one record.
    assert_eq!(st.produced - before.produced, 2 * WITH_FIELDS + WHOLE);
    assert_eq!(st.span_records, 2 * WITH_FIELDS + WHOLE);
    assert_eq!(st.written, before.written);
    assert_eq!(st.produced, st.written + st.span_records + st.dropped);
    // And the exporter has them all.
    let spans = exporter.spans();
    assert_eq!(st.exported_spans, WITH_FIELDS + WHOLE);
    assert_eq!(spans.len() as u64, WITH_FIELDS + WHOLE);
    let with_fields = spans.iter().filter(|s| s.name == "counted_fields").count();
    assert_eq!(with_fields as u64, WITH_FIELDS);
}
