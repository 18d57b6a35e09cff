//! Unit tests: the YAML layer (core schema, limits), and no panic on any
//! input.

use super::yaml::{self, CoreTag, Value};
use super::{ErrorKind, OtelFile};
use proptest::prelude::*;

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn core_schema_resolution() {
    use Value::*;
    let cases = [
        ("", Null),
        ("~", Null),
        ("NULL", Null),
        ("true", Bool(true)),
        ("False", Bool(false)),
        ("yes", Str("yes".into())), // YAML 1.1 booleans are strings in 1.2
        ("on", Str("on".into())),
        ("42", Int(42)),
        ("-7", Int(-7)),
        ("+3", Int(3)),
        ("0o17", Int(15)),
        ("0x1F", Int(31)),
        ("0xdeadbeef", Int(3_735_928_559)),
        ("0640", Int(640)), // decimal in 1.2
        ("1.5", Float(1.5)),
        (".5", Float(0.5)),
        ("1e3", Float(1000.0)),
        ("1.", Float(1.0)),
        ("1.0.0", Str("1.0.0".into())),
        ("99999999999999999999", Float(1e20)),
        ("0x", Str("0x".into())),
        ("-", Str("-".into())),
        (".", Str(".".into())),
        ("1e", Str("1e".into())),
        ("http://x", Str("http://x".into())),
    ];
    for (text, want) in cases {
        assert_eq!(yaml::resolve_plain(text), want, "{text:?}");
    }
    assert_eq!(yaml::resolve_plain(".inf"), Float(f64::INFINITY));
    assert!(matches!(yaml::resolve_plain(".nan"), Float(f) if f.is_nan()));
    assert_eq!(yaml::resolve("1", false, None), Ok(Str("1".into())));
    assert_eq!(
        yaml::resolve("1", true, Some(CoreTag::Str)),
        Ok(Str("1".into()))
    );
    assert_eq!(
        yaml::resolve("1", true, Some(CoreTag::Float)),
        Ok(Float(1.0))
    );
    assert!(yaml::resolve("x", true, Some(CoreTag::Int)).is_err());
}

#[test]
fn tags_and_positions() {
    let (f, _) = OtelFile::from_str(
        "file_format: !!str 1.1\nresource: { attributes: [ { name: n, value: !!str 12, type: string } ] }\n",
        "t.yaml",
        no_env,
    )
    .unwrap();
    assert_eq!(f.file_format.minor, 1);
    let e = OtelFile::from_str("file_format: !custom 1.1\n", "t.yaml", no_env).unwrap_err();
    assert_eq!(
        (e.kind, e.line(), e.column()),
        (ErrorKind::Syntax, Some(1), Some(14))
    );
}

#[test]
fn nesting_and_alias_budgets() {
    let deep = format!(
        "file_format: \"1.1\"\nx: {}{}\n",
        "[".repeat(200),
        "]".repeat(200)
    );
    let e = OtelFile::from_str(&deep, "t.yaml", no_env).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert!(e.message.contains("nesting deeper"), "{e}");

    // A "billion laughs": each level doubles the last.
    let mut bomb = String::from("file_format: \"1.1\"\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..30 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
            p = i - 1
        ));
    }
    let e = OtelFile::from_str(&bomb, "t.yaml", no_env).unwrap_err();
    assert!(e.message.contains("more than"), "{e}");

    let e = OtelFile::from_str(
        "file_format: \"1.1\"\n---\nfile_format: \"1.1\"\n",
        "t.yaml",
        no_env,
    )
    .unwrap_err();
    assert!(e.message.contains("more than one YAML document"), "{e}");
}

#[test]
fn severity_names_and_levels() {
    use super::Severity;
    use crate::level::Level;
    assert_eq!(Severity::from_name("trace"), Some(Severity(1)));
    assert_eq!(Severity::from_name("info2"), Some(Severity(10)));
    assert_eq!(Severity::from_name("fatal4"), Some(Severity(24)));
    assert_eq!(Severity::from_name("info5"), None);
    assert_eq!(Severity::from_name("INFO"), None);
    assert_eq!(Severity(9).minimum_level(), Level::Info);
    assert_eq!(Severity(10).minimum_level(), Level::Warn);
    assert_eq!(Severity(24).minimum_level(), Level::Fatal);
}

/// Fragments that make a random document reach the decoders, not only the
/// YAML parser.
const PIECES: &[&str] = &[
    "file_format: \"1.1\"\n",
    "file_format: 1.0-rc.1\n",
    "tracer_provider:\n",
    "logger_provider:\n",
    "  processors:\n",
    "    - batch:\n",
    "    - simple:\n",
    "        exporter:\n",
    "          otlp_grpc:\n",
    "          otlp_http: { endpoint: ${E:-x}, timeout: 5 }\n",
    "  sampler:\n",
    "    parent_based: { root: { trace_id_ratio_based: { ratio: 0.5 } } }\n",
    "    composite/development: { rule_based: { rules: [ { sampler: { always_on: } } ] } }\n",
    "resource: { attributes: [ { name: a, value: [1, 2], type: int_array } ] }\n",
    "distribution: { datapunk_log: { ring: { capacity: 1MiB }, sinks: [ { file: { path: x } } ] } }\n",
    "  - ",
    "    ",
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "${",
    "$$",
    "\"",
    "'",
    "|\n",
    "\n",
    "#",
    "!!str ",
    "null",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any text: a model or an error, never a panic; an error always has
    /// a message.
    #[test]
    fn never_panics_on_yamlish_input(parts in prop::collection::vec(
        prop_oneof![
            prop::sample::select(PIECES).prop_map(str::to_owned),
            "[a-z_/:{}\\[\\]$ .0-9\"'-]{0,12}",
        ],
        0..40,
    )) {
        let text: String = parts.concat();
        let env = |n: &str| (n == "E").then(|| "http://c".to_owned());
        match OtelFile::from_str(&text, "p.yaml", env) {
            Ok((f, _)) => prop_assert_eq!(f.file_format.major, 1),
            Err(e) => prop_assert!(!e.message.is_empty() || e.kind == ErrorKind::Syntax),
        }
    }

    #[test]
    fn never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = OtelFile::from_str(&text, "p.yaml", no_env);
    }
}
