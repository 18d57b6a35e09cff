//! The keyed-hash replacement (`redact_hmac_key`): a redacted value is
//! written as `hmac-sha256:<key id>:<32 hex digits>`, the first 16 bytes
//! of HMAC-SHA256 under the key. The figures below were computed once
//! with another implementation (Python's `hmac`), so the output is the
//! same from run to run and build to build; equal values give equal text
//! in the JSON output, the exported record and the span, so records still
//! correlate.
//!
//! One engine for the whole binary (one engine per process).

mod common;

use common::SharedEngine;
use datapunk_log::export::OwnedValue;

fn setup() -> &'static SharedEngine {
    common::shared_with_exporter(|b| {
        // The key: bytes 0, 1, …, 31 (a test key; a real one comes from a
        // secret store or DATAPUNK_LOG_REDACT_HMAC_KEY).
        b.filter("trace")
            .redact_hmac_key("k2026", (0u8..32).collect::<Vec<u8>>())
    })
}

const CARD: &str = "hmac-sha256:k2026:0622241201382a45912fb22828b3f7db";
/// `app:hunter2pw`, the user info of a URL.
const USER_INFO: &str = "hmac-sha256:k2026:f26e3aa07716159558071596a2ac2aaf";
const TOKEN: &str = "hmac-sha256:k2026:6cd9d3177c8d1c913a19867fc930f325";
/// The JSON text `42`, redacted by its key.
const FORTY_TWO: &str = "hmac-sha256:k2026:7df989924b2ebf8832c80802d1213a8a";

#[test]
fn hashes_are_stable_and_shared_by_every_output() {
    let setup = setup();
    datapunk_log::info!(
        target: "hmac",
        password = 42u64,
        url = "postgres://app:hunter2pw@db/x",
        card = "4111 1111 1111 1111",
        "paid with {} via Bearer {}",
        "4111111111111111",
        "s3cr3tT0kenValue9"
    );
    {
        let span = datapunk_log::span!("hmac-span", card = "4111-1111-1111-1111");
        span.record("api_key", &42u64);
    }
    datapunk_log::flush();

    let line = common::single(&setup.sink, "hmac");
    assert_eq!(line.str("password"), FORTY_TWO);
    assert_eq!(line.str("url"), format!("postgres://{USER_INFO}@db/x"));
    assert_eq!(line.str("card"), CARD);
    assert_eq!(
        line.message(),
        format!("paid with {CARD} via Bearer {TOKEN}")
    );

    let log = setup.exported_log("hmac");
    assert_eq!(
        log.field("password"),
        Some(&OwnedValue::Str(FORTY_TWO.into()))
    );
    assert_eq!(
        log.field("url"),
        Some(&OwnedValue::Str(format!("postgres://{USER_INFO}@db/x")))
    );
    assert_eq!(log.field("card"), Some(&OwnedValue::Str(CARD.into())));
    assert_eq!(log.message, format!("paid with {CARD} via Bearer {TOKEN}"));

    // A card's digits are hashed, whatever separates them; a number
    // redacted by its key, as its JSON text.
    let span = setup.exported_span("hmac-span");
    assert_eq!(span.field("card"), Some(&OwnedValue::Str(CARD.into())));
    assert_eq!(
        span.field("api_key"),
        Some(&OwnedValue::Str(FORTY_TWO.into()))
    );

    let by_rule = datapunk_log::stats().redacted_by_rule;
    // JSON and export: the password field, the span's api_key.
    assert_eq!(by_rule.key, 3);
    // JSON and export: the field and the message; the span attribute.
    assert_eq!(by_rule.card, 5);
    assert_eq!((by_rule.url_credentials, by_rule.bearer), (2, 2));
}
