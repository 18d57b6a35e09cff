//! The OpenTelemetry resource: defaults, the precedence defaults <
//! environment < builder, `OTEL_RESOURCE_ATTRIBUTES` parsing (percent-decoding,
//! whitespace, invalid entries skipped and counted), `OTEL_SERVICE_NAME`, and
//! instance ids. The environment is given to `build_with` as a closure; the
//! one test of `build_from_env` runs itself again as a child process with the
//! variables set, so no test changes this process's environment.

use std::collections::HashSet;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use datapunk_log::resource::{
    AttrValue, DEPLOYMENT_ENVIRONMENT_NAME, RESOURCE_ATTRIBUTES_ENV, Resource, ResourceBuilder,
    SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_NAME_ENV, SERVICE_VERSION, generate_instance_id,
    invalid_env_entries, parse_resource_attributes,
};
use proptest::prelude::*;

/// `invalid_env_entries()` is process-wide: every test that may count an
/// invalid entry, or reads the counter, holds this lock.
static LOCK: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// An environment holding `OTEL_RESOURCE_ATTRIBUTES` = `attrs` and
/// `OTEL_SERVICE_NAME` = `name`, where given.
fn env<'a>(attrs: Option<&'a str>, name: Option<&'a str>) -> impl Fn(&str) -> Option<String> + 'a {
    move |var| match var {
        RESOURCE_ATTRIBUTES_ENV => attrs.map(str::to_owned),
        SERVICE_NAME_ENV => name.map(str::to_owned),
        _ => None,
    }
}

fn build(b: ResourceBuilder, attrs: Option<&str>, name: Option<&str>) -> Resource {
    b.build_with(env(attrs, name))
}

fn s(v: &str) -> AttrValue {
    AttrValue::Str(v.to_owned())
}

fn default_service_name() -> String {
    let exe = std::env::current_exe().unwrap();
    format!(
        "unknown_service:{}",
        exe.file_name().unwrap().to_string_lossy()
    )
}

