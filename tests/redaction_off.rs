//! Redaction can be given its own keys, value patterns and token
//! prefixes (or be turned off).
//!
//! One engine for the whole binary (one engine per process).

mod common;

use common::lines_for;
use datapunk_log::redact::{MASK, Rule};

#[test]
fn own_keys_replace_the_defaults() {
    let (sink, _guard) = common::memory_engine(|b| {
        b.redact_keys(["tenant"])
            .redact_key("ssn")
            .redact_patterns([Rule::Card, Rule::CloudKey])
            .redact_token_prefixes(["acme_live_"])
            .redact_rule(Rule::Email, true)
    });
    datapunk_log::info!(target: "own", tenant = "acme", ssn = "078-05-1120", password = "kept", "own keys");
    let text = "card 4111111111111111 key acme_live_0123456789abcdef github ghp_1234567890abcdefghij \
                aws AKIAIOSFODNN7EXAMPLE Bearer s3cr3tT0kenValue9 bob@example.com";
    datapunk_log::info!(target: "own.values", "{}", text);
    datapunk_log::flush();
    let line = &lines_for(&sink, "own")[0];
    assert_eq!(line.str("tenant"), MASK);
    assert_eq!(line.str("ssn"), MASK);
    // Not on this engine's list.
    assert_eq!(line.str("password"), "kept");
    // Cards, cloud keys with only this engine's prefix, e-mail addresses.
    assert_eq!(
        lines_for(&sink, "own.values")[0].message(),
        format!(
            "card {MASK} key {MASK} github ghp_1234567890abcdefghij \
             aws {MASK} Bearer s3cr3tT0kenValue9 {MASK}"
        )
    );
    let by_rule = datapunk_log::stats().redacted_by_rule;
    assert_eq!(
        (
            by_rule.key,
            by_rule.card,
            by_rule.cloud_key,
            by_rule.email,
            by_rule.bearer
        ),
        (2, 1, 2, 1, 0)
    );
}
