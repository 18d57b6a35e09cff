//! Redaction by key can be turned off, or given its own keys.
//!
//! One engine for the whole binary (one engine per process).

mod common;

use common::lines_for;
use datapunk_log::redact::MASK;

#[test]
fn own_keys_replace_the_defaults() {
    let (sink, _guard) = common::memory_engine(|b| b.redact_keys(["tenant"]).redact_key("ssn"));
    datapunk_log::info!(target: "own", tenant = "acme", ssn = "078-05-1120", password = "kept", "own keys");
    datapunk_log::flush();
    let line = &lines_for(&sink, "own")[0];
    assert_eq!(line.str("tenant"), MASK);
    assert_eq!(line.str("ssn"), MASK);
    // Not on this engine's list.
    assert_eq!(line.str("password"), "kept");
}
