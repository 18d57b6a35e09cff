//! Redaction by value, on by default (e-mail turned on here too): a table
//! of secrets, one or more for every pattern, logged as fields (plain, `%`
//! and `?`), in formatted messages, in errors and their sources, as span
//! attributes (at the start and recorded later), event names, exception
//! events and status descriptions, with every key of the default list
//! beside them. No secret reaches the JSON output or the exporter (every
//! line parsed, every exported value walked); each is replaced in place
//! with the rest of its text kept; near misses pass unchanged; the counts
//! by rule add up.
//!
//! One engine for the whole binary (one engine per process).

mod common;

use std::error::Error;
use std::fmt;

use common::{SharedEngine, lines_for};
use datapunk_log::Status;
use datapunk_log::export::{OwnedStatus, OwnedValue};
use datapunk_log::redact::{DEFAULT_KEYS, MASK, Rule};
use serde_json::Value;

fn setup() -> &'static SharedEngine {
    common::shared_with_exporter(|b| b.filter("trace").redact_rule(Rule::Email, true))
}

const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcT\n-----END RSA PRIVATE KEY-----";

/// Each pattern's secrets: the rule, a text holding the secret, the secret.
fn secrets() -> Vec<(Rule, String, &'static str)> {
    let t = |rule, text: &str, secret| (rule, text.to_string(), secret);
    vec![
        t(
            Rule::Bearer,
            "Authorization: Bearer s3cr3tT0kenValue9",
            "s3cr3tT0kenValue9",
        ),
        t(
            Rule::Bearer,
            "proxy: Basic dXNlcjpodW50ZXIy",
            "dXNlcjpodW50ZXIy",
        ),
        t(Rule::Jwt, &format!("session {JWT} expired"), JWT),
        t(
            Rule::CloudKey,
            "aws key AKIAIOSFODNN7EXAMPLE in use",
            "AKIAIOSFODNN7EXAMPLE",
        ),
        t(
            Rule::CloudKey,
            "maps key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
            "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
        ),
        t(
            Rule::CloudKey,
            "push with ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        ),
        t(
            Rule::CloudKey,
            "slack xoxb-2048-4096-s3cr3tSlackT0ken ok",
            "xoxb-2048-4096-s3cr3tSlackT0ken",
        ),
        t(
            Rule::CloudKey,
            "charge via sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ),
        t(Rule::Pem, &format!("loaded {PEM} from vault"), PEM),
        t(
            Rule::UrlCredentials,
            "connecting to postgres://app:hunter2pw@db.internal:5432/orders",
            "app:hunter2pw",
        ),
        t(
            Rule::Card,
            "charged card 4111 1111 1111 1111 for 12.00",
            "4111 1111 1111 1111",
        ),
        t(Rule::Card, "amex=378282246310005;", "378282246310005"),
        t(
            Rule::Email,
            "welcome mail to jane.doe@example.org sent",
            "jane.doe@example.org",
        ),
    ]
}

/// Texts close to a secret that are not one: they pass unchanged.
const NEAR_MISSES: &[&str] = &[
    "order 4111111111111112 shipped",
    "took 1732000000000000000 ns",
    "token eyJhbGciOiJIUzI1NiJ9 has one segment",
    "the Bearer scheme",
    "Bearer",
    "AKIAIOSFODNN7EXAMPL is short",
    "-----BEGIN CERTIFICATE-----",
    "https://example.com/login?next=/",
    "uuid 550e8400-e29b-41d4-a716-446655440000",
];

/// The error logged with each secret: its message and its source's hold it.
#[derive(Debug)]
struct Leak(String, Cause);

#[derive(Debug)]
struct Cause(String);

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request failed: {}", self.0)
    }
}

impl Error for Leak {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.1)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "upstream said {}", self.0)
    }
}

impl Error for Cause {}

#[derive(Debug)]
#[allow(dead_code)] // read through Debug only
struct Wrap<'a>(&'a str);

/// Every string in a JSON value.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(o) => o.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings(v, out)
        }),
        _ => {}
    }
}

/// Every string of an exported value.
fn owned_strings(v: &OwnedValue, out: &mut Vec<String>) {
    match v {
        OwnedValue::Str(s) => out.push(s.clone()),
        OwnedValue::Error {
            type_name,
            message,
            stacktrace,
        } => out.extend([type_name.clone(), message.clone(), stacktrace.clone()]),
        _ => {}
    }
}