/// `xxxxxxxx-xxxx-4xxx-Yxxx-xxxxxxxxxxxx`, lowercase hex, `Y` in `89ab`.
fn is_uuid_v4(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            14 => c == '4',
            19 => matches!(c, '8' | '9' | 'a' | 'b'),
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

/// Percent-encodes every byte but ASCII letters and digits.
fn encode_all(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn defaults_present_in_order() {
    let r = build(Resource::builder(), None, None);
    let keys: Vec<&str> = r.iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "service.name",
            "service.instance.id",
            "telemetry.sdk.name",
            "telemetry.sdk.language",
            "telemetry.sdk.version",
            "process.pid",
        ]
    );
    assert_eq!(r.len(), 6);
    assert!(!r.is_empty());
    assert_eq!(r.service_name(), default_service_name());
    assert_eq!(r.get(SERVICE_NAME), Some(&s(&default_service_name())));
    assert_eq!(r.get("telemetry.sdk.name"), Some(&s("datapunk-log")));
    assert_eq!(r.get("telemetry.sdk.language"), Some(&s("rust")));
    assert_eq!(
        r.get("telemetry.sdk.version"),
        Some(&s(env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(
        r.get("process.pid"),
        Some(&AttrValue::I64(i64::from(std::process::id())))
    );
    let id = r
        .get(SERVICE_INSTANCE_ID)
        .and_then(AttrValue::as_str)
        .unwrap();
    assert!(is_uuid_v4(id), "{id}");
    assert_eq!(r.get(SERVICE_VERSION), None);
    assert_eq!(r.get(DEPLOYMENT_ENVIRONMENT_NAME), None);

    // The default instance id is the process's: the same in every resource.
    let again = build(Resource::builder(), None, None);
    assert_eq!(again, r);
    // An empty environment reads as unset.
    assert_eq!(build(Resource::builder(), Some(""), Some("")), r);
    assert_eq!(build(Resource::builder(), Some(" , ,"), Some("  ")), r);
}

#[test]
fn precedence_table() {
    let _g = serial();
    let process_id = build(Resource::builder(), None, None)
        .get(SERVICE_INSTANCE_ID)
        .cloned();
    type Setter = fn(ResourceBuilder, &str) -> ResourceBuilder;
    let rows: [(&str, Setter, Option<AttrValue>); 5] = [
        (
            SERVICE_NAME,
            |b, v| b.service_name(v),
            Some(s(&default_service_name())),
        ),
        (SERVICE_VERSION, |b, v| b.service_version(v), None),
        (
            DEPLOYMENT_ENVIRONMENT_NAME,
            |b, v| b.deployment_environment(v),
            None,
        ),
        (
            SERVICE_INSTANCE_ID,
            |b, v| b.service_instance_id(v),
            process_id,
        ),
        ("team.name", |b, v| b.attribute("team.name", v), None),
    ];
    for (key, set, default) in rows {
        for (from_env, from_builder) in [(false, false), (true, false), (false, true), (true, true)]
        {
            let attrs = format!("unrelated=x,{key}=env-value");
            let attrs = from_env.then_some(attrs.as_str());
            let mut b = Resource::builder();
            if from_builder {
                b = set(b, "builder-value");
            }
            let r = build(b, attrs, None);
            let want = if from_builder {
                Some(s("builder-value"))
            } else if from_env {
                Some(s("env-value"))
            } else {
                default.clone()
            };
            assert_eq!(
                r.get(key),
                want.as_ref(),
                "key {key}, env {from_env}, builder {from_builder}"
            );
            // The other defaults stay whatever this row sets.
            assert_eq!(r.get("telemetry.sdk.name"), Some(&s("datapunk-log")));
            if key != SERVICE_NAME {
                assert_eq!(r.service_name(), default_service_name());
            }
        }
    }

    // Typed builder values win over the environment's strings, and the
    // environment may override any default, the SDK's own included.
    let r = build(
        Resource::builder().attribute("process.pid", 1i32),
        Some("process.pid=77,telemetry.sdk.language=c"),
        None,
    );
    assert_eq!(r.get("process.pid"), Some(&AttrValue::I64(1)));
    assert_eq!(r.get("telemetry.sdk.language"), Some(&s("c")));
}

#[test]
fn otel_service_name_wins_over_resource_attributes() {
    let attrs = Some("service.name=from-attrs,service.version=9");
    let r = build(Resource::builder(), attrs, Some("from-var"));
    assert_eq!(r.service_name(), "from-var");
    assert_eq!(r.get(SERVICE_NAME), Some(&s("from-var")));
    assert_eq!(r.get(SERVICE_VERSION), Some(&s("9")));

    // Alone, each sets the name; OTEL_SERVICE_NAME is trimmed, never decoded.
    assert_eq!(
        build(Resource::builder(), attrs, None).service_name(),
        "from-attrs"
    );
    assert_eq!(
        build(Resource::builder(), None, Some("  a%20b  ")).service_name(),
        "a%20b"
    );
    // Empty counts as unset: the attributes' name stays.
    assert_eq!(
        build(Resource::builder(), attrs, Some(" ")).service_name(),
        "from-attrs"
    );
    // The builder wins over both.
    let r = build(
        Resource::builder().service_name("code"),
        attrs,
        Some("from-var"),
    );
    assert_eq!(r.service_name(), "code");
    // The name keeps its place, first, whoever set it.
    assert_eq!(r.iter().next(), Some((SERVICE_NAME, &s("code"))));
}

#[test]
fn service_name_always_a_non_empty_string() {
    let r = build(
        Resource::builder().service_name(""),
        Some("service.name="),
        None,
    );
    assert_eq!(r.service_name(), default_service_name());
    let r = build(
        Resource::builder().service_name(""),
        Some("service.name=env"),
        None,
    );
    assert_eq!(r.service_name(), "env");
    let r = build(Resource::builder().attribute(SERVICE_NAME, 7), None, None);
    assert_eq!(r.get(SERVICE_NAME), Some(&s("7")));
    assert_eq!(r.service_name(), "7");
    let r = build(
        Resource::builder().attribute(SERVICE_NAME, false),
        None,
        None,
    );
    assert_eq!(r.service_name(), "false");
}

#[test]
fn percent_decoding() {
    let _g = serial();
    let before = invalid_env_entries();
    let r = build(
        Resource::builder(),
        Some(concat!(
            "a=b%20c,",
            "list=x%2Cy%2cz,",
            "eq=k%3Dv,",
            "pct=100%25,",
            "city=K%C3%B8benhavn,",
            "lower=caf%c3%a9,",
            "crab=%F0%9F%A6%80,",
            "euro=%E2%82%AC5,",
            "my%2Ckey%3D=1,",
            "plus=a+b,",
            "raw=ünïcode and spaces,",
            "literal=b=c"
        )),
        None,
    );
    assert_eq!(invalid_env_entries(), before);
    let want = [
        ("a", "b c"),
        ("list", "x,y,z"),
        ("eq", "k=v"),
        ("pct", "100%"),
        ("city", "København"),
        ("lower", "café"),
        ("crab", "🦀"),
        ("euro", "€5"),
        ("my,key=", "1"),
        ("plus", "a+b"),
        ("raw", "ünïcode and spaces"),
        ("literal", "b=c"),
    ];
    for (k, v) in want {
        assert_eq!(r.get(k), Some(&s(v)), "{k}");
    }
    // The environment's keys follow the defaults, in their order.
    let keys: Vec<&str> = r.iter().skip(6).map(|(k, _)| k).collect();
    assert_eq!(keys, want.map(|(k, _)| k));
}

#[test]
fn whitespace_trimmed_and_values_are_strings() {
    let r = build(
        Resource::builder(),
        Some("  a =  b c  ,\tn=42 , flag = true,f=1.5,empty=, sp=%20x%20"),
        None,
    );
    assert_eq!(r.get("a"), Some(&s("b c")));
    assert_eq!(r.get("n"), Some(&s("42")));
    assert_eq!(r.get("flag"), Some(&s("true")));
    assert_eq!(r.get("f"), Some(&s("1.5")));
    assert_eq!(r.get("empty"), Some(&s("")));
    // Encoded spaces are data, not padding.
    assert_eq!(r.get("sp"), Some(&s(" x ")));
}

#[test]
fn repeated_keys_last_wins_in_place() {
    let r = build(Resource::builder(), Some("k=1,other=o,k=2"), None);
    assert_eq!(r.get("k"), Some(&s("2")));
    let keys: Vec<&str> = r.iter().skip(6).map(|(k, _)| k).collect();
    assert_eq!(keys, ["k", "other"]);

    let r = build(
        Resource::builder()
            .attribute("k", 1)
            .attribute("b", true)
            .attribute("k", 2.5)
            .attribute("", "ignored"),
        Some("k=env"),
        None,
    );
    assert_eq!(r.get("k"), Some(&AttrValue::F64(2.5)));
    assert_eq!(r.get("b"), Some(&AttrValue::Bool(true)));
    assert_eq!(r.get(""), None);
    let keys: Vec<&str> = r.iter().skip(6).map(|(k, _)| k).collect();
    assert_eq!(keys, ["k", "b"]);
}

#[test]
fn malformed_entries_skipped_and_counted() {
    let _g = serial();
    let value = concat!(
        "good=1,",
        "noequals,",
        "=novalue-key,",
        " = x,",
        "bad=%zz,",
        "short=%4,",
        "end=abc%,",
        "notutf8=%FF,",
        "halfchar=%C3,",
        "k%=v,",
        "k%G1=v,",
        "also=ok,",
        ",,  ,"
    );
    let (pairs, invalid) = parse_resource_attributes(value);
    assert_eq!(invalid, 10);
    assert_eq!(
        pairs,
        [
            ("good".to_string(), "1".to_string()),
            ("also".to_string(), "ok".to_string())
        ]
    );

    let before = invalid_env_entries();
    let r = build(Resource::builder(), Some(value), Some("svc"));
    assert_eq!(invalid_env_entries() - before, 10);
    assert_eq!(r.get("good"), Some(&s("1")));
    assert_eq!(r.get("also"), Some(&s("ok")));
    assert_eq!(r.service_name(), "svc");
    assert_eq!(r.len(), 6 + 2);
    assert!(r.iter().all(|(k, _)| !k.is_empty()));

    // parse_resource_attributes counts nothing itself.
    let before = invalid_env_entries();
    let _ = parse_resource_attributes(value);
    assert_eq!(invalid_env_entries(), before);
}

#[test]
fn attr_value_conversions() {
    assert_eq!(AttrValue::from("x"), s("x"));
    assert_eq!(AttrValue::from(String::from("x")), s("x"));
    assert_eq!(AttrValue::from(true), AttrValue::Bool(true));
    assert_eq!(AttrValue::from(-3i8), AttrValue::I64(-3));
    assert_eq!(
        AttrValue::from(u32::MAX),
        AttrValue::I64(i64::from(u32::MAX))
    );
    assert_eq!(AttrValue::from(i64::MIN), AttrValue::I64(i64::MIN));
    assert_eq!(AttrValue::from(0.5f32), AttrValue::F64(0.5));
    assert_eq!(s("x").as_str(), Some("x"));
    assert_eq!(AttrValue::I64(4).as_i64(), Some(4));
    assert_eq!(AttrValue::Bool(true).as_bool(), Some(true));
    assert_eq!(AttrValue::F64(1.5).as_f64(), Some(1.5));
    assert_eq!(AttrValue::F64(1.5).as_str(), None);
    assert_eq!(AttrValue::F64(1.5).to_string(), "1.5");
    assert_eq!(AttrValue::I64(-2).to_string(), "-2");
}

#[test]
fn instance_ids_distinct_and_well_formed() {
    let mut seen = HashSet::new();
    for _ in 0..10_000 {
        let id = generate_instance_id();
        assert!(is_uuid_v4(&id), "{id}");
        assert!(seen.insert(id), "duplicate id");
    }
    let default = build(Resource::builder(), None, None);
    let default_id = default
        .get(SERVICE_INSTANCE_ID)
        .and_then(AttrValue::as_str)
        .unwrap();
    assert!(!seen.contains(default_id));

    // Ids from other threads are distinct too.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                (0..1000)
                    .map(|_| generate_instance_id())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        for id in t.join().unwrap() {
            assert!(seen.insert(id), "duplicate id across threads");
        }
    }
}

const CHILD: &str = "DATAPUNK_RESOURCE_TEST_CHILD";

/// Runs this test binary again, only `test`, with the environment changed by
/// `setup`; asserts the child ran that one test and it passed.
fn run_child(test: &str, mode: &str, setup: impl FnOnce(&mut Command)) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--test-threads=1", "--nocapture"])
        .env(CHILD, mode)
        .env_remove(RESOURCE_ATTRIBUTES_ENV)
        .env_remove(SERVICE_NAME_ENV);
    setup(&mut cmd);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {mode} failed:\n{stdout}\n{stderr}"
    );
}

