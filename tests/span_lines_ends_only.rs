//! Span-end lines alone, switched on by `DATAPUNK_LOG_SPAN_ENDS` (the
//! builder leaves both switches unset): lines inside spans are unchanged,
//! a span without fields keeps its single whole-span record and still gets
//! its end line with its start and duration.

mod common;

use common::lines_of;
use datapunk_log::MemorySink;
use serde_json::json;

#[test]
fn span_ends_from_the_environment() {
    // SAFETY: the only test of this binary, before any other thread of it
    // reads the environment.
    unsafe {
        std::env::set_var(datapunk_log::SPAN_ENDS_ENV, "1");
        std::env::remove_var(datapunk_log::SPAN_FIELDS_ENV);
    }
    let sink = MemorySink::new();
    let _guard = datapunk_log::builder()
        .memory(&sink)
        .filter("info")
        .init()
        .expect("init");
    let with_fields = datapunk_log::span!("fielded_op", n = 3u64);
    {
        let _e = with_fields.enter();
        datapunk_log::info!("inside");
    }
    drop(with_fields);
    let bare = datapunk_log::span!("whole_op");
    drop(bare);
    datapunk_log::flush();

    let lines = lines_of(&sink);
    let inside: Vec<_> = lines.iter().filter(|l| l.message() == "inside").collect();
    assert_eq!(inside.len(), 1);
    assert!(!inside[0].has("span"), "{}", inside[0].raw);
    let ends: Vec<_> = lines
        .iter()
        .filter(|l| l.message() == "span ended")
        .collect();
    assert_eq!(ends.len(), 2, "{lines:?}");
    assert_eq!(ends[0].get("span"), &json!({"name": "fielded_op", "n": 3}));
    assert_eq!(ends[1].get("span"), &json!({"name": "whole_op"}));
    for e in &ends {
        let start = common::parse_timestamp(e.str("start_timestamp"));
        assert_eq!(e.u64("duration_ns"), e.timestamp_nanos() - start);
    }
    let stats = datapunk_log::stats();
    assert_eq!(stats.span_end_lines, 2);
    // Start and end of the first, one whole-span record for the second.
    assert_eq!(stats.span_records, 3);
}
