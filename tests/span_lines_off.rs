//! Span lines are off by default: lines inside spans carry the span's ids
//! only, a field named `span` keeps its name, no span-end line is written,
//! and without an exporter spans write no records at all.

mod common;

use common::lines_of;

#[test]
fn off_by_default_lines_are_unchanged() {
    let (sink, _guard) = common::memory_engine(|b| b);
    let span = datapunk_log::span!("quiet_op", tenant = "acme");
    {
        let _e = span.enter();
        datapunk_log::info!(span = "user field", "inside");
    }
    span.set_status(datapunk_log::Status::Error("failed"));
    drop(span);
    datapunk_log::info!("outside");
    datapunk_log::flush();
    let lines = lines_of(&sink);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let inside = &lines[0];
    assert_eq!(inside.message(), "inside");
    assert_eq!(inside.str("span"), "user field");
    assert!(!inside.has("fields.span"));
    assert!(inside.has("span_id"));
    assert_eq!(
        inside.keys(),
        [
            "timestamp",
            "level",
            "target",
            "message",
            "trace_id",
            "span_id",
            "trace_flags",
            "thread",
            "span"
        ]
    );
    assert_eq!(lines[1].message(), "outside");
    let stats = datapunk_log::stats();
    assert_eq!(
        stats.span_records, 0,
        "no exporter, no span lines: no span records"
    );
    assert_eq!(stats.span_end_lines, 0);
}