/// `build_from_env` with the real variables, set in a child process.
#[test]
fn build_from_env_reads_process_environment() {
    match std::env::var(CHILD).as_deref() {
        Err(_) => {
            let name = "build_from_env_reads_process_environment";
            run_child(name, "set", |c| {
                c.env(
                    RESOURCE_ATTRIBUTES_ENV,
                    " service.name=from-attrs,service.version=2.0,bad,team=a%20b",
                )
                .env(SERVICE_NAME_ENV, "from-var");
            });
            run_child(name, "unset", |_| {});
            #[cfg(unix)]
            run_child(name, "not-unicode", |c| {
                use std::os::unix::ffi::OsStrExt;
                c.env(
                    RESOURCE_ATTRIBUTES_ENV,
                    std::ffi::OsStr::from_bytes(b"a=1,b=\xFF"),
                );
            });
        }
        Ok("set") => {
            let r = Resource::from_env();
            assert_eq!(r.service_name(), "from-var");
            assert_eq!(r.get(SERVICE_VERSION), Some(&s("2.0")));
            assert_eq!(r.get("team"), Some(&s("a b")));
            assert_eq!(invalid_env_entries(), 1);
            let r = Resource::builder().service_version("3").build_from_env();
            assert_eq!(r.get(SERVICE_VERSION), Some(&s("3")));
            assert_eq!(r.service_name(), "from-var");
        }
        Ok("unset") => {
            let r = Resource::from_env();
            assert_eq!(r, build(Resource::builder(), None, None));
            assert_eq!(invalid_env_entries(), 0);
        }
        Ok("not-unicode") => {
            // Not valid Unicode: ignored whole, counted once.
            let r = Resource::from_env();
            assert_eq!(r.get("a"), None);
            assert_eq!(r.service_name(), default_service_name());
            assert_eq!(invalid_env_entries(), 1);
        }
        Ok(other) => panic!("unknown mode {other}"),
    }
}