/// Every string the exporter got: log bodies, fields, span names,
/// attributes, events and statuses.
fn exported_strings(setup: &SharedEngine) -> Vec<String> {
    let mut out = Vec::new();
    for l in setup.exporter.logs() {
        out.push(l.message.clone());
        for (k, v) in &l.fields {
            out.push(k.clone());
            owned_strings(v, &mut out);
        }
    }
    for s in setup.exporter.spans() {
        out.push(s.name.clone());
        for (k, v) in &s.fields {
            out.push(k.clone());
            owned_strings(v, &mut out);
        }
        for e in &s.events {
            out.push(e.name.clone());
            for (k, v) in &e.fields {
                out.push(k.clone());
                owned_strings(v, &mut out);
            }
        }
        if let OwnedStatus::Error(d) = &s.status {
            out.push(d.clone());
        }
    }
    out
}

const V: &str = "value-of-a-secret-key";

#[test]
fn no_secret_reaches_any_output() {
    let setup = setup();
    let _serial = common::serial();
    let before = datapunk_log::stats().redacted_by_rule;
    let table = secrets();
    for (i, (_, text, _)) in table.iter().enumerate() {
        let case = i as u64;
        let text = text.as_str();
        datapunk_log::info!(target: "values.field", case, value = text, shown = %text, debugged = ?Wrap(text), "field");
        datapunk_log::info!(target: "values.msg", case, "formatted: {}", text);
        let err = Leak(text.to_string(), Cause(text.to_string()));
        datapunk_log::error!(target: "values.err", case, error = &err as &dyn Error, "failed");
        let span = datapunk_log::span!("values-span", case, attr = text);
        span.record("later", text);
        span.record_error(&err);
        span.add_event(text);
        span.set_status(Status::Error(text));
        drop(span);
    }
    // Every key of the default list, as a field and as an attribute
    // recorded at run time.
    datapunk_log::info!(
        target: "values.keys",
        password = V, passwd = V, pwd = V, passphrase = V, secret = V, client_secret = V,
        api_key = V, apikey = V, x_api_key = V, auth = V, authorization = V,
        proxy_authorization = V, credentials = V, credential = V, token = V,
        access_token = V, refresh_token = V, id_token = V, bearer = V, session = V,
        sessionid = V, session_id = V, cookie = V, set_cookie = V, private_key = V,
        privatekey = V, secret_key = V, secret_access_key = V, csrf = V, csrftoken = V,
        xsrf_token = V, x_auth_token = V,
        "keys"
    );
    {
        let span = datapunk_log::span!("values-keys");
        for key in DEFAULT_KEYS {
            span.record(key, V);
        }
    }
    for (i, text) in NEAR_MISSES.iter().enumerate() {
        datapunk_log::info!(target: "values.near", case = i as u64, value = *text, "near: {}", text);
    }
    datapunk_log::flush();

    // The JSON output: every line parsed, every string walked.
    let mut all = Vec::new();
    for line in common::lines_of(&setup.sink) {
        strings(&line.value, &mut all);
    }
    let exported = exported_strings(setup);
    for (rule, _, secret) in &table {
        for s in all.iter().chain(&exported) {
            assert!(
                !s.contains(secret),
                "{rule} secret {secret:?} reached an output: {s:?}"
            );
        }
    }
    for s in all.iter().chain(&exported) {
        assert!(
            !s.contains(V),
            "a secret key's value reached an output: {s:?}"
        );
    }

    // Replaced in place, the rest of the text kept, in every position.
    let fields = lines_for(&setup.sink, "values.field");
    let msgs = lines_for(&setup.sink, "values.msg");
    let errs = lines_for(&setup.sink, "values.err");
    assert_eq!(
        (fields.len(), msgs.len(), errs.len()),
        (table.len(), table.len(), table.len())
    );
    let logs = setup.exporter.logs();
    let spans: Vec<_> = setup
        .exporter
        .spans()
        .into_iter()
        .filter(|s| s.name == "values-span")
        .collect();
    assert_eq!(spans.len(), table.len());
    for (i, (rule, text, secret)) in table.iter().enumerate() {
        let want = text.replace(secret, MASK);
        let case = |l: &&common::Line| l.u64("case") == i as u64;
        let f = fields.iter().find(case).unwrap();
        assert_eq!(f.str("value"), want, "{rule}");
        assert_eq!(f.str("shown"), want, "{rule}");
        assert_eq!(f.str("debugged"), format!("{:?}", Wrap(&want)), "{rule}");
        assert_eq!(
            msgs.iter().find(case).unwrap().message(),
            format!("formatted: {want}")
        );
        let e = errs.iter().find(case).unwrap();
        assert_eq!(
            e.str("exception.message"),
            format!("request failed: {want}")
        );
        assert_eq!(
            e.str("exception.stacktrace"),
            format!("Leak: request failed: {want}\ncaused by: upstream said {want}")
        );

        let exported = |target: &str| {
            logs.iter()
                .find(|l| l.target == target && l.field("case") == Some(&OwnedValue::U64(i as u64)))
                .unwrap_or_else(|| panic!("no exported {target} record {i}"))
        };
        let l = exported("values.field");
        for key in ["value", "shown"] {
            assert_eq!(
                l.field(key),
                Some(&OwnedValue::Str(want.clone())),
                "{rule} {key}"
            );
        }
        assert_eq!(exported("values.msg").message, format!("formatted: {want}"));
        assert_eq!(
            exported("values.err").field("error"),
            Some(&OwnedValue::Error {
                type_name: "Leak".into(),
                message: format!("request failed: {want}"),
                stacktrace: format!("caused by: upstream said {want}"),
            })
        );
        let s = spans
            .iter()
            .find(|s| s.field("case") == Some(&OwnedValue::U64(i as u64)))
            .unwrap();
        assert_eq!(s.field("attr"), Some(&OwnedValue::Str(want.clone())));
        assert_eq!(s.field("later"), Some(&OwnedValue::Str(want.clone())));
        assert_eq!(s.status, OwnedStatus::Error(want.clone()));
        assert_eq!(s.events.len(), 2);
        assert_eq!(s.events[0].name, "exception");
        assert_eq!(
            s.events[0].fields[1],
            (
                "exception.message".to_string(),
                OwnedValue::Str(format!("request failed: {want}"))
            )
        );
        assert_eq!(s.events[1].name, want);
    }

    // Every default key, in the JSON line, the exported record and span.
    let keys = &lines_for(&setup.sink, "values.keys")[0];
    let log = setup.exported_log("values.keys");
    let span = setup.exported_span("values-keys");
    for key in DEFAULT_KEYS {
        assert_eq!(keys.str(key), MASK, "{key}");
        assert_eq!(log.field(key), Some(&OwnedValue::Str(MASK.into())), "{key}");
        assert_eq!(
            span.field(key),
            Some(&OwnedValue::Str(MASK.into())),
            "{key}"
        );
    }

    // Near misses: unchanged everywhere.
    let near = lines_for(&setup.sink, "values.near");
    for (i, text) in NEAR_MISSES.iter().enumerate() {
        let l = near.iter().find(|l| l.u64("case") == i as u64).unwrap();
        assert_eq!(l.str("value"), *text);
        assert_eq!(l.message(), format!("near: {text}"));
    }
    for l in logs.iter().filter(|l| l.target == "values.near") {
        let Some(OwnedValue::U64(i)) = l.field("case") else {
            panic!("case")
        };
        let text = NEAR_MISSES[*i as usize];
        assert_eq!(l.field("value"), Some(&OwnedValue::Str(text.into())));
        assert_eq!(l.message, format!("near: {text}"));
    }

    // Counted by rule: each secret sits in 6 places of the JSON output
    // (3 fields, the message, the error's message and its source; the
    // message's copy in the stack trace is not counted again), 6 of the
    // exported record (the same) and 6 of the span (2 attributes, the
    // exception's message and source, the event name, the status).
    let after = datapunk_log::stats().redacted_by_rule;
    for rule in Rule::ALL {
        let want = if rule == Rule::Key {
            3 * DEFAULT_KEYS.len() as u64
        } else {
            18 * table.iter().filter(|(r, _, _)| *r == rule).count() as u64
        };
        assert_eq!(after.get(rule) - before.get(rule), want, "{rule}");
    }
    assert_eq!(datapunk_log::stats().redacted, after.total());
}
