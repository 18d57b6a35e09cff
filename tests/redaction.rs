//! Redaction by key, on by default: every default key that can be written
//! as a field name, in a log record and as a span attribute, reaches no
//! sink and no exporter; other fields pass untouched; each redacted value
//! is counted.
//!
//! One engine for the whole binary (one engine per process).

mod common;

use common::{SharedEngine, lines_for};
use datapunk_log::export::OwnedValue;
use datapunk_log::redact::MASK;

fn setup() -> &'static SharedEngine {
    common::shared_with_exporter(|b| b.filter("trace"))
}

const V: &str = "sekrit-value-123";

#[test]
fn default_keys_never_reach_an_output() {
    let setup = setup();
    let before = datapunk_log::stats().redacted;
    datapunk_log::info!(
        target: "redact",
        password = V, passwd = V, pwd = V, secret = V, client_secret = V, api_key = V,
        apikey = V, auth = V, authorization = V, credentials = V, token = V,
        access_token = V, refresh_token = V, session = V, sessionid = V, session_id = V,
        cookie = V, set_cookie = V, private_key = V, privatekey = V, csrf = V,
        db_password = V, http.request.header.authorization = V, github_token = V,
        user = "bob", route = "/login", tokens_used = 3u64,
        "login"
    );
    {
        let s = datapunk_log::span!("redact-span", token = V, tenant = "acme");
        // Attributes recorded after the start: their keys come at run time.
        s.record("api_key", V);
        s.record("region", "eu");
    }
    datapunk_log::flush();
    let all = String::from_utf8(setup.sink.contents()).expect("utf-8");
    assert!(!all.contains(V), "a secret reached the JSON output");
    let line = &lines_for(&setup.sink, "redact")[0];
    for key in [
        "password",
        "token",
        "set_cookie",
        "db_password",
        "http.request.header.authorization",
    ] {
        assert_eq!(line.str(key), MASK, "{key}");
    }
    assert_eq!(line.str("user"), "bob");
    assert_eq!(line.str("route"), "/login");
    assert_eq!(line.u64("tokens_used"), 3);

    let log = setup.exported_log("redact");
    assert!(
        !format!("{log:?}").contains(V),
        "a secret reached the exporter"
    );
    assert_eq!(
        log.field("authorization"),
        Some(&OwnedValue::Str(MASK.into()))
    );
    assert_eq!(log.field("user"), Some(&OwnedValue::Str("bob".into())));
    let span = setup.exported_span("redact-span");
    assert_eq!(
        span.fields,
        vec![
            ("token".to_string(), OwnedValue::Str(MASK.into())),
            ("tenant".to_string(), OwnedValue::Str("acme".into())),
            ("api_key".to_string(), OwnedValue::Str(MASK.into())),
            ("region".to_string(), OwnedValue::Str("eu".into())),
        ]
    );
    assert!(
        !format!("{span:?}").contains(V),
        "a secret reached the exporter"
    );
    // 24 fields in the JSON line and in the export, two span attributes.
    assert_eq!(datapunk_log::stats().redacted - before, 24 + 24 + 2);
}
