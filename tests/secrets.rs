//! `Secret<T>` and `secrecy`'s types are never written: as fields, inside a
//! `?` (Debug) value, in a formatted message and as span attributes, the JSON
//! line and the exporter get the mask, and the secret's text appears in no
//! output.

mod common;

use common::SharedEngine;
use datapunk_log::export::OwnedValue;
use datapunk_log::{MASK, Secret};

const SECRET: &str = "s3cr3t-d0-n0t-l0g";

fn setup() -> &'static SharedEngine {
    common::shared_with_exporter(|b| b.filter("trace"))
}

#[derive(Debug)]
#[allow(dead_code)] // read through Debug only
struct Credentials {
    user: &'static str,
    password: Secret<&'static str>,
}

#[test]
fn secrets_reach_no_output() {
    let setup = setup();
    let token = Secret::new(SECRET.to_string());
    let creds = Credentials {
        user: "bob",
        password: Secret::new(SECRET),
    };
    let boxed = secrecy::SecretString::from(SECRET.to_string());
    datapunk_log::info!(target: "secrets", token, creds = ?creds, boxed, "login with {}", Secret::new(SECRET));
    {
        let _s = datapunk_log::span!("secret-span", api_key = Secret::new(SECRET));
    }
    datapunk_log::flush();

    let lines = common::lines_for(&setup.sink, "secrets");
    assert_eq!(lines.len(), 1);
    let l = &lines[0];
    assert_eq!(l.str("token"), MASK);
    assert_eq!(l.str("boxed"), MASK);
    assert_eq!(
        l.str("creds"),
        format!("Credentials {{ user: \"bob\", password: {MASK} }}")
    );
    assert_eq!(l.message(), format!("login with {MASK}"));
    // Nothing of the secret anywhere in the output.
    let all = String::from_utf8(setup.sink.contents()).expect("utf-8");
    assert!(!all.contains(SECRET), "a secret reached the JSON output");

    let log = setup.exported_log("secrets");
    assert_eq!(log.field("token"), Some(&OwnedValue::Str(MASK.into())));
    assert_eq!(log.field("boxed"), Some(&OwnedValue::Str(MASK.into())));
    assert!(!format!("{log:?}").contains(SECRET));
    let span = setup.exported_span("secret-span");
    assert_eq!(
        span.fields,
        vec![("api_key".to_string(), OwnedValue::Str(MASK.into()))]
    );

    // The value is there for the code that needs it.
    assert_eq!(token.expose(), SECRET);
    assert_eq!(format!("{token} {token:?}"), format!("{MASK} {MASK}"));
}
