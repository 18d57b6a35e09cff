//! Secrets in records from both bridges never reach a sink or an exporter:
//! `log`'s key-values and message arguments, `tracing`'s fields, message
//! arguments, span fields and recorded attributes; by key and by value
//! pattern. Every JSON line is parsed and every exported value read back.

mod common;

use common::{SharedEngine, lines_for, serial};
use datapunk_log::MASK;
use datapunk_log::export::OwnedValue;

fn setup() -> &'static SharedEngine {
    common::shared_with_exporter(|b| b.filter("info"))
}

const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
const AWS: &str = "AKIAIOSFODNN7EXAMPLE";
const CARD: &str = "4111 1111 1111 1111";
const URL_USER: &str = "app:hunter2pw";
const PASSWORD: &str = "correct-horse-battery";

/// No secret of the table in `text`.
fn assert_clean(what: &str, text: &str) {
    for secret in [JWT, AWS, CARD, URL_USER, PASSWORD] {
        assert!(!text.contains(secret), "{what} holds {secret:?}: {text}");
    }
}

fn exported_text(v: &OwnedValue) -> String {
    format!("{v:?}")
}

#[test]
fn log_bridge_records_are_redacted_by_key_and_by_value() {
    let _s = serial();
    let setup = setup();
    let url = format!("postgres://{URL_USER}@db.internal/orders");
    log::warn!(
        target: "rb.log",
        password = PASSWORD,
        dsn = url.as_str(),
        auth_header = format!("Bearer {JWT}").as_str();
        "key {} used with card {}", AWS, CARD
    );
    datapunk_log::flush();
    let l = &lines_for(&setup.sink, "rb.log")[0];
    assert_clean("the JSON line", &l.raw);
    assert_eq!(l.str("password"), MASK);
    assert_eq!(
        l.str("dsn"),
        format!("postgres://{MASK}@db.internal/orders")
    );
    assert!(l.message().starts_with("key "), "{}", l.message());
    let e = setup.exported_log("rb.log");
    assert_clean("the exported message", &e.message);
    for (k, v) in &e.fields {
        assert_clean(k, &exported_text(v));
    }
    assert_eq!(e.field("password"), Some(&OwnedValue::Str(MASK.into())));
}

#[test]
fn tracing_bridge_events_and_spans_are_redacted_by_key_and_by_value() {
    let _s = serial();
    let setup = setup();
    let url = format!("postgres://{URL_USER}@db.internal/orders");
    {
        let span = tracing::info_span!(
            target: "rb.tracing",
            "rb-span",
            dsn = url.as_str(),
            note = tracing::field::Empty
        );
        span.record("note", format!("token {JWT}").as_str());
        let _e = span.enter();
        tracing::warn!(
            target: "rb.tracing",
            password = PASSWORD,
            card = CARD,
            debugged = ?format!("key {AWS}"),
            "jwt {} seen", JWT
        );
    }
    datapunk_log::flush();
    let l = &lines_for(&setup.sink, "rb.tracing")[0];
    assert_clean("the JSON line", &l.raw);
    assert_eq!(l.str("password"), MASK);
    assert_eq!(l.message(), format!("jwt {MASK} seen"));
    let e = setup.exported_log("rb.tracing");
    assert_clean("the exported message", &e.message);
    for (k, v) in &e.fields {
        assert_clean(k, &exported_text(v));
    }
    let span = setup.exported_span("rb-span");
    for (k, v) in &span.fields {
        assert_clean(k, &exported_text(v));
    }
    assert!(span.field("note").is_some());
    let stats = datapunk_log::stats();
    assert!(
        stats.redacted_by_rule.jwt >= 3,
        "{:?}",
        stats.redacted_by_rule
    );
}
