//! Span records lost to a full ring (`Overflow::Drop`) leave the export side
//! consistent: an end whose start was dropped is counted as an orphan, a
//! start whose end was dropped stays open, nothing is corrupt, and every
//! record is accounted for.

mod common;

use datapunk_log::Overflow;
use datapunk_log::export::MemoryExporter;

#[test]
fn dropped_span_records_are_counted_not_corrupting() {
    let exporter = MemoryExporter::spans_only();
    let (_sink, _guard) = common::memory_engine(|b| {
        b.exporter(exporter.clone())
            .ring_capacity(4096)
            .overflow(Overflow::Drop)
    });
    let started = 200_000u64;
    for i in 0..started {
        let s = datapunk_log::span!("tiny_ring", i);
        drop(s);
    }
    assert!(datapunk_log::flush_timeout(std::time::Duration::from_secs(
        20
    )));
    let st = datapunk_log::stats();
    assert_eq!(st.corrupt, 0);
    assert_eq!(st.produced, st.written + st.span_records + st.dropped);
    assert!(st.dropped > 0, "a 4 KiB ring must overflow: {st:?}");
    let spans = exporter.spans();
    assert_eq!(spans.len() as u64, st.exported_spans);
    assert!(st.exported_spans < started);
    // Each exported span has its own fields and distinct ids.
    let mut ids: Vec<u64> = spans.iter().map(|s| s.context.span_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), spans.len());
    assert!(spans.iter().all(|s| s.field("i").is_some()));
    // Records whose partner was dropped: ends without starts are orphans.
    let records = st.span_records;
    assert!(records >= 2 * st.exported_spans);
    assert!(st.export_orphans <= records - 2 * st.exported_spans);

    // Spans without fields: one record each, so a dropped one is lost whole
    // and leaves no orphan behind.
    let before = st;
    let whole = 200_000u64;
    for _ in 0..whole {
        drop(datapunk_log::span!("tiny_ring_whole"));
    }
    assert!(datapunk_log::flush_timeout(std::time::Duration::from_secs(
        20
    )));
    let st = datapunk_log::stats();
    assert_eq!(st.corrupt, 0);
    assert_eq!(st.produced, st.written + st.span_records + st.dropped);
    assert_eq!(st.produced - before.produced, whole);
    assert!(st.dropped > before.dropped, "the ring must overflow again");
    assert_eq!(st.export_orphans, before.export_orphans);
    let exported = st.exported_spans - before.exported_spans;
    // Those the export queue had no room for are counted there.
    let queue_dropped = st.export_dropped_spans - before.export_dropped_spans;
    assert_eq!(
        exported + queue_dropped,
        st.span_records - before.span_records
    );
    assert_eq!(
        exported + queue_dropped + (st.dropped - before.dropped),
        whole
    );
    let spans = exporter.spans();
    assert_eq!(
        spans.iter().filter(|s| s.name == "tiny_ring_whole").count() as u64,
        exported
    );
}
