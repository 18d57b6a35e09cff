//! `DATAPUNK_LOG_REDACT`, `DATAPUNK_LOG_REDACT_HMAC_KEY` and
//! `DATAPUNK_LOG_REDACT_HMAC_KEY_ID`: a bad value makes `init()` fail with
//! an error naming the variable and the bad part, and installs nothing (the
//! key never appears in the error); good values apply over the builder.

mod common;

use datapunk_log::redact::{HMAC_KEY_ENV, HMAC_KEY_ID_ENV, REDACT_ENV};
use datapunk_log::{InitError, MemorySink};

fn set(var: &str, value: &str) {
    // SAFETY: this file has a single test, so no other thread of this
    // process reads or writes the environment while it runs.
    unsafe { std::env::set_var(var, value) };
}

fn unset(var: &str) {
    // SAFETY: as in `set`.
    unsafe { std::env::remove_var(var) };
}

const KEY_HEX: &str = "00112233445566778899aabbccddeeff";

#[test]
fn the_environment_configures_redaction_and_a_bad_value_fails_init() {
    for var in [REDACT_ENV, HMAC_KEY_ENV, HMAC_KEY_ID_ENV] {
        unset(var);
    }
    // (variables set, the variable the error names, a part of the error)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        (
            &[(REDACT_ENV, "jwt,cards")],
            REDACT_ENV,
            "unknown rule 'cards'",
        ),
        (
            &[(HMAC_KEY_ENV, KEY_HEX)],
            HMAC_KEY_ENV,
            "without DATAPUNK_LOG_REDACT_HMAC_KEY_ID",
        ),
        (
            &[(HMAC_KEY_ID_ENV, "k1")],
            HMAC_KEY_ID_ENV,
            "without DATAPUNK_LOG_REDACT_HMAC_KEY",
        ),
        (
            &[(HMAC_KEY_ENV, "s3cr3t-not-hex"), (HMAC_KEY_ID_ENV, "k1")],
            HMAC_KEY_ENV,
            "not hex",
        ),
        (
            &[(HMAC_KEY_ENV, "base64:ABEi*"), (HMAC_KEY_ID_ENV, "k1")],
            HMAC_KEY_ENV,
            "not valid base64",
        ),
        (
            &[(HMAC_KEY_ENV, "00112233"), (HMAC_KEY_ID_ENV, "k1")],
            HMAC_KEY_ENV,
            "at least 16 bytes",
        ),
        (
            &[(HMAC_KEY_ENV, KEY_HEX), (HMAC_KEY_ID_ENV, "bad id")],
            HMAC_KEY_ID_ENV,
            "key id",
        ),
    ];
    for (vars, bad, part) in cases {
        for (k, v) in *vars {
            set(k, v);
        }
        let sink = MemorySink::new();
        match datapunk_log::builder().memory(&sink).init() {
            Err(e @ InitError::Env { .. }) => {
                let InitError::Env { variable, error } = &e else {
                    unreachable!()
                };
                assert_eq!(variable, bad, "{vars:?}");
                assert!(error.contains(part), "{vars:?}: {error}");
                assert!(
                    !error.contains("s3cr3t"),
                    "the error repeats the key: {error}"
                );
                assert!(e.to_string().starts_with(bad), "{e}");
            }
            Err(other) => panic!("{vars:?}: unexpected error {other}"),
            Ok(_) => panic!("{vars:?} was accepted"),
        }
        for (k, _) in *vars {
            unset(k);
        }
    }
    // Nothing was installed: logging is still discarded.
    datapunk_log::info!("before init");
    assert_eq!(datapunk_log::stats().written, 0);

    // Good values win over the builder: only cards and e-mail addresses,
    // hashed under the environment's key (base64 here).
    set(REDACT_ENV, "none, card ,email");
    set(HMAC_KEY_ENV, "base64:ABEiM0RVZneImaq7zN3u/w==");
    set(HMAC_KEY_ID_ENV, "env1");
    let sink = MemorySink::new();
    let _guard = datapunk_log::builder()
        .memory(&sink)
        .redact_hmac_key("builder", vec![9u8; 32])
        .init()
        .expect("init");
    datapunk_log::info!(
        target: "env",
        password = "kept",
        "card {}, mail {}, Bearer {}",
        "4111111111111111",
        "bob@example.com",
        "s3cr3tT0kenValue9"
    );
    datapunk_log::flush();
    let line = common::single(&sink, "env");
    assert_eq!(line.str("password"), "kept");
    assert_eq!(
        line.message(),
        "card hmac-sha256:env1:45103d002e2fef6276dd8ccc6fa55105, \
         mail hmac-sha256:env1:9460f883eb81fede13b1dc09be804a40, \
         Bearer s3cr3tT0kenValue9"
    );
    let by_rule = datapunk_log::stats().redacted_by_rule;
    assert_eq!(
        (by_rule.card, by_rule.email, by_rule.bearer, by_rule.key),
        (1, 1, 0, 0)
    );
}