fn attributes_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9 %=,\t.é€]{0,64}",
        prop::collection::vec("[ a-z]{0,3}(=[ a-z%0-9A-Fa-f]{0,6})?", 0..12)
            .prop_map(|v| v.join(",")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn build_with_never_panics(value in attributes_text(), name in proptest::option::of(any::<String>())) {
        let _g = serial();
        let before = invalid_env_entries();
        let r = build(Resource::builder(), Some(&value), name.as_deref());
        let (pairs, invalid) = parse_resource_attributes(&value);
        prop_assert_eq!(invalid_env_entries() - before, invalid as u64);
        prop_assert!(pairs.len() + invalid <= value.split(',').count());
        prop_assert!(r.iter().all(|(k, _)| !k.is_empty()));
        prop_assert!(!r.service_name().is_empty());
        let keys: HashSet<&str> = r.iter().map(|(k, _)| k).collect();
        prop_assert_eq!(keys.len(), r.len());
        for (k, _) in &pairs {
            prop_assert!(!k.is_empty());
            if k != SERVICE_NAME {
                // The last entry for a key is the one kept.
                let last = pairs.iter().rev().find(|(k2, _)| k2 == k).unwrap();
                prop_assert_eq!(r.get(k), Some(&s(&last.1)));
            }
        }
        // OTEL_SERVICE_NAME, else the last non-empty service.name, else the default.
        let want = name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .or_else(|| {
                pairs
                    .iter()
                    .rev()
                    .find(|(k, v)| k == SERVICE_NAME && !v.is_empty())
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_else(default_service_name);
        prop_assert_eq!(r.service_name(), want);
    }

    #[test]
    fn encoded_pairs_round_trip(pairs in prop::collection::vec(("\\PC{1,8}", "\\PC{0,8}"), 0..8)) {
        let text: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode_all(k), encode_all(v)))
            .collect();
        let (parsed, invalid) = parse_resource_attributes(&text.join(" , "));
        prop_assert_eq!(invalid, 0);
        prop_assert_eq!(parsed, pairs);
    }
}
